#!/usr/bin/env bash
# What nfa mode saves by skipping CALL/RET/TAIL markers once the module has answered
# (issue 19, "The nfa mode does not pay for CALL/RET"; specs/marker-abi.md,
# "Answers"), in guest instructions (sbx vm --icount: 1 ns of CPU time is one
# instruction). Two programs: eval/bench/sites_loop.c (an mbed-TLS-like hash loop
# whose API calls are sites, 6 site markers per update) and Tests/e2e/skipflag.c (a
# line-formatting loop, 2 libc and 4 site markers per line). Each runs plain
# (clang), instrumented without a sandbox (inst), under dyck mode, under nfa mode
# with the module parameter nfa_site_answer off (every marker, as before the answer)
# and on. Figures: medians of ROUNDS runs of the CPU time (user + system) and the
# markers the module counted (sbx run --json-report).
# Measured on the commit that added it (one boot, medians of 3):
#   sites_loop (20,000 updates): plain 27.38 M, inst 53.59 M, dyck 81.84 M
#     (120,202 markers), nfa before 76.61 M (120,202), nfa 28.19 M (203 markers):
#     nfa over plain +180% -> +3.0%;
#   skipflag: plain 1.988 M, inst 2.390 M, dyck 2.750 M (1,805 markers), nfa before
#     2.647 M (1,805), nfa 2.193 M (604): nfa over plain +33% -> +10.3%.
#   eval/bench/site-skip-bench.sh [SBX]    (SBX: the sbx binary; default .build/debug/sbx)
# Environment: ROUNDS (default 3), UPDATES (sites_loop's updates, default 20000).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
sbx=${1:-$root/.build/debug/sbx}
bin=$(dirname "$sbx")
out=$root/build/bench-site-skip
say() { printf '[site-skip] %s\n' "$*" >&2; }
rm -rf "$out" && mkdir -p "$out"
make -C kmod >/dev/null
cc -O2 -o "$out/mbt-time" eval/mbedtls/mbt-time.c
echo 'volatile char plain_flag;' >"$out/flag.c"
for p in eval/bench/sites_loop.c Tests/e2e/skipflag.c; do
    name=$(basename "$p" .c)
    # skipflag.c names dyck-cc's flag; the plain build gets a variable of its own.
    clang-19 -O2 -o "$out/$name.plain" "$p" "$out/flag.c" -D__sbx_skip_sites=plain_flag 2>>"$out/build.log" ||
        { say "cannot build $p with clang-19"; exit 1; }
    "$bin/dyck-cc" -O2 -g "$p" -o "$out/$name" 2>>"$out/build.log"
done
say "measuring in one guest (--icount: figures are instructions)"
exec "$sbx" vm --icount --timeout 1200 --module kmod/sbx_dyck.ko \
    --env "ROUNDS=${ROUNDS:-3}" --env "UPDATES=${UPDATES:-20000}" \
    -- bash eval/bench/site-skip-guest.sh "$sbx" "$out"
