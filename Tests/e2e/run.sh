#!/usr/bin/env bash
# End-to-end tests of `sbx run`, `sbx policy` and `sbx status` in a guest kernel
# (QEMU TCG via `sbx vm`), with real programs built by dyck-cc. Host side: builds
# the programs into build/e2e, finds the addresses a hijack needs, then runs
# guest.sh in one guest boot. Never loads anything into the host's kernel.
#   Tests/e2e/run.sh [BIN_DIR]     (BIN_DIR: where sbx and dyck-cc are; default .build/debug)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
bin=$(cd "${1:-.build/debug}" && pwd)
out=$root/build/e2e
rm -rf "$out" && mkdir -p "$out"
say() { printf '[e2e] %s\n' "$*" >&2; }

say "building the test programs with dyck-cc (and plain clang-19 for the hijack checks)"
# Programs whose sandboxed runs must equal their plain runs, at -O0 and -O2:
# file I/O (example), qsort/atexit callbacks, signal handlers, threads, fork,
# setjmp/longjmp, function-pointer dispatch, tables of comparators, errno.
# They are built with the default inlining of small callees (specs/analysis.md), but
# for the tests that pin the site markers themselves (`$k0`, no inlining): the refusal
# at the wrong return of the impossible path and the hijack (with inlining, log_line's
# copies make even the nfa model refuse it, at system()), the counts of skipped site
# markers (guest-nfaskip.sh: procs-O2 and skipflag keep no site when inlined), and the
# events counted in audit mode.
k0=--dyck-inline=0
programs="callbacks handlers threads procs jumps dispatch table errno"
for opt in O0 O2; do
    "$bin/dyck-cc" -$opt -g examples/demo/example.c -o "$out/example-$opt" 2>>"$out/build.log"
    for p in $programs; do
        inline=; [ "$p" = procs ] && inline=$k0
        "$bin/dyck-cc" -$opt -g -pthread $inline "Tests/DyckInstrumentTests/Programs/$p.c" -o "$out/$p-$opt" 2>>"$out/build.log"
    done
done
for p in hijack impossible waiter flood privs signals; do
    inline=; case $p in hijack | impossible) inline=$k0 ;; esac
    "$bin/dyck-cc" -O0 -g -fno-pie -no-pie $inline "Tests/e2e/$p.c" -o "$out/$p" 2>>"$out/build.log"
done
# Issue 18, audit mode that keeps watching: getppid (and for audit-lost exit too) is
# taken out of the policy: its edges become printf's, and the executable's policy
# digest (.sbx_policy, specs/marker-abi.md) is recorded again for the edited file.
for p in audit5 audit-lost; do
    "$bin/dyck-cc" -O0 -g -fno-pie -no-pie $k0 "Tests/e2e/$p.c" -o "$out/$p" 2>>"$out/build.log"
done
relabel() {
    python3 - "$@" <<'PY'
import hashlib, re, subprocess, sys
prog, names = sys.argv[1], sys.argv[2:]
text = open(prog + ".dyck").read()
ids = {m.group(2): m.group(1) for m in re.finditer(r"^sym (\d+) (\S+)$", text, re.M)}
for name in names:
    text, n = re.subn(r"^(edge \d+ \d+ libc )%s( |$)" % ids[name], r"\g<1>%s\2" % ids["printf"], text, flags=re.M)
    if n == 0:
        sys.exit("relabel: no edge of %s in %s.dyck" % (name, prog))
open(prog + ".dyck", "w").write(text)
open(prog + ".digest", "wb").write(b"SBXPOL01" + hashlib.sha256(text.encode()).digest())
subprocess.run(["objcopy", "--update-section", ".sbx_policy=" + prog + ".digest", prog], check=True)
PY
}
relabel "$out/audit5" getppid
relabel "$out/audit-lost" getppid exit
# Exec transitions: a small shell, two programs it runs (one gets installed), and a
# rebuilt version of the installed one (other content, its own policy).
"$bin/dyck-cc" -O2 -g Tests/e2e/minish.c -o "$out/minish" 2>>"$out/build.log"
for p in registered unregistered; do
    "$bin/dyck-cc" -O2 -g Tests/e2e/canary.c -o "$out/$p" 2>>"$out/build.log"
done
"$bin/dyck-cc" -O2 -g -DVERSION2 Tests/e2e/canary.c -o "$out/fixed" 2>>"$out/build.log"
# Issue 17's false positives: a longjmp past a returned nested setjmp, setjmps at
# 40 depths, recursion 5000 deep (guest-sj.sh).
for opt in O0 O2; do
    for p in sj-nested sj-deep deep-recursion; do
        "$bin/dyck-cc" -$opt -g "Tests/e2e/$p.c" -o "$out/$p-$opt" 2>>"$out/build.log"
    done
done
# Issue 19: the markers' skip flag (guest-nfaskip.sh).
for opt in O0 O2; do
    "$bin/dyck-cc" -$opt -g $k0 Tests/e2e/skipflag.c -o "$out/skipflag-$opt" 2>>"$out/build.log"
done
# Issue 19: buffered events (guest-buffer.sh): the programs of the sandboxed-run
# tests at -O2, and the line copier of eval/bench/libc, built with --dyck-buffer.
for p in callbacks handlers threads procs jumps dispatch errno; do
    "$bin/dyck-cc" -O2 -g -pthread --dyck-buffer "Tests/DyckInstrumentTests/Programs/$p.c" -o "$out/$p-buf" 2>>"$out/build.log"
done
"$bin/dyck-cc" -O2 -g --dyck-buffer eval/bench/libc/linecopy.c -o "$out/linecopy-buf" 2>>"$out/build.log"
"$bin/dyck-cc" -O2 -g eval/bench/libc/linecopy.c -o "$out/linecopy-O2" 2>>"$out/build.log"
awk 'BEGIN { for (i = 1; i <= 2000; i++) printf "line %d of the input\n", i }' >"$out/lines.txt"
# The attacker's knowledge: maintenance()'s address, and the return target in
# grant_admin() right after its call of log_line().
maintenance=$(nm "$out/hijack" | awk '$3 == "maintenance" { print $1 }')
python3 -c "import sys; print('41' * 16 + int(sys.argv[1], 16).to_bytes(8, 'little').hex())" "$maintenance" >"$out/hijack.arg"
# (awk stops at the match: read objdump's output from a file, not a pipe whose
# writer would die of SIGPIPE under pipefail.)
objdump -d --no-show-raw-insn "$out/impossible" >"$out/impossible.dis"
awk '/<grant_admin>:/ { f = 1 } f && /call.*<log_line>/ { getline; sub(":", "", $1); print $1; exit }' "$out/impossible.dis" >"$out/impossible.arg"
[ -s "$out/hijack.arg" ] && [ -s "$out/impossible.arg" ] || { say "cannot find the hijack addresses"; exit 1; }
say "hijack: maintenance() at 0x$maintenance; impossible path: return into grant_admin() at 0x$(cat "$out/impossible.arg")"

# SBX_KO: another build of the module (default: kmod/sbx_dyck.ko, built here).
ko=${SBX_KO:-}
if [ -z "$ko" ]; then make -C kmod >/dev/null; ko=kmod/sbx_dyck.ko; fi
say "booting the guest"
exec "$bin/sbx" vm --cpus 2 --timeout 900 ${SBX_VM_KLOG:+--kernel-log "$SBX_VM_KLOG"} --module "$ko" -- \
    bash Tests/e2e/guest.sh "$bin" "$out"
