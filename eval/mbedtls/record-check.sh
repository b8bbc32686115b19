#!/usr/bin/env bash
# Offline false-positive hunt on mbed TLS (no kernel needed, runs on the host): the
# workload of workload.sh in the modes plain and record (the dyck-cc build under
# `sbx record`), then `sbx check --trace` of every trace in both modes, and
# report.py's comparison of statuses and outputs with the plain runs.
#
#   eval/mbedtls/fetch-build.sh                 # once
#   eval/mbedtls/record-check.sh [-r REGEX] [-l full|reduced] [-n]
#   (-n: check the recordings already in build/mbedtls/runs/record-check, record nothing)
#
# Environment: MBEDTLS_DIR (default build/mbedtls), SBX_BIN or SCRATCH (the tools).
# Last line: `record-check: runs=N allowed_dyck=A allowed_nfa=B refused=R`.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
dir=${MBEDTLS_DIR:-$root/build/mbedtls}
if [ -n "${SBX_BIN:-}" ]; then bin=$(cd "$SBX_BIN" && pwd); else bin=$root/${SCRATCH:-.build}/debug; fi
sbx=$bin/sbx
only=. level=full record=1
while getopts r:l:n opt; do
    case $opt in
    r) only=$OPTARG ;;
    l) level=$OPTARG ;;
    n) record=0 ;;
    *) exit 2 ;;
    esac
done
[ -x "$sbx" ] || { echo "no $sbx: build the tools first" >&2; exit 2; }
mkdir -p "$dir/tools"
clang-19 -O2 -Wall -o "$dir/tools/mbt-time" eval/mbedtls/mbt-time.c || exit 2
out=$dir/runs/record-check
if [ "$record" = 1 ]; then
    rm -rf "$out"
    # One recording per run: repetitions (MBT_REPEAT) only matter for timing.
    SBX=$sbx MBT_TIME=$dir/tools/mbt-time MBT_PLAIN=$dir/plain MBT_DYCK=$dir/dyck MBT_REPEAT=1 \
        bash eval/mbedtls/workload.sh -o "$out" -m "plain record" -r "$only" -l "$level"
fi

runs=0 allowed_dyck=0 allowed_nfa=0 refused=0
for trace in "$out"/record/*.trace; do
    name=$(basename "$trace" .trace)
    # A trace without its program (a repetition of an older recording) has no policy.
    [ -s "$out/record/$name.prog" ] || continue
    runs=$((runs + 1))
    policy=$dir/dyck/$(cat "$out/record/$name.prog").dyck
    for mode in dyck nfa; do
        if "$sbx" check "$policy" --trace "$trace" --mode "$mode" >"$out/record/$name.check-$mode" 2>&1; then
            [ "$mode" = dyck ] && allowed_dyck=$((allowed_dyck + 1)) || allowed_nfa=$((allowed_nfa + 1))
        else
            refused=$((refused + 1))
            echo "REFUSED $name ($mode):"; head -30 "$out/record/$name.check-$mode"
        fi
    done
done
echo "record-check: runs=$runs allowed_dyck=$allowed_dyck allowed_nfa=$allowed_nfa refused=$refused"
[ "$refused" = 0 ]
