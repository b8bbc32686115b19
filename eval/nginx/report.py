#!/usr/bin/env python3
"""The nginx benchmark's report (eval/nginx/README.md).

    report.py RUN_DIR [--builds NAME=PLAIN:DYCK]...

RUN_DIR is what workload.sh wrote in the guest (one CONF-MODE directory per
server configuration and mode, site/ with the files served) and bench.sh's
bench.env. Checks, per configuration and mode:

* the server ran and ended with status 0 (plain) or plain's status (sandboxed);
* no false positive: a sandboxed run whose runner reports a kill or a violation,
  whose module still held violation records, or whose status differs from plain's;
* every response: each file fetched by curl is the site's file byte for byte with
  `200`, the missing file is `404`, the HEAD is `200`; each ab run completed all
  its requests with no failed and no non-2xx response and transferred exactly
  N times the file's size (and, with -k, N keep-alive requests); nginx's access
  log has one `200` line per request made (the server served every one);
* the cost: the serving process's own CPU nanoseconds over the load (its
  /proc/PID/schedstat before and after; instructions under `sbx vm --icount`),
  per request; the markers its threads made over the load, per request.

--builds NAME=PLAIN:DYCK adds a program's plain and dyck-cc executables to the
code-size table (`.text` of `size -A`); a missing file is reported as not built.

Prints the report's findings, `code-size: ...` and last the summary line
`nginx: requests=R false_positives=F bad_responses=B dyck_vs_plain=X.XXx
nfa_vs_plain=Y.YYx ...`, and writes RUN_DIR/report.md and RUN_DIR/report.json.
Exit status 0 when the report was written (the verdict is in the summary line).
"""
import json
import os
import re
import subprocess
import sys

FILES = ["index.html", "style.css", "page.html", "data.bin"]
KINDS = ["ka", "close"]
MODES = ["plain", "native", "nfa", "dyck"]


def read(path, default=None):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return default


def text(path, default=None):
    data = read(path)
    return default if data is None else data.decode("utf-8", "replace")


def load_env(run):
    env = {}
    for line in (text(os.path.join(run, "bench.env"), "") or "").splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            env[k] = v
    return env


def parse_ab(out):
    """ab's figures from its output; None for a figure it did not print."""
    def num(label, cast=int):
        m = re.search(r"^" + re.escape(label) + r":\s+([0-9.]+)", out, re.M)
        return cast(m.group(1)) if m else None
    return {
        "complete": num("Complete requests"),
        "failed": num("Failed requests"),
        # ab prints this line only when some response was not 2xx.
        "non2xx": num("Non-2xx responses") or 0,
        "keepalive": num("Keep-Alive requests") or 0,
        "html": num("HTML transferred"),
        "seconds": num("Time taken for tests", float),
    }


def status_line(head):
    if head is None:
        return None
    first = head.split("\r\n", 1)[0].split("\n", 1)[0]
    return first.strip()


def check_run(run, conf, mode, n, site, plain_status):
    """One configuration in one mode: (facts, problems, false_positive_reasons)."""
    d = os.path.join(run, f"{conf}-{mode}")
    problems, fp = [], []
    facts = {"conf": conf, "mode": mode, "ran": os.path.isdir(d)}
    status = text(os.path.join(d, "server.status"))
    if status is None:
        problems.append("did not run (no server.status)")
        facts["ran"] = False
        return facts, problems, fp
    status = status.strip()
    facts["status"] = status
    sandboxed = mode in ("nfa", "dyck")
    want = (plain_status or "0") if sandboxed else "0"
    if status != want:
        (fp if sandboxed else problems).append(f"server status {status}, expected {want}")
    if sandboxed:
        records = text(os.path.join(d, "server.records"))
        if records:
            fp.append("violation records left in the module: " + records.strip().splitlines()[0])
        rep = text(os.path.join(d, "server.json"))
        if rep is None:
            fp.append("no runner report (server.json)")
        else:
            try:
                j = json.loads(rep)
            except ValueError:
                j = None
                fp.append("runner report is not JSON")
            if j is not None:
                if j.get("killed_by_monitor"):
                    fp.append("killed by the monitor")
                if j.get("violations"):
                    v = j["violations"][0]
                    fp.append(f"{len(j['violations'])} violation(s), first: {v.get('reason')} {v.get('event', {}).get('name')}")
                facts["runner_cpu_ns"] = 1000 * (j.get("utime_us", 0) + j.get("stime_us", 0))
    # The responses fetched with curl.
    for f in FILES:
        head = text(os.path.join(d, f"get-{f}.head"))
        body = read(os.path.join(d, f"get-{f}.body"))
        want_body = read(os.path.join(site, f))
        sl = status_line(head)
        if sl is None or not re.match(r"HTTP/1\.[01] 200\b", sl):
            problems.append(f"GET /{f}: status {sl!r}, expected 200")
        if want_body is None:
            problems.append(f"site file {f} missing")
        elif body != want_body:
            problems.append(f"GET /{f}: body differs from the file ({len(body or b'')} bytes, file {len(want_body)})")
    sl = status_line(text(os.path.join(d, "get-missing.head")))
    if sl is None or not re.match(r"HTTP/1\.[01] 404\b", sl):
        problems.append(f"GET /no-such-file: status {sl!r}, expected 404")
    head = text(os.path.join(d, "get-head.head"))
    sl = status_line(head)
    if sl is None or not re.match(r"HTTP/1\.[01] 200\b", sl):
        problems.append(f"HEAD /index.html: status {sl!r}, expected 200")
    elif not re.search(r"^Content-Length: 1024\r?$", head, re.M | re.I):
        problems.append("HEAD /index.html: no Content-Length: 1024")
    # The load.
    total, seconds = 0, 0.0
    for f in FILES:
        size = len(read(os.path.join(site, f), b""))
        for k in KINDS:
            out = text(os.path.join(d, f"ab-{f}-{k}.txt"))
            name = f"ab {'-k ' if k == 'ka' else ''}/{f}"
            if out is None:
                problems.append(f"{name}: no output")
                continue
            ab = parse_ab(out)
            if ab["complete"] != n:
                problems.append(f"{name}: {ab['complete']} complete requests, expected {n}")
            if ab["failed"] != 0:
                problems.append(f"{name}: {ab['failed']} failed requests")
            if ab["non2xx"]:
                problems.append(f"{name}: {ab['non2xx']} non-2xx responses")
            if ab["html"] != n * size:
                problems.append(f"{name}: {ab['html']} body bytes, expected {n * size}")
            if k == "ka" and ab["keepalive"] != n:
                problems.append(f"{name}: {ab['keepalive']} keep-alive requests, expected {n}")
            total += ab["complete"] or 0
            seconds += ab["seconds"] or 0.0
    facts["requests"] = total
    facts["ab_seconds"] = seconds
    # nginx's access log: one line per request served; 200 for all but the 404.
    log = text(os.path.join(d, "access.log"))
    if log is None:
        problems.append("no access log")
    else:
        ok = sum(1 for line in log.splitlines() if re.search(r'" 200 ', line))
        want_ok = total + len(FILES) + 1
        facts["access_200"] = ok
        if ok != want_ok:
            problems.append(f"access log: {ok} requests answered 200, expected {want_ok}")
    # The cost over the load.
    try:
        before = int(text(os.path.join(d, "sched.before")).split()[0])
        after = int(text(os.path.join(d, "sched.after")).split()[0])
        facts["load_cpu_ns"] = after - before
        if total:
            facts["cpu_per_request"] = (after - before) / total
    except (AttributeError, ValueError, IndexError):
        problems.append("no schedstat of the serving process")
    if sandboxed:
        try:
            mb = int(text(os.path.join(d, "markers.before")).split()[0])
            ma = int(text(os.path.join(d, "markers.after")).split()[0])
            facts["markers"] = ma - mb
            if total:
                facts["markers_per_request"] = (ma - mb) / total
        except (AttributeError, ValueError, IndexError):
            problems.append("no marker counters of the serving process")
    if seconds:
        facts["requests_per_second"] = total / seconds
    return facts, problems, fp


def text_size(path):
    """The .text section's size in bytes (`size -A`), None when not built."""
    if not os.path.isfile(path):
        return None
    out = subprocess.run(["size", "-A", path], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == ".text":
            return int(parts[1])
    return None


def main(argv):
    args = argv[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    run = args[0]
    builds = []
    i = 1
    while i < len(args):
        if args[i] == "--builds" and i + 1 < len(args):
            name, paths = args[i + 1].split("=", 1)
            plain, dyck = paths.split(":", 1)
            builds.append((name, plain, dyck))
            i += 2
        else:
            print(f"report.py: unknown argument {args[i]}", file=sys.stderr)
            return 2
    env = load_env(run)
    icount = env.get("icount") == "1"
    n = int(env.get("requests_per_ab", "0"))
    confs = env.get("confs", "single master").split()
    modes = [m for m in MODES if m in env.get("modes", " ".join(MODES)).split()]
    site = os.path.join(run, "site")

    results, fps, bad, lines = {}, 0, 0, []
    for conf in confs:
        plain_status = (text(os.path.join(run, f"{conf}-plain", "server.status")) or "").strip() or None
        for mode in modes:
            facts, problems, fp = check_run(run, conf, mode, n, site, plain_status)
            results[(conf, mode)] = facts
            facts["problems"], facts["false_positive"] = problems, fp
            if fp:
                fps += 1
                lines.append(f"FALSE POSITIVE {conf}-{mode}: " + "; ".join(fp))
            if problems:
                bad += 1
                kind = "NOT RUN" if not facts["ran"] else "BAD RESPONSE"
                lines.append(f"{kind} {conf}-{mode}: " + "; ".join(problems[:5])
                             + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""))
    requests = sum(f.get("requests", 0) for f in results.values())

    def ratio(conf, mode, key="cpu_per_request"):
        p, s = results.get((conf, "plain"), {}).get(key), results.get((conf, mode), {}).get(key)
        return s / p if p and s is not None else None

    unit = "instructions" if icount else "CPU ns"
    md = ["# nginx under the sandbox", ""]
    md.append(f"Level {env.get('level', '?')}, commit `{env.get('commit', '?')}`, {env.get('date', '?')}; "
              f"{n} requests per ab run (4 files × keep-alive and not), "
              f"{'`sbx vm --icount`: costs are instructions' if icount else 'real time: costs are CPU ns'}.")
    md += ["", "<!-- table begin -->", "## Per request (the serving process's own CPU over the load)", "",
           f"| configuration | mode | requests | {unit} per request | vs plain | markers per request | requests/s (ab) | verdict |",
           "|---|---|---|---|---|---|---|---|"]
    for conf in confs:
        for mode in modes:
            f = results[(conf, mode)]
            cpr = f.get("cpu_per_request")
            r = ratio(conf, mode)
            mpr = f.get("markers_per_request")
            rps = f.get("requests_per_second")
            verdict = "false positive" if f["false_positive"] else ("bad responses" if f["problems"] else "ok")
            md.append(f"| {conf} | {mode} | {f.get('requests', 0)} | "
                      f"{'' if cpr is None else f'{cpr:,.0f}'} | {'' if r is None else f'{r:.2f}×'} | "
                      f"{'' if mpr is None else f'{mpr:.1f}'} | {'' if rps is None else f'{rps:.1f}'} | {verdict} |")
    md += ["", "`single`: `master_process off` (one process accepts and serves); `master`: a master and one "
           "worker (the worker serves; the sandbox follows the fork). Requests per second are ab's, in the "
           "guest's clock (under `--icount` it advances with the instructions of every process, ab's included)."]
    sizes = []
    for name, plain, dyck in builds:
        p, d = text_size(plain), text_size(dyck)
        sizes.append((name, p, d))
    md += ["", "## Code size (`.text` of `size -A`, whole executable)", "",
           "| program | plain (clang-19) | dyck-cc | dyck / plain |", "|---|---|---|---|"]
    size_words = []
    for name, p, d in sizes:
        if p is None or d is None:
            md.append(f"| {name} | {p if p is not None else 'not built'} | {d if d is not None else 'not built'} | |")
            continue
        md.append(f"| {name} | {p:,} | {d:,} | {d / p:.2f}× |")
        size_words.append(f"{name}={p}->{d}({d / p:.2f}x)")
    if lines:
        md += ["", "## Findings", ""] + [f"- {line}" for line in lines]
    with open(os.path.join(run, "report.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    with open(os.path.join(run, "report.json"), "w") as f:
        json.dump({"runs": [dict(v) for v in results.values()],
                   "code_size": [{"program": n_, "plain_text": p, "dyck_text": d} for n_, p, d in sizes]},
                  f, indent=1)
    for line in lines:
        print(line)
    print("code-size: " + (" ".join(size_words) if size_words else "none built"))
    kind = "instr" if icount else "cpu"
    words = [f"nginx: requests={requests}", f"false_positives={fps}", f"bad_responses={bad}"]
    first = confs[0] if confs else "single"
    for mode in ("dyck", "nfa"):
        r = ratio(first, mode)
        words.append(f"{mode}_vs_plain={'NA' if r is None else f'{r:.2f}x'}")
    if "native" in modes:
        r = ratio(first, "native")
        words.append(f"native_vs_plain={'NA' if r is None else f'{r:.2f}x'}")
    for conf in confs[1:]:
        for mode in ("dyck", "nfa"):
            r = ratio(conf, mode)
            words.append(f"{conf}_{mode}_vs_plain={'NA' if r is None else f'{r:.2f}x'}")
    p = results.get((first, "plain"), {}).get("cpu_per_request")
    if p:
        words.append(f"{kind}_per_request_plain={p:.0f}")
    m = results.get((first, "dyck"), {}).get("markers_per_request")
    if m is not None:
        words.append(f"markers_per_request_dyck={m:.1f}")
    print(" ".join(words))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
