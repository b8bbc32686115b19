#!/usr/bin/env python3
"""Evaluate the mbed TLS runs of workload.sh (bench.sh calls this).

    report.py MBEDTLS_DIR OUT

Reads OUT/MODE/NAME.{out,status,time,prog,json} for the modes plain, nfa, dyck (and
inst when present), MBEDTLS_DIR/analysis.tsv (fetch-build.sh) and OUT/bench.env;
writes OUT/report.md (Markdown, one row per program), OUT/report.json and
OUT/false-positives.txt, and prints the summary line last:

    mbedtls: programs=N runs=R false_positives=F overhead_dyck=X.XX% overhead_nfa=Y.YY% abf_nfa=A abf_dyck=B

Definitions (also written into the report):
- A *run* is one workload item (a program with its arguments and inputs); each run
  is executed once per mode. programs = programs with at least one run; runs =
  runs of programs (test suites are counted separately).
- A *false positive* is a (run, sandboxed mode) pair with any of: the runner's
  report says killed, or lists a violation record; a violation record read from the
  module after the run's unit; an exit status other than the plain run's; an output
  (stdout+stderr) that differs from the plain run's after `normalize` below.
- Cost of a run: the CPU time (user + system) of the program and of the children it
  waited for, from wait4. With icount=1 in bench.env (the default) the guest ran
  under QEMU's instruction counting (`sbx vm --icount`): its clocks advance 1 ns per
  guest instruction, so a CPU time counts the instructions the program made the
  CPU execute, in user space and in the kernel, whatever the host's load. For sandboxed runs the runner's report gives the
  program's own rusage when it has one (utime_us, stime_us), so that the runner's
  start-up is not counted; otherwise mbt-time's figure for the whole command.
  CPU time, not wall time: servers and DTLS peers spend most of their wall time
  waiting, which says nothing about the sandbox.
- Overhead of a program in a mode: ratio = (sum of its runs' cost in the mode) /
  (sum in plain). For `benchmark`, its own throughput figures instead: per
  algorithm plain/sandboxed throughput, then the geometric mean. The summary's
  overhead is geomean(ratios over programs) - 1: the geometric mean of the ratios
  (always > 0) minus one, not a geometric mean of (ratio - 1), which is undefined
  for values <= 0.
- ABF: run-based (`sbx stats --trace`, specs/checking.md) over the host recordings
  of the program's runs (bench.sh, record-check.sh): at every position of every
  recorded run, the number of distinct libc calls each mode's monitor accepts next;
  the mean over programs. The static `sbx stats` figures are in the table too; they
  average over different position sets in the two modes and are not comparable.
  Without recordings (MBT_RUN_ABF=0) the summary falls back to the static figures.
  The floor is the same measure for a monitor that allows exactly the recorded runs
  (1 at a position after which the thread made another libc call, else 0): no
  monitor that accepts the runs goes below it.
- Markers: the module's counter of checked markers over the run (the runner's
  report). The counter is global, so the markers of a run that overlapped another
  sandboxed run of its unit (a server and the clients run while it listens:
  workload.sh's NAME.peers) include its peers' markers; the table shows them as an
  upper bound (<=), and the cost per marker leaves those runs out.
- Cost per marker: over the runs that ran alone (benchmark and random searches
  aside), the CPU time a mode adds to plain, divided by the markers of the dyck runs.
- A recorded run that `sbx check --trace` refuses counts as a false positive.
- When the level runs mode inst (the dyck-cc executable without a sandbox), it is the
  control: a status or output difference from plain (no kill, no record) that the
  inst run reproduces exactly is listed separately, not counted. The reduced level
  has no inst mode, so there every difference counts.
"""
import dataclasses
import json
import math
import os
import re
import sys

MODES = ["nfa", "dyck"]

# Programs whose work is a search over random numbers drawn at run time, so that
# two identical runs differ by up to a factor of several (which prime is found when):
# their time ratios measure luck, not the sandbox. They stay in the summary's
# geometric mean (the definition); the report gives the mean without them too.
RANDOM_WORK = {
    "pkey/dh_genprime": "searches for a random safe prime",
    "pkey/rsa_genkey": "searches for two random primes",
    "pkey/gen_key": "searches for random primes in its RSA run",
}


# The runs that overlapped another run of their unit, for run directories written
# before workload.sh recorded NAME.peers (no OUT/peers-recorded): its units with a
# server (start ... stop) at that time were these servers and the runs made while
# one listened. The query_config runs, ssl_context_info and ssl_mail_client (whose
# SMTP server is Python, never sandboxed) ran alone.
LEGACY_SHARED = re.compile(
    r"^(dh_client|dh_server|udp_proxy|mini_client|cert_app-ssl|dtls_client|dtls_server|ssl_server"
    r"|ssl_fork_server|ssl_pthread_server|ssl_client1(-.+)?|ssl_(client|server)2(-(?!query_config$).+)?)$")


def peers_of(out, name, recorded):
    """The runs that a run of NAME overlapped (its markers include theirs)."""
    if recorded:
        text = read(os.path.join(out, "dyck", name + ".peers"), "") or ""
        return text.split()
    return ["(a run of a unit with a server)"] if LEGACY_SHARED.match(name) else []


def read(path, default=None):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return default


# What legitimately differs between two correct runs of the same program, replaced
# by a placeholder before outputs are compared. Every rule names why; none of them
# can hide a kill, a status or a missing line (they rewrite within a line).
RULES = [
    # mbed TLS's debug hex dumps (debug_level >= 3) of records and keys: random
    # bytes and their ASCII column. The number of dump lines is still compared.
    (r"^(.*\|\d\| \S+: [0-9a-f]{4}:  ).*$", r"\1HEXDUMP", "debug hex dumps"),
    # Lines that are nothing but hex bytes: dumps of key material (SRTP, exported keys).
    (r"^\s*([0-9A-Fa-f]{2} )+([0-9A-Fa-f]{2})?\s*$", "HEXLINE", "hex dump lines of key material"),
    # The size of a random number in debug output: value of 'ECDH: Q(X)' (515 bits) is:
    (r"\(\d+ bits\) is:", "(N bits) is:", "bit length of random numbers in debug output"),
    # udp_proxy prefixes each datagram with the milliseconds since it started.
    (r"^\s*\d{5} (dispatch|drop|delay|duplicate|inject)", r"  T \1", "udp_proxy's timestamps"),
    # The two builds live in different directories.
    (r"/build/mbedtls/(plain|dyck)/", "/build/mbedtls/BUILD/", "build directory"),
    # Time: dates, clock times, durations, throughputs, cycle counts.
    (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", "DATE", "dates"),
    (r"\b\d{2}:\d{2}:\d{2}\b", "TIME", "clock times"),
    (r"\d+(\.\d+)? *(KiB/s|MiB/s|ms|us|cycles/byte|cycles|ops/s|[a-z]+/s)\b", r"N \2", "durations, throughput"),
    # Process ids.
    (r"\bpid[ =:]*\d+", "pid N", "process ids"),
    # Random material: nonces, keys, signatures, session ids, seeds, DH/ECDH values,
    # printed in hex (16+ digits, optionally with separators) or base64 (40+).
    (r"\b(0x)?[0-9A-Fa-f]{16,}\b", "HEX", "random hex material"),
    (r"\b([0-9A-Fa-f]{2}[:\s]){4,}[0-9A-Fa-f]{2}\b", "HEXBYTES", "random hex bytes (5 or more)"),
    (r"[A-Za-z0-9+/]{40,}={0,2}", "BASE64", "random base64 blocks"),
    # Seeds and times in seconds: udp_proxy's seed, the ClientHello's gmt_unix_time.
    (r"(Pseudo-random seed|current time): \d+", r"\1: N", "seeds and times in seconds"),
    # The DER encoding of an ECDSA signature of random (r, s) is 1 or 2 bytes shorter
    # when the top bit of r or s is 0.
    (r"signature length = \d+", "signature length = N", "length of a random DER signature"),
    # Addresses in debug output (%p).
    (r"\b0x[0-9a-f]{6,}\b", "ADDR", "addresses"),
    # The hex lines of a random number in debug output (after the rules above).
    (r"^(.*\|\d\| ADDR:)\s+(HEXBYTES|HEXLINE|[0-9a-f]{2})(\s+[0-9a-f]{2})*\s*$", r"\1 MPI",
     "hex lines of random numbers in debug output"),
]
COMPILED = [(re.compile(p), r) for p, r, _ in RULES]

# The lines udp_proxy prints when its client's port refused a datagram
# (MBEDTLS_ERR_NET_RECV_FAILED) and it goes back to accept (see normalize).
PROXY_SESSION_END = ("! mbedtls_net_recv returned -76", ". Waiting for a remote connection ...")

# Runs whose output is random as a whole (counts of tries, timings, generated keys
# printed in decimal or as dots of progress): compared by exit status and by the
# lines that are not random, i.e. the lines matching NOT_RANDOM are compared.
RANDOM_LINES = {
    # dh_genprime prints one dot per candidate prime tried.
    "dh_genprime": re.compile(r"^\s*\.\s*(Seeding|Generating|Verifying|Exporting)"),
    # benchmark prints throughputs (compared as numbers, separately) and the
    # algorithm names.
    "benchmark": re.compile(r"^\s*[A-Za-z0-9_ -]+:"),
}


def normalize(name, text):
    lines = []
    for line in text.splitlines():
        for rx, rep in COMPILED:  # in order
            line = rx.sub(rep, line)
        lines.append(line)
    keep = RANDOM_LINES.get(name)
    if keep is not None:
        lines = [keep.match(l).group(0) if keep.match(l) else "" for l in lines]
        lines = [l for l in lines if l]
    # udp_proxy forwards the server's close_notify to a client that may already
    # have exited: then the kernel answers with ICMP port unreachable and the proxy
    # reports it and waits for a new client. Whether the client's socket is still
    # open at that instant is timing (two plain runs differ), so these two lines
    # are dropped when they end the log, i.e. after the last datagram.
    if name == "udp_proxy":
        while lines and lines[-1].strip() in PROXY_SESSION_END:
            lines.pop()
    # The pthread server's threads interleave their lines by timing; the fork
    # server's processes share one stdout.
    # udp_proxy logs datagrams in the order they reach it, and the two directions
    # (the server's last records, the client's) cross each other.
    if name in ("ssl_pthread_server", "ssl_fork_server", "udp_proxy"):
        lines.sort()
    return lines


def cpu_of(mode_dir, name, prefer_json):
    t = read(os.path.join(mode_dir, name + ".time"))
    wall = user = sys_ = None
    if t:
        f = t.split()
        wall, user, sys_ = float(f[0]), float(f[1]), float(f[2])
    if prefer_json:
        j = load_json(os.path.join(mode_dir, name + ".json"))
        if j and "utime_us" in j and "stime_us" in j:
            return j["utime_us"] / 1e6 + j["stime_us"] / 1e6, j.get("wall_ns", 0) / 1e9 or wall
    if user is None:
        return None, None
    return user + sys_, wall


def load_json(path):
    text = read(path)
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return {"_unparsable": text[:200]}


THROUGHPUT = re.compile(r"^\s*(.+?)\s*:\s*([0-9.]+)\s*(KiB/s|ops/s)", re.M)


def benchmark_ratios(plain_text, mode_text):
    p = {k: float(v) for k, v, _ in THROUGHPUT.findall(plain_text or "")}
    m = {k: float(v) for k, v, _ in THROUGHPUT.findall(mode_text or "")}
    ratios = {k: p[k] / m[k] for k in p if k in m and m[k] > 0 and p[k] > 0}
    return ratios


def shared_fmt(row, value, spec):
    """A row's markers (or markers/s): an upper bound when a run of it overlapped a
    peer's, whose markers the global counter added to its own."""
    text = fmt(value, spec)
    return "<= " + text if row.get("markers_shared") and value is not None else text


def geomean(values):
    values = [v for v in values if v and v > 0]
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def fmt(v, spec="{:.2f}", none="–"):
    return none if v is None else spec.format(v)


def branching_section(out, run_abf):
    """Where the run-based dyck ABF comes from: the places (function of the dyck
    monitor's top frame, libc call just made) that add most to it, from bench.sh's
    `sbx stats --places` per program, for the three programs with the highest dyck
    ABF and for selftest and benchmark."""
    def dyck(prog):
        try:
            return float(run_abf[prog]["abf_dyck"])
        except (KeyError, ValueError):
            return 0.0
    chosen = sorted(run_abf, key=dyck, reverse=True)[:3]
    chosen += [p for p in ("programs/test/selftest", "programs/test/benchmark") if p in run_abf and p not in chosen]
    parts = []
    for prog in chosen:
        text = read(os.path.join(out, "run-abf", prog.replace("/", "_") + ".txt"), "") or ""
        lines = text.splitlines()
        start = next((i for i, l in enumerate(lines) if l.startswith("run-abf:")), None)
        if start is None:
            continue
        parts.append("== %s\n%s" % (prog[len("programs/"):], "\n".join(lines[start:])))
    if not parts:
        return []
    return ["## Where the branching comes from\n",
            "`sbx stats --trace ... --places 12` over the host recordings of each program's runs: a place is the "
            "function the dyck monitor is in and the libc call just made there; share is its part of the sum of "
            "dyck next-set sizes, dyck and nfa the mean next-set size at its positions (specs/checking.md).\n",
            "```\n" + "\n\n".join(parts) + "\n```\n"]


@dataclasses.dataclass
class Inputs:
    """What the run directory and the build directory hold besides the runs."""
    mbedtls_dir: str
    out: str
    env: dict
    modes_present: list
    analysis: dict        # program -> analysis.tsv row (fetch-build.sh)
    run_abf: dict         # program -> run-abf.tsv row (bench.sh)
    record_summary: str   # record-check.sh's last summary line, or None
    record_refused: list  # (run name, mode) of the recordings sbx check --trace refused
    skipped: list         # (name, why) of the workload items not run


@dataclasses.dataclass
class Runs:
    """Every run with its verdict in each mode (collect_runs)."""
    runs: list
    peers_recorded: bool
    stray: dict           # mode -> violation records the module still held after a unit


@dataclasses.dataclass
class Programs:
    """The runs grouped by program, one table row each, and the overhead ratios."""
    programs: dict
    table: list
    ratios: dict          # mode -> the programs' ratios


@dataclasses.dataclass
class Figures:
    """The summary's figures (summarise)."""
    suites: list
    suite_cases: dict
    fp_pairs: list
    reproduced_pairs: list
    prog_runs: list
    over: dict
    over_steady: dict
    steady_rows: list
    random_present: list
    weighted: dict
    per_marker: dict
    counted: list
    shared_left_out: list
    markers_total: int
    markers_by_mode: dict
    abf_kind: str
    abf_nfa: float
    abf_dyck: float
    abf_programs: int
    static_nfa: float
    static_dyck: float
    abf_floor: float


def tsv_by_program(text):
    """Rows of a TSV with a header line, by their `program` column."""
    rows = [l.split("\t") for l in text.splitlines() if l]
    by_program = {}
    if rows:
        for r in rows[1:]:
            rec = dict(zip(rows[0], r))
            by_program[rec["program"]] = rec
    return by_program


def read_inputs(mbedtls_dir, out):
    env = dict(l.split("=", 1) for l in (read(os.path.join(out, "bench.env"), "") or "").splitlines() if "=" in l)
    modes_present = [m for m in ["plain", "inst", "nfa", "dyck"] if os.path.isdir(os.path.join(out, m))]
    # Analysis per program (fetch-build.sh).
    analysis = tsv_by_program(read(os.path.join(mbedtls_dir, "analysis.tsv"), ""))
    # Run-based ABF per program (bench.sh: sbx stats --trace over the host recordings).
    run_abf = tsv_by_program(read(os.path.join(out, "run-abf.tsv"), "") or "")
    record_log = read(os.path.join(out, "record-check.log"), "") or ""
    record_summary = next((l for l in reversed(record_log.splitlines()) if l.startswith("record-check:")), None)
    record_refused = re.findall(r"^REFUSED (\S+) \((\w+)\):", record_log, re.M)
    skipped = [l.split("\t", 1) for l in (read(os.path.join(out, "skipped"), "") or "").splitlines() if l]
    return Inputs(mbedtls_dir, out, env, modes_present, analysis, run_abf, record_summary, record_refused, skipped)


def judge(inputs, name, mode, plain_status, plain_out):
    """One run in one mode beside its plain run: its figures and whether it is a false
    positive (and why), or None when it did not run in that mode."""
    out, d = inputs.out, os.path.join(inputs.out, mode)
    status = read(os.path.join(d, name + ".status"))
    if status is None:
        return None
    status = status.strip()
    text = read(os.path.join(d, name + ".out"), "") or ""
    j = load_json(os.path.join(d, name + ".json")) if mode in MODES else None
    cpu, wall = cpu_of(d, name, mode in MODES)
    reasons = []
    if mode in MODES:
        if j is None:
            reasons.append("no runner report")
        elif "_unparsable" in j:
            reasons.append("runner report unparsable")
        else:
            if j.get("killed") or j.get("killed_by_monitor"):
                reasons.append("killed by the monitor")
            if j.get("violations"):
                reasons.append("%d violation record(s)" % len(j["violations"]))
    if status != plain_status:
        reasons.append("status %s, plain %s" % (status, plain_status))
    pn, mn = normalize(name, plain_out), normalize(name, text)
    if pn != mn:
        first = next((i for i, (a, b) in enumerate(zip(pn, mn)) if a != b), min(len(pn), len(mn)))
        reasons.append("output differs at line %d: plain %r, %s %r" % (
            first + 1, pn[first] if first < len(pn) else "<end>", mode, mn[first] if first < len(mn) else "<end>"))
    # The control: the same dyck-cc executable run without a sandbox (mode inst).
    # A difference from plain that this run reproduces exactly (status and
    # normalized output) is the program's own nondeterminism (e.g. a DTLS
    # retransmission reaching a server after the connection closed), not the
    # sandbox: it is listed, not counted. Kills and records always count.
    reproduced = None
    sandbox_reasons = [r for r in reasons if r.startswith(("killed", "no runner", "runner report")) or "violation record" in r]
    if mode in MODES and reasons and not sandbox_reasons and "inst" in inputs.modes_present:
        inst_status = (read(os.path.join(out, "inst", name + ".status"), "") or "").strip()
        inst_out = read(os.path.join(out, "inst", name + ".out"))
        if inst_out is not None and inst_status == status and normalize(name, inst_out) == mn:
            reproduced = reasons
            reasons = []
    markers = j.get("markers") if isinstance(j, dict) else None
    return {"status": status, "cpu": cpu, "wall": wall, "markers": markers,
            "false_positive": bool(reasons) and mode in MODES, "reasons": reasons,
            "reproduced_without_sandbox": reproduced, "out": text}


def collect_runs(inputs):
    out = inputs.out
    plain_dir = os.path.join(out, "plain")
    names = sorted(f[:-7] for f in os.listdir(plain_dir) if f.endswith(".status")) if os.path.isdir(plain_dir) else []
    unit_records = {m: read(os.path.join(out, m, "unit.records"), "") for m in MODES}
    peers_recorded = os.path.exists(os.path.join(out, "peers-recorded"))
    runs = []
    for name in names:
        prog = (read(os.path.join(plain_dir, name + ".prog"), "") or "").strip()
        is_suite = prog.startswith("tests/")
        key = prog[len("programs/"):] if prog.startswith("programs/") else prog
        run = {"name": name, "program": key, "suite": is_suite, "modes": {},
               "peers": peers_of(out, name, peers_recorded)}
        plain_status = (read(os.path.join(plain_dir, name + ".status"), "") or "").strip()
        plain_out = read(os.path.join(plain_dir, name + ".out"), "") or ""
        cpu, wall = cpu_of(plain_dir, name, False)
        run["modes"]["plain"] = {"status": plain_status, "cpu": cpu, "wall": wall}
        for mode in [m for m in inputs.modes_present if m != "plain"]:
            verdict = judge(inputs, name, mode, plain_status, plain_out)
            if verdict is not None:
                run["modes"][mode] = verdict
        run["plain_out"] = plain_out
        runs.append(run)
    # Records that the module still held after a unit (any record is a false positive
    # somewhere in that unit).
    stray = {m: [l for l in unit_records[m].splitlines() if l.startswith("violation")] for m in MODES}
    return Runs(runs, peers_recorded, stray)


def per_program(inputs, runs):
    programs = {}
    for run in runs.runs:
        if run["suite"]:
            continue
        programs.setdefault(run["program"], []).append(run)
    table = []
    ratios = {m: [] for m in inputs.modes_present if m != "plain"}
    for prog in sorted(programs):
        prs = programs[prog]
        row = {"program": prog, "runs": len(prs), "ratio": {}, "fp": {}, "markers": None, "markers_per_s": None,
               "markers_shared": any(r["peers"] for r in prs)}
        for mode in ratios:
            if prog == "test/benchmark":
                r = benchmark_ratios(prs[0]["plain_out"], prs[0]["modes"].get(mode, {}).get("out", ""))
                ratio = geomean(list(r.values()))
                row.setdefault("benchmark", {})[mode] = r
            else:
                base = sum(r["modes"]["plain"]["cpu"] or 0 for r in prs)
                cost = sum((r["modes"].get(mode, {}).get("cpu") or 0) for r in prs)
                ratio = cost / base if base > 0 and cost > 0 else None
            row["ratio"][mode] = ratio
            if ratio:
                ratios[mode].append(ratio)
            if mode in MODES:
                row["fp"][mode] = [(r["name"], r["modes"].get(mode, {}).get("reasons", ["not run"]))
                                   for r in prs if r["modes"].get(mode, {}).get("false_positive")
                                   or mode not in r["modes"]]
        dm = [r["modes"].get("dyck", {}).get("markers") for r in prs]
        if all(isinstance(x, int) for x in dm) and dm:
            row["markers"] = sum(dm)
            cpu = sum(r["modes"]["dyck"]["cpu"] or 0 for r in prs)
            row["markers_per_s"] = row["markers"] / cpu if cpu > 0 else None
        row["analysis"] = inputs.analysis.get("programs/" + prog, {})
        table.append(row)
    return Programs(programs, table, ratios)


def mean_abf(programs, mode, source):
    """The mean of a mode's ABF over the programs that have one in `source`, and their number."""
    vals = []
    for prog in programs:
        a = source.get("programs/" + prog)
        if a and a.get("abf_" + mode) not in (None, "", "NA"):
            vals.append(float(a["abf_" + mode]))
    return (sum(vals) / len(vals) if vals else None), len(vals)


def summarise(inputs, runs, progs):
    programs, table, ratios = progs.programs, progs.table, progs.ratios
    suites = [r for r in runs.runs if r["suite"]]
    suite_cases = {}
    for r in suites:
        # "PASSED (N / M tests (K skipped))" or "FAILED (...)"
        m = re.search(r"(PASSED|FAILED) \((\d+) / (\d+) tests \((\d+) skipped\)\)",
                      r["modes"].get("dyck", {}).get("out", "") or "")
        suite_cases[r["name"]] = m.groups() if m else None

    fp_pairs = [(r["name"], m, r["modes"][m]["reasons"]) for r in runs.runs for m in MODES
                if m in r["modes"] and r["modes"][m]["false_positive"]]
    reproduced_pairs = [(r["name"], m, r["modes"][m]["reproduced_without_sandbox"]) for r in runs.runs for m in MODES
                        if m in r["modes"] and r["modes"][m].get("reproduced_without_sandbox")]
    for m in MODES:
        for l in runs.stray[m]:
            fp_pairs.append(("(unit)", m, [l]))
    # A recorded run that `sbx check --trace` refuses would be killed: a false positive too.
    for name, m in inputs.record_refused:
        fp_pairs.append(("(recorded) " + name, m, ["sbx check --trace refused the host recording"]))
    prog_runs = [r for r in runs.runs if not r["suite"]]
    over = {m: (geomean(ratios[m]) - 1) * 100 if geomean(ratios.get(m, [])) else None for m in ratios}
    steady_rows = [row for row in table if row["program"] not in RANDOM_WORK]
    over_steady = {}
    for m in ratios:
        g = geomean([row["ratio"].get(m) for row in steady_rows])
        over_steady[m] = (g - 1) * 100 if g else None
    random_present = sorted(p for p in RANDOM_WORK if p in programs)
    # Beside the per-program geometric mean, in which a program of a few
    # milliseconds of CPU weighs as much as a long one: the CPU time of all runs
    # together (benchmark excluded: it reports throughput, not a time).
    weighted = {}
    for m in ratios:
        timed = [r for r in prog_runs if r["program"] != "test/benchmark"
                 and r["modes"]["plain"]["cpu"] and r["modes"].get(m, {}).get("cpu")]
        base = sum(r["modes"]["plain"]["cpu"] for r in timed)
        weighted[m] = ((sum(r["modes"][m]["cpu"] for r in timed) / base - 1) * 100, base) if base > 0 else None
    # What a marker costs: the CPU time a mode adds to plain, over the markers of the dyck
    # runs (the same executable and workload in inst, nfa and dyck), on the runs that
    # counted their markers and ran alone. Under instruction counting 1 ns is one
    # instruction. A run beside another sandboxed run of its unit (a server and its
    # clients) is left out: the module's counter is global, so its report counts the
    # peer's markers too while its CPU time is its own (before this, the TLS pairs'
    # markers, counted on both sides and 69% of all, put the figure at a third).
    per_marker = {}
    with_markers = [r for r in prog_runs if r["program"] != "test/benchmark" and r["program"] not in RANDOM_WORK
                    and isinstance(r["modes"].get("dyck", {}).get("markers"), int) and r["modes"]["plain"]["cpu"]]
    counted = [r for r in with_markers if not r["peers"]]
    shared_left_out = [r for r in with_markers if r["peers"]]
    markers_total = sum(r["modes"]["dyck"]["markers"] for r in counted)
    # Each mode over its own markers where its runs counted them: in nfa mode the module
    # answers site markers and the program skips the rest of them (specs/marker-abi.md,
    # "Answers"), so nfa runs make fewer markers than dyck runs of the same workload.
    # inst runs have no monitor and no counter; they make every marker, as dyck runs do.
    markers_by_mode = {}
    for m in ratios:
        timed = [r for r in counted if r["modes"].get(m, {}).get("cpu")]
        own = [r["modes"][m].get("markers") for r in timed]
        markers_by_mode[m] = sum(own) if own and all(isinstance(x, int) for x in own) else markers_total
        if markers_by_mode[m] and len(timed) == len(counted):
            added = sum(r["modes"][m]["cpu"] - r["modes"]["plain"]["cpu"] for r in timed)
            per_marker[m] = added / markers_by_mode[m] * 1e9

    # The summary's ABF is the run-based one when the runs were recorded: the static
    # figures of the two modes average over different positions (specs/checking.md).
    run_abf, analysis = inputs.run_abf, inputs.analysis
    abf_kind = "run-based" if run_abf else "static"
    (abf_nfa, abf_programs), (abf_dyck, _) = (mean_abf(programs, "nfa", run_abf or analysis),
                                              mean_abf(programs, "dyck", run_abf or analysis))
    (static_nfa, _), (static_dyck, _) = mean_abf(programs, "nfa", analysis), mean_abf(programs, "dyck", analysis)
    # The oracle's run-based ABF (the recorded runs themselves): no monitor that
    # accepts the runs goes below it (specs/checking.md).
    abf_floor, _ = mean_abf(programs, "floor", run_abf)
    return Figures(suites, suite_cases, fp_pairs, reproduced_pairs, prog_runs, over, over_steady, steady_rows,
                   random_present, weighted, per_marker, counted, shared_left_out, markers_total, markers_by_mode, abf_kind, abf_nfa,
                   abf_dyck, abf_programs, static_nfa, static_dyck, abf_floor)


def table_row(row, run_abf):
    """One program's line of the Markdown table."""
    a = row["analysis"]

    def num(k, spec="{:.2f}"):
        v = a.get(k)
        try:
            return spec.format(float(v))
        except (TypeError, ValueError):
            return "–"

    def pct(mode):
        r = row["ratio"].get(mode)
        return "–" if r is None else "%+.1f%%" % ((r - 1) * 100)

    ra = run_abf.get("programs/" + row["program"], {})

    def run_num(k):
        try:
            return "{:.2f}".format(float(ra[k]))
        except (KeyError, TypeError, ValueError):
            return "–"

    fps = [n + " (" + m + ")" for m in MODES for n, _ in row["fp"].get(m, [])]
    return "| %s | %d | %s | %s | %s | %s/%s | %s / %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s |" % (
        row["program"], row["runs"], num("analysis_s"), num("instrument_s"),
        num("policy_bytes", "{:.0f}") if False else (fmt(float(a["policy_bytes"]) / 1024, "{:.0f}") if a.get("policy_bytes") else "–"),
        a.get("dyck_states", "–"), a.get("dyck_edges", "–"), a.get("instrumented_sites", "–"),
        a.get("program_calls", "–"), a.get("libc_markers", "–"),
        shared_fmt(row, row["markers"], "{:,}"), shared_fmt(row, row["markers_per_s"], "{:,.0f}"),
        pct("inst"), pct("nfa"), pct("dyck"), run_num("abf_nfa"), run_num("abf_dyck"), run_num("abf_floor"),
        fmt(int(ra["positions"]), "{:,}") if ra.get("positions") else "–", num("abf_nfa"), num("abf_dyck"),
        "none" if not fps else "**" + ", ".join(fps) + "**")


def render_header_and_table(inputs, progs):
    mbedtls_dir, out, env = inputs.mbedtls_dir, inputs.out, inputs.env
    md = []
    md.append("# mbed TLS under the sandbox\n")
    md.append("Generated by `eval/mbedtls/report.py` from the runs in `%s` (level %s, runner `%s`, guest %s s, "
              "fetch and build %s s). Do not edit the numbers by hand: `eval/mbedtls/evaluation-doc.sh` copies "
              "this table into docs/evaluation.md.\n" % (
                  os.path.relpath(out, os.path.dirname(os.path.dirname(mbedtls_dir))), env.get("level", "?"),
                  env.get("runner", "?").replace(os.path.dirname(os.path.dirname(mbedtls_dir)) + "/", ""),
                  env.get("guest_seconds", "?"), env.get("fetch_build_seconds", "?")))
    if env.get("icount") == "1":
        md.append("Clock: the guest ran under QEMU's instruction counting (`sbx vm --icount`, `-icount shift=0`): "
                  "its clocks advance 1 ns per guest instruction, so CPU times count the instructions executed in "
                  "user space and in the kernel, and do not depend on the host's load; markers/s is per 10^9 "
                  "instructions. A marker system call weighs what its instructions weigh, not the cycles a real "
                  "CPU spends entering and leaving the kernel (`make bench-marker` measures those).\n")
    else:
        md.append("Clock: the guest ran under TCG in real time: CPU times include the host's noise (compare the "
                  "inst mode, which runs no monitor, when the level has it).\n")
    md.append("<!-- table begin -->")
    md.append("| program | runs | analysis s | instrument s | policy KiB | dyck states/edges | marker sites / program calls | libc markers | markers (dyck run) | markers/s | overhead inst | overhead nfa | overhead dyck | ABF nfa (runs) | ABF dyck (runs) | ABF floor (runs) | positions | static ABF nfa / dyck | false positives |")
    md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for row in progs.table:
        md.append(table_row(row, inputs.run_abf))
    md.append("<!-- table end -->\n")
    return md


def render_summary(inputs, runs, progs, fig):
    env, analysis, programs, ratios = inputs.env, inputs.analysis, progs.programs, progs.ratios
    over, fp_pairs = fig.over, fig.fp_pairs
    md = []
    md.append("Summary: %d programs, %d runs (each in %s), %d false positives; overhead (geometric mean of the "
              "ratios, minus 1): nfa %s, dyck %s%s; ABF (%s, mean over %d programs): nfa %s, dyck %s%s; static ABF "
              "(mean over programs): nfa %s, dyck %s.\n" % (
                  len(programs), len(fig.prog_runs), ", ".join(inputs.modes_present), len(fp_pairs),
                  fmt(over.get("nfa"), "{:.2f}%"), fmt(over.get("dyck"), "{:.2f}%"),
                  (", instrumented but not sandboxed " + fmt(over.get("inst"), "{:.2f}%")) if "inst" in over else "",
                  fig.abf_kind, fig.abf_programs, fmt(fig.abf_nfa), fmt(fig.abf_dyck),
                  (", floor (a monitor allowing exactly the recorded runs) " + fmt(fig.abf_floor)) if fig.abf_floor is not None else "",
                  fmt(fig.static_nfa), fmt(fig.static_dyck)))
    weighted = fig.weighted
    if weighted.get("dyck"):
        md.append("CPU time of all runs together (benchmark aside; %.1f s plain): %s.\n" % (
            weighted["dyck"][1], ", ".join("%s %+.2f%%" % (m, weighted[m][0]) for m in ratios if weighted.get(m))))
    if fig.random_present:
        md.append("Without the %d programs whose work is a random search (%s): overhead %s (geometric mean over %d "
                  "programs).\n" % (
                      len(fig.random_present), "; ".join("`%s` %s" % (p, RANDOM_WORK[p]) for p in fig.random_present),
                      ", ".join("%s %s" % (m, fmt(fig.over_steady[m], "{:.2f}%")) for m in ratios), len(fig.steady_rows)))
    if fig.per_marker and env.get("icount") == "1":
        md.append("Cost per marker (the CPU time each mode adds to plain over the %d runs that ran alone, benchmark "
                  "and random searches aside, divided by the markers of that mode's runs: %s; inst runs make the "
                  "markers of the dyck runs): %s instructions. Left "
                  "out: the %d runs that ran beside another sandboxed run of their unit (a server and its clients%s), "
                  "whose reports count their peers' markers too (the module's counter is global): %s markers as "
                  "counted; markers <= N in the table.\n" % (
                      len(fig.counted), ", ".join("%s %s" % (m, "{:,}".format(fig.markers_by_mode[m]))
                                                  for m in ratios if m in fig.per_marker),
                      ", ".join("%s %.0f" % (m, fig.per_marker[m]) for m in ratios if m in fig.per_marker),
                      len(fig.shared_left_out), "" if runs.peers_recorded else "; this run directory predates NAME.peers: "
                      "the units with a server are known by their runs' names",
                      "{:,}".format(sum(r["modes"]["dyck"]["markers"] for r in fig.shared_left_out))))
    if inputs.record_summary:
        md.append("Host recordings of the same workload (`eval/mbedtls/record-check.sh`: `sbx record`, then `sbx "
                  "check --trace` in both modes): `%s`.\n" % inputs.record_summary)
    # Targets of issue 7.
    largest = None
    for prog in programs:
        a = analysis.get("programs/" + prog)
        if a and a.get("bc_bytes", "NA") not in ("NA", ""):
            if largest is None or int(a["bc_bytes"]) > int(largest[1]["bc_bytes"]):
                largest = (prog, a)
    slowest = max(((p, float(a["analysis_s"])) for p, a in ((p, analysis.get("programs/" + p)) for p in programs)
                   if a and a.get("analysis_s") not in (None, "", "NA")), key=lambda x: x[1], default=None)
    abf_nfa, abf_dyck = fig.abf_nfa, fig.abf_dyck
    md.append("Targets: 0 false positives: %s (%d). overhead_dyck <= 2%%: %s (%s). abf_dyck <= abf_nfa/10: %s "
              "(%s vs %s%s). Analysis of the largest program (%s, %s KiB of bitcode) under 5 s: %s (%s s; slowest "
              "analysis: %s, %s s).\n" % (
                  "met" if not fp_pairs else "MISSED", len(fp_pairs),
                  "met" if over.get("dyck") is not None and over["dyck"] <= 2 else "MISSED", fmt(over.get("dyck"), "{:.2f}%"),
                  "met" if abf_dyck is not None and abf_nfa and abf_dyck <= abf_nfa / 10 else "MISSED",
                  fmt(abf_dyck), fmt(abf_nfa / 10 if abf_nfa else None),
                  ("; floor of the recorded runs " + fmt(fig.abf_floor)) if fig.abf_floor is not None else "",
                  largest[0] if largest else "?", fmt(int(largest[1]["bc_bytes"]) / 1024 if largest else None, "{:.0f}"),
                  "met" if largest and float(largest[1]["analysis_s"]) < 5 else "MISSED",
                  largest[1]["analysis_s"][:5] if largest else "?",
                  slowest[0] if slowest else "?", fmt(slowest[1] if slowest else None)))
    suites = fig.suites
    if suites:
        ran = [c for c in fig.suite_cases.values() if c]
        total = sum(int(c[2]) for c in ran)
        skipped_cases = sum(int(c[3]) for c in ran)
        killed = [r["name"] for r in suites if r["modes"].get("dyck", {}).get("status") in ("100", "137")]
        md.append("Test suites under `--mode=dyck`: %d suites, %d test cases (%d skipped by the suites themselves), "
                  "%d killed, %d false positives (status, output or records against the plain build).\n" % (
                      len(suites), total, skipped_cases, len(killed),
                      sum(1 for r in suites if r["modes"].get("dyck", {}).get("false_positive"))))
    return md


def render_sections(inputs, progs, fig):
    """False positives, the differences the inst control explains, what did not run,
    benchmark's algorithms, the marker profile, the branching places, definitions and
    the build configuration."""
    out = inputs.out
    md = []
    md.append("## False positives\n")
    if not fig.fp_pairs:
        md.append("None.\n")
    for name, mode, reasons in fig.fp_pairs:
        md.append("- `%s` (%s): %s" % (name, mode, "; ".join(reasons)))
    md.append("")
    if fig.reproduced_pairs:
        md.append("## Differences from plain reproduced without the sandbox\n")
        md.append("Not counted as false positives: the same `dyck-cc` executable run without any sandbox "
                  "(mode inst) gave exactly the sandboxed run's status and output, so the difference is the "
                  "program's own nondeterminism, not the monitor.\n")
        for name, mode, reasons in fig.reproduced_pairs:
            md.append("- `%s` (%s): %s" % (name, mode, "; ".join(reasons)))
        md.append("")
    if inputs.skipped:
        md.append("## Not run\n")
        for n, why in inputs.skipped:
            md.append("- `%s`: %s" % (n, why))
        md.append("")
    bench_rows = [row for row in progs.table if "benchmark" in row]
    if bench_rows:
        md.append("## benchmark: sandboxed/plain time per algorithm\n")
        b = bench_rows[0]["benchmark"]
        algs = sorted(set().union(*[set(v) for v in b.values()]))
        md.append("| algorithm | " + " | ".join(b) + " |")
        md.append("|---|" + "---:|" * len(b))
        for alg in algs:
            md.append("| %s | %s |" % (alg, " | ".join(fmt(b[m].get(alg), "{:.3f}") for m in b)))
        md.append("")
    profile = read(os.path.join(out, "profile.txt"))
    if profile:
        md.append("## Where the markers come from\n")
        md.append("`sbx record` on the host, histogram by `eval/mbedtls/marker-profile.py` (a call site's CALL and "
                  "RET markers counted together):\n")
        md.append("```\n" + profile.strip() + "\n```\n")
    branching = branching_section(out, inputs.run_abf)
    if branching:
        md.extend(branching)
    md.append("## Definitions\n")
    md.append(__doc__.split("Definitions (also written into the report):")[1].strip() + "\n")
    md.append("Output filter (`normalize` in report.py), applied to both outputs before comparing:\n")
    for p, r, why in RULES:
        md.append("- %s: `%s` -> `%s`" % (why, p.replace("|", "\\|"), r))
    md.append("- `dh_genprime`, `benchmark`: only the step names are compared (they print one dot per prime "
              "candidate, or throughputs, which are compared as numbers above)")
    md.append("- `ssl_pthread_server`, `ssl_fork_server`, `udp_proxy`: lines compared as sorted multisets (threads "
              "and processes share one stdout; the proxy logs crossing datagrams in arrival order)")
    md.append("- `udp_proxy`: its last lines, when they are `%s` and `%s`, are dropped: they say that the "
              "server's close_notify reached the client's port after the client had exited (ICMP port "
              "unreachable), which is timing; two plain runs differ in it\n" % PROXY_SESSION_END)
    md.append("## Build configuration\n")
    md.append("```\n" + (read(os.path.join(inputs.mbedtls_dir, "build-config.txt"), "") or "").strip() + "\n```\n")
    return md


def write_outputs(inputs, progs, fig, md):
    """report.md, false-positives.txt and report.json; the false positives and the
    summary line for bench.sh."""
    out, env, over = inputs.out, inputs.env, fig.over
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    with open(os.path.join(out, "false-positives.txt"), "w") as f:
        for name, mode, reasons in fig.fp_pairs:
            f.write("%s\t%s\t%s\n" % (name, mode, "; ".join(reasons)))
    summary = {
        "programs": len(progs.programs), "runs": len(fig.prog_runs), "false_positives": len(fig.fp_pairs),
        "reproduced_without_sandbox": [list(p[:2]) for p in fig.reproduced_pairs],
        "overhead": over, "overhead_cpu_weighted": {m: w[0] for m, w in fig.weighted.items() if w},
        "instructions_per_marker": fig.per_marker if env.get("icount") == "1" else {},
        "per_marker_runs": len(fig.counted), "per_marker_markers": fig.markers_total,
        "per_marker_markers_by_mode": fig.markers_by_mode,
        "runs_with_peers": sorted(r["name"] for r in fig.prog_runs if r["peers"]),
        "overhead_without_random_work": fig.over_steady if fig.random_present else {}, "abf_nfa": fig.abf_nfa,
        "abf_dyck": fig.abf_dyck, "abf_kind": fig.abf_kind,
        "static_abf_nfa": fig.static_nfa, "static_abf_dyck": fig.static_dyck, "record_check": inputs.record_summary,
        "run_abf": inputs.run_abf,
        "suites": len(fig.suites), "suite_cases": fig.suite_cases,
        "table": [{k: v for k, v in row.items() if k != "analysis"} for row in progs.table],
    }
    with open(os.path.join(out, "report.json"), "w") as f:
        json.dump(summary, f, indent=1, default=str)
    for name, mode, reasons in fig.fp_pairs:
        print("[mbedtls] FALSE POSITIVE %s (%s): %s" % (name, mode, "; ".join(reasons)), file=sys.stderr)
    print("[mbedtls] report: %s" % os.path.join(out, "report.md"), file=sys.stderr)
    print("mbedtls: programs=%d runs=%d false_positives=%d overhead_dyck=%s overhead_nfa=%s abf_nfa=%s abf_dyck=%s" % (
        len(progs.programs), len(fig.prog_runs), len(fig.fp_pairs),
        fmt(over.get("dyck"), "{:.2f}%", "NA"), fmt(over.get("nfa"), "{:.2f}%", "NA"),
        fmt(fig.abf_nfa, "{:.2f}", "NA"), fmt(fig.abf_dyck, "{:.2f}", "NA")))


def main():
    # Phases: read the inputs, judge every run in every mode, group by program,
    # summarise, render the Markdown, write the outputs.
    inputs = read_inputs(sys.argv[1], sys.argv[2])
    runs = collect_runs(inputs)
    progs = per_program(inputs, runs)
    fig = summarise(inputs, runs, progs)
    md = render_header_and_table(inputs, progs) + render_summary(inputs, runs, progs, fig) + render_sections(inputs, progs, fig)
    write_outputs(inputs, progs, fig, md)


if __name__ == "__main__":
    main()
