#!/usr/bin/env bash
# The nginx benchmark end to end (`make bench-nginx`; reduced for `make test-nginx`):
#   1. fetch-build.sh: nginx 1.22 from Debian's sources, plain and dyck-cc builds
#      (cached in ~/.cache/sbx-nginx);
#   2. one `sbx vm --icount` boot with the module runs workload.sh: each server
#      configuration in each mode (plain, nfa, dyck) under ab;
#   3. report.py checks every response, counts false positives, computes the
#      serving process's instructions per request and the code-size figure, writes
#      OUT/report.md and prints the summary line last.
# Fails when a run is a false positive (a kill, a violation, a status other than
# plain's), when a response differs (not 200, a body not the file's), when fewer
# requests were served than made, or when the guest does not finish.
#
#   eval/nginx/bench.sh [full|reduced]
#
# Environment: NGINX_DIR, SBX_BIN, SCRATCH, JOBS (see fetch-build.sh);
#   MODES (default 'plain native nfa dyck'; native: the dyck-cc build, no runner), CONFS (default 'single master'),
#   REQUESTS (ab -n per file and connection kind; default 20 reduced, 250 full:
#   8 ab runs per configuration and mode), MODULE (default kmod/sbx_dyck.ko),
#   VM_TIMEOUT (seconds; default 1800 reduced, 7200 full), VM_BOOT_TIMEOUT (180),
#   NGX_ICOUNT (default 1: `sbx vm --icount`), REALWORLD_DIR (the Lua and SQLite
#   builds for the code-size figure, default build/realworld; absent ones are
#   reported as not built), REPORT_ONLY=1 (only the report, from the runs in
#   $NGINX_DIR/runs/LEVEL).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
level=${1:-full}
dir=${NGINX_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sbx-nginx}
out=$dir/runs/$level
rwdir=${REALWORLD_DIR:-$root/build/realworld}
say() { printf '[nginx] %s\n' "$*" >&2; }
t_start=$SECONDS
modes=${MODES:-plain native nfa dyck}
confs=${CONFS:-single master}
if [ "$level" = full ]; then requests=${REQUESTS:-250}; else requests=${REQUESTS:-20}; fi
# shellcheck source=eval/lib/bench-prep.sh
. eval/lib/bench-prep.sh

if [ "${REPORT_ONLY:-}" != 1 ]; then
    commit_id=$(bench_commit_id)
    t0=$SECONDS
    bash eval/nginx/fetch-build.sh
    fetch_seconds=$((SECONDS - t0))
    sbx=$(bench_sbx "${SBX_BIN:-}" "${NGX_RELEASE_SBX:-1}" "${SCRATCH:-.build}")
    tools=$dir/tools
    bench_tools "$tools"
    module=$(bench_module "${MODULE:-}")
    mkdir -p "$dir/blob-cache"
    rm -rf "$out" && mkdir -p "$out"
    if [ "$level" = reduced ]; then timeout=${VM_TIMEOUT:-1800}; else timeout=${VM_TIMEOUT:-7200}; fi
    icount=${NGX_ICOUNT:-1}
    icount_flag=(); [ "$icount" = 1 ] && icount_flag=(--icount)
    say "guest: configurations '$confs', modes '$modes', $requests requests per ab run, level $level"
    t0=$SECONDS
    set +e
    "$sbx" vm "${icount_flag[@]}" --module "$module" --cpus 1 --timeout "$timeout" \
        --boot-timeout "${VM_BOOT_TIMEOUT:-180}" --rwdir "$dir" \
        --kernel-log "$out/kernel.log" \
        --env SBX_RUN="$sbx run" --env SBX_STATUS="$sbx status" --env SBX_BLOB_CACHE="$dir/blob-cache" \
        --env NGX_TIME="$tools/mbt-time" --env NGX_SBXCTL="$tools/mbt-sbxrun" \
        --env NGX_PLAIN="$dir/plain" --env NGX_DYCK="$dir/dyck" \
        -- bash "$root/eval/nginx/workload.sh" -o "$out" -m "$modes" -c "$confs" -n "$requests" \
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
        echo "confs=$confs"
        echo "requests_per_ab=$requests"
        echo "icount=$icount"
        echo "date=$(date -u +%Y-%m-%dT%H:%MZ)"
        echo "commit=$commit_id"
        if [ "$level" = reduced ]; then echo "command=make test-nginx"; else echo "command=make bench-nginx"; fi
    } >"$out/bench.env"
else
    [ -f "$out/bench.env" ] || { say "REPORT_ONLY: no $out/bench.env"; exit 2; }
    vm_status=$(sed -n 's/^vm_status=//p' "$out/bench.env")
    sed -i '/^summary=/d' "$out/bench.env"
fi
set +e
python3 eval/nginx/report.py "$out" --builds "nginx=$dir/plain/nginx:$dir/dyck/nginx" \
    --builds "lua=$rwdir/plain/lua:$rwdir/dyck/lua" --builds "sqlite3=$rwdir/plain/sqlite3:$rwdir/dyck/sqlite3" \
    >"$out/summary.txt"
report_status=$?
set -e
[ "$report_status" = 0 ] || { say "report.py failed"; exit 70; }
echo "summary=$(tail -1 "$out/summary.txt")" >>"$out/bench.env"
grep -E '^(FALSE POSITIVE|BAD RESPONSE|NOT RUN)' "$out/summary.txt" >&2 || true
say "bench ($level) took $((SECONDS - t_start)) s"
status=0
fps=$(sed -nE 's/.*false_positives=([0-9]+).*/\1/p' "$out/summary.txt")
bad=$(sed -nE 's/.*bad_responses=([0-9]+).*/\1/p' "$out/summary.txt")
reqs=$(sed -nE 's/.*requests=([0-9]+).*/\1/p' "$out/summary.txt")
if [ "${reqs:-0}" = 0 ]; then say "FAIL: no request was made"; status=1; fi
if [ "$vm_status" != 0 ]; then say "FAIL: the guest workload ended with status $vm_status (see $out/workload.log)"; status=1; fi
if [ "${fps:-1}" != 0 ]; then say "FAIL: ${fps:-?} false positive(s): see $out/report.md"; status=1; fi
if [ "${bad:-1}" != 0 ]; then say "FAIL: ${bad:-?} bad response check(s): see $out/report.md"; status=1; fi
grep -E '^code-size' "$out/summary.txt" || true
tail -1 "$out/summary.txt"
exit $status
