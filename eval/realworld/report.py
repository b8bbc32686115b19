#!/usr/bin/env python3
"""The real-program corpus report (eval/realworld): compares every sandboxed run
with the plain run of the same workload and prints the summary line last.

    report.py RUN_DIR PLAIN_BUILD DYCK_BUILD [DYCKBUF_BUILD]

RUN_DIR is workload.sh's OUT (expect/NAME, MODE/NAME.{out,err,status,time,json,
records}). A run is checked in two steps:

1. The plain run must be meaningful: its exit status is the expected one, its
   output (stdout and stderr) is not empty, and every marker of expect/NAME (a
   regular expression, matched per line) is in it. A run that is not is a
   failure of the workload ("not meaningful"), never a pass.
2. Each sandboxed run (nfa, dyck) must equal it: the same exit status, the same
   stdout and stderr (the builds' directories, which the programs print in
   argv[0], replaced by one name), no kill and no violation in the runner's
   report, and no violation record left in the module. Any difference is a
   false positive.

With bench.sh's RW_BUFFER=1, the modes dyckbuf-nfa and dyckbuf-dyck (the
dyck-cc --dyck-buffer build, DYCKBUF_BUILD) are compared the same way, when
bench.env's modes name them.

Cost: the program's own CPU time (the runner's utime_us + stime_us; mbt-time's
rusage for plain). Under `sbx vm --icount` the guest's clock advances 1 ns per
instruction, so these are instruction counts (RUN_DIR/bench.env: icount=1).
Writes RUN_DIR/report.md, report.json and false-positives.txt.
"""
import json
import os
import re
import sys

MODES = ("nfa", "dyck")
BUFFERED_MODES = ("dyckbuf-nfa", "dyckbuf-dyck")
MARKER_MODES = ("dyck",) + BUFFERED_MODES  # the modes whose markers the table shows


def read(path, binary=False):
    try:
        with open(path, "rb" if binary else "r", errors=None if binary else "replace") as f:
            return f.read()
    except OSError:
        return None


def cpu_of(run_dir, mode, name):
    """The program's CPU seconds: the runner's report, else mbt-time's rusage."""
    j = read(os.path.join(run_dir, mode, name + ".json"))
    if j:
        try:
            d = json.loads(j)
            if "utime_us" in d and "stime_us" in d:
                return (d["utime_us"] + d["stime_us"]) / 1e6, d
        except ValueError:
            pass
    t = read(os.path.join(run_dir, mode, name + ".time"))
    if t:
        fields = t.split()
        if len(fields) >= 3:
            return float(fields[1]) + float(fields[2]), None
    return None, None


def program_of(name):
    return "sqlite3" if name.startswith("sqlite") else "lua"


def main():
    if len(sys.argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        return 2
    run_dir, plain_build, dyck_build = sys.argv[1:4]
    extra_builds = sys.argv[4:]
    env = {}
    for line in (read(os.path.join(run_dir, "bench.env")) or "").splitlines():
        k, _, v = line.partition("=")
        env[k] = v
    icount = env.get("icount") == "1"
    # The sandboxed modes the workload was run in (bench.env); one that is missing
    # for a run is a failure, not a silent pass.
    expected_modes = [m for m in env.get("modes", "").split() if m in MODES + BUFFERED_MODES]
    modes = MODES + tuple(m for m in BUFFERED_MODES if m in expected_modes)
    expect_dir = os.path.join(run_dir, "expect")
    names = sorted(os.listdir(expect_dir)) if os.path.isdir(expect_dir) else []
    builds = sorted({plain_build.rstrip("/"), dyck_build.rstrip("/")} | {b.rstrip("/") for b in extra_builds},
                    key=len, reverse=True)

    def norm(b):
        if b is None:
            return None
        for d in builds:
            b = b.replace(d.encode() + b"/", b"<build>/")
        return b

    runs, fps, vacuous, executed = [], [], [], 0
    cost = {}  # program -> mode -> [seconds]
    markers = {}  # (program, mode) -> markers of the runs (MARKER_MODES)
    for name in names:
        prog = program_of(name)
        expect = read(os.path.join(run_dir, "expect", name)).splitlines()
        want_status = next((l.split(None, 1)[1] for l in expect if l.startswith("status ")), "0")
        regexes = [l.split(None, 1)[1] for l in expect if l.startswith("marker ")]
        base = os.path.join(run_dir, "plain", name)
        status = (read(base + ".status") or "").strip()
        out, err = norm(read(base + ".out", True)), norm(read(base + ".err", True))
        row = {"name": name, "program": prog, "plain_status": status, "modes": {}}
        problems = []
        if status == "":
            problems.append("no plain run")
        else:
            executed += 1
            if status != want_status:
                problems.append(f"plain exit status {status}, expected {want_status}")
            text = (out or b"").decode(errors="replace") + "\n" + (err or b"").decode(errors="replace")
            if not (out or err):
                problems.append("plain output empty")
            for rx in regexes:
                if not re.search(rx, text, re.M):
                    problems.append(f"plain output lacks marker /{rx}/")
        if problems:
            vacuous.append((name, problems))
        row["meaningful"] = not problems
        pcpu, _ = cpu_of(run_dir, "plain", name)
        row["plain_cpu"] = pcpu
        for mode in modes:
            mbase = os.path.join(run_dir, mode, name)
            mstatus = (read(mbase + ".status") or "").strip()
            if mstatus == "":
                if mode in expected_modes and status != "":
                    fps.append((name, mode, ["did not run"]))
                    row["modes"][mode] = {"status": None, "cpu": None, "false_positive": ["did not run"]}
                continue
            executed += 1
            why = []
            if mstatus != status:
                why.append(f"exit status {mstatus}, plain {status}")
            if norm(read(mbase + ".out", True)) != out:
                why.append("stdout differs")
            if norm(read(mbase + ".err", True)) != err:
                why.append("stderr differs")
            mcpu, report = cpu_of(run_dir, mode, name)
            if report is None:
                why.append("no runner report")
            else:
                if report.get("killed_by_monitor") or report.get("killed"):
                    why.append("killed by the monitor")
                if report.get("killed_descendants"):
                    why.append(f"{len(report['killed_descendants'])} descendant(s) killed by the monitor")
                if report.get("lost_threads"):
                    why.append(f"{len(report['lost_threads'])} thread(s) lost by the monitor")
                if report.get("records_dropped"):
                    why.append(f"{report['records_dropped']} violation record(s) dropped")
                if report.get("violations"):
                    why.append(f"{len(report['violations'])} violation(s) reported")
            if os.path.exists(mbase + ".records"):
                why.append("violation records left in the module")
            if why:
                fps.append((name, mode, why))
            row["modes"][mode] = {"status": mstatus, "cpu": mcpu, "false_positive": why,
                                  "markers": report.get("markers") if report else None}
            if not why and pcpu and mcpu is not None:
                cost.setdefault(prog, {}).setdefault(mode, []).append((pcpu, mcpu))
            if mode in MARKER_MODES and report and isinstance(report.get("markers"), int):
                markers[(prog, mode)] = markers.get((prog, mode), 0) + report["markers"]
        runs.append(row)

    ratios = {}
    for prog, by_mode in cost.items():
        for mode, pairs in by_mode.items():
            p = sum(a for a, _ in pairs)
            m = sum(b for _, b in pairs)
            if p > 0:
                ratios[(prog, mode)] = (m / p, p, m, len(pairs))

    unit = "instructions" if icount else "CPU s"
    scale = 1e9 if icount else 1.0
    lines = ["# Real programs: Lua 5.4 and the SQLite 3 shell", "",
             "<!-- table begin -->",
             f"Runs: {len(runs)} workloads x (plain + {', '.join(modes)}), {executed} executions; "
             f"false positives: {len(fps)}; plain runs not meaningful: {len(vacuous)}.", "",
             f"| program | mode | runs | plain {unit} | mode {unit} | ratio | markers (dyck) |",
             "|---|---|---|---|---|---|---|"]
    for (prog, mode), (r, p, m, n) in sorted(ratios.items()):
        mk = markers.get((prog, mode))
        lines.append(f"| {prog} | {mode} | {n} | {p * scale:,.0f} | {m * scale:,.0f} | {r:.2f}x | "
                     f"{'' if mk is None else f'{mk:,}'} |")
    lines += ["", "| run | plain status | " + " | ".join(modes) + " |", "|---|---|" + "---|" * len(modes)]
    for row in runs:
        cells = []
        for mode in modes:
            m = row["modes"].get(mode)
            if m is None:
                cells.append("-")
            elif m["false_positive"]:
                cells.append("FALSE POSITIVE: " + "; ".join(m["false_positive"]))
            else:
                r = (m["cpu"] / row["plain_cpu"]) if row["plain_cpu"] and m["cpu"] is not None else None
                cells.append("same" + (f" ({r:.2f}x)" if r else ""))
        plain = row["plain_status"] + ("" if row["meaningful"] else " (NOT MEANINGFUL)")
        lines.append(f"| {row['name']} | {plain} | " + " | ".join(cells) + " |")
    with open(os.path.join(run_dir, "report.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(run_dir, "false-positives.txt"), "w") as f:
        for name, mode, why in fps:
            f.write(f"{mode} {name}: {'; '.join(why)}\n")
        for name, problems in vacuous:
            f.write(f"plain {name} not meaningful: {'; '.join(problems)}\n")
    with open(os.path.join(run_dir, "report.json"), "w") as f:
        json.dump({"runs": runs, "false_positives": len(fps), "not_meaningful": len(vacuous),
                   "ratios": {f"{p}/{m}": v[0] for (p, m), v in ratios.items()}}, f, indent=1)
    for line in lines[3:]:
        print(line)
    for name, mode, why in fps:
        print(f"FALSE POSITIVE {mode} {name}: {'; '.join(why)}")
    for name, problems in vacuous:
        print(f"NOT MEANINGFUL plain {name}: {'; '.join(problems)}")
    kind = "instr" if icount else "cpu"
    parts = [f"realworld: programs={len({program_of(n) for n in names})}", f"runs={executed}",
             f"false_positives={len(fps)}", f"not_meaningful={len(vacuous)}"]
    for prog in ("lua", "sqlite3"):
        for mode in modes:
            if (prog, mode) in ratios:
                parts.append(f"{kind}_{mode.replace('-', '_')}_{prog}={ratios[(prog, mode)][0]:.2f}x")
    print(" ".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
