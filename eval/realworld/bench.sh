#!/usr/bin/env bash
# The real-program corpus end to end (`make bench-realworld`; reduced for
# `make test-realworld`):
#   1. fetch-build.sh: Lua 5.4 and SQLite 3 from Debian's sources, plain and
#      dyck-cc builds (cached in build/realworld);
#   2. one `sbx vm --icount` boot with the module runs workload.sh: every run in
#      each mode (plain, nfa, dyck);
#   3. report.py compares each sandboxed run with the plain one, writes
#      OUT/report.md and prints the summary line last.
# Fails when a run is a false positive, when a plain run is not meaningful (its
# expected markers missing), or when the guest does not finish.
#
#   eval/realworld/bench.sh [full|reduced]
#
# Environment: REALWORLD_DIR, SBX_BIN, SCRATCH, JOBS (see fetch-build.sh);
#   RW_BUFFER (1: also the dyck-cc --dyck-buffer builds, in the modes dyckbuf-nfa and
#   dyckbuf-dyck, added to the default MODES; default 0),
#   MODES (default 'plain nfa dyck'), MODULE (default kmod/sbx_dyck.ko),
#   VM_CPUS (default 1), VM_TIMEOUT (seconds; default 1800 reduced, 10800 full),
#   VM_BOOT_TIMEOUT (seconds for a boot to reach the command, default 180: a
#   loaded host slows TCG boots with instruction counting),
#   RW_ICOUNT (default 1: count instructions, `sbx vm --icount`; 0: real time),
#   RW_RELEASE_SBX (0: the debug sbx in the guest), ONLY (a regex of run names),
#   RW_SEED_CACHE (default 1: seed sbx run's blob cache on the host; 0: the guest
#   compiles what the cache lacks),
#   REPORT_ONLY=1 (only the report, from the runs in build/realworld/runs/LEVEL).
# The helpers mbt-time (a run's rusage) and mbt-sbxrun (violation records of
# /dev/sbx) are eval/mbedtls's.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
level=${1:-full}
dir=${REALWORLD_DIR:-$root/build/realworld}
out=$dir/runs/$level
[ "${RW_BUFFER:-0}" != 1 ] || out=$dir/runs/$level-buffered
say() { printf '[realworld] %s\n' "$*" >&2; }
t_start=$SECONDS
buffered=${RW_BUFFER:-0}
if [ "$buffered" = 1 ]; then modes=${MODES:-plain nfa dyck dyckbuf-nfa dyckbuf-dyck}; else modes=${MODES:-plain nfa dyck}; fi
# The buffered builds' directory, for the guest and the report (RW_BUFFER=1 only).
buf_env=() buf_build=()
[ "$buffered" != 1 ] || { buf_env=(--env RW_DYCKBUF="$dir/dyckbuf"); buf_build=("$dir/dyckbuf"); }
# shellcheck source=eval/lib/bench-prep.sh
. eval/lib/bench-prep.sh

if [ "${REPORT_ONLY:-}" != 1 ]; then
    commit_id=$(bench_commit_id)
    t0=$SECONDS
    bash eval/realworld/fetch-build.sh
    fetch_seconds=$((SECONDS - t0))
    sbx=$(bench_sbx "${SBX_BIN:-}" "${RW_RELEASE_SBX:-1}" "${SCRATCH:-.build}")
    tools=$dir/tools
    bench_tools "$tools"
    module=$(bench_module "${MODULE:-}")
    # sbx run's blob cache, kept across boots in the build directory, and seeded here
    # on the host: `sbx blob --cache` writes the entry under the name sbx run looks up,
    # made of contents (policy, pinned sites, mode, bounds, blob version) and of the
    # sbx build, the one the guest runs too, so the
    # guest compiles no blob (the SQLite shell's nfa blob: about 13 billion
    # instructions under TCG) and, on the hit, does not even parse the policy.
    mkdir -p "$dir/blob-cache"
    if [ "${RW_SEED_CACHE:-1}" = 1 ]; then
        t0=$SECONDS
        for p in ${PROGRAMS:-lua sqlite3}; do
            for m in $modes; do
                case $m in
                nfa | dyck) "$sbx" blob --mode "$m" --exe "$dir/dyck/$p" --cache "$dir/blob-cache" "$dir/dyck/$p.dyck" >/dev/null ;;
                dyckbuf-nfa | dyckbuf-dyck)
                    "$sbx" blob --mode "${m#dyckbuf-}" --exe "$dir/dyckbuf/$p" --cache "$dir/blob-cache" "$dir/dyckbuf/$p.dyck" >/dev/null
                    ;;
                esac
            done
        done
        say "blob cache seeded on the host in $((SECONDS - t0)) s"
    fi
    rm -rf "$out" && mkdir -p "$out"
    if [ "$level" = reduced ]; then timeout=${VM_TIMEOUT:-1800}; else timeout=${VM_TIMEOUT:-10800}; fi
    icount=${RW_ICOUNT:-1}
    icount_flag=(); [ "$icount" = 1 ] && icount_flag=(--icount)
    say "guest: modes '$modes', level $level"
    t0=$SECONDS
    set +e
    "$sbx" vm "${icount_flag[@]}" --module "$module" --cpus "${VM_CPUS:-1}" --timeout "$timeout" \
        --boot-timeout "${VM_BOOT_TIMEOUT:-180}" --rwdir "$dir" \
        --kernel-log "$out/kernel.log" \
        --env SBX_RUN="$sbx run" --env SBX_BLOB_CACHE="$dir/blob-cache" --env RW_TIME="$tools/mbt-time" \
        --env RW_SBXCTL="$tools/mbt-sbxrun" --env RW_PLAIN="$dir/plain" --env RW_DYCK="$dir/dyck" "${buf_env[@]}" \
        -- bash "$root/eval/realworld/workload.sh" -o "$out" -m "$modes" -l "$level" -r "${ONLY:-.}" \
        2>&1 | tee "$out/workload.log"
    vm_status=${PIPESTATUS[0]}
    set -e
    guest_seconds=$((SECONDS - t0))
    say "guest finished with status $vm_status in $guest_seconds s"
    {
        echo "level=$level"
        echo "module=$module"
        echo "vm_status=$vm_status"
        echo "fetch_build_seconds=$fetch_seconds"
        echo "guest_seconds=$guest_seconds"
        echo "modes=$modes"
        echo "vm_cpus=${VM_CPUS:-1}"
        echo "icount=$icount"
        echo "date=$(date -u +%Y-%m-%dT%H:%MZ)"
        echo "commit=$commit_id"
        cmd=make; [ "$buffered" != 1 ] || cmd="RW_BUFFER=1 make"
        if [ "$level" = reduced ]; then echo "command=$cmd test-realworld"; else echo "command=$cmd bench-realworld"; fi
    } >"$out/bench.env"
else
    [ -f "$out/bench.env" ] || { say "REPORT_ONLY: no $out/bench.env"; exit 2; }
    vm_status=$(sed -n 's/^vm_status=//p' "$out/bench.env")
    sed -i '/^summary=/d' "$out/bench.env"
fi
set +e
python3 eval/realworld/report.py "$out" "$dir/plain" "$dir/dyck" "${buf_build[@]}" >"$out/summary.txt"
report_status=$?
set -e
[ "$report_status" = 0 ] || { say "report.py failed"; exit 70; }
echo "summary=$(tail -1 "$out/summary.txt")" >>"$out/bench.env"
grep -E '^(FALSE POSITIVE|NOT MEANINGFUL)' "$out/summary.txt" >&2 || true
say "bench ($level) took $((SECONDS - t_start)) s"
status=0
fps=$(sed -nE 's/.*false_positives=([0-9]+).*/\1/p' "$out/summary.txt")
vac=$(sed -nE 's/.*not_meaningful=([0-9]+).*/\1/p' "$out/summary.txt")
runs=$(sed -nE 's/.* runs=([0-9]+).*/\1/p' "$out/summary.txt")
if [ "${runs:-0}" = 0 ]; then say "FAIL: no run was made"; status=1; fi
if [ "$vm_status" != 0 ]; then say "FAIL: the guest workload ended with status $vm_status (see $out/workload.log)"; status=1; fi
if [ "${fps:-1}" != 0 ]; then say "FAIL: ${fps:-?} false positive(s): $out/false-positives.txt"; status=1; fi
if [ "${vac:-1}" != 0 ]; then say "FAIL: ${vac:-?} plain run(s) not meaningful: $out/false-positives.txt"; status=1; fi
tail -1 "$out/summary.txt"
exit $status
