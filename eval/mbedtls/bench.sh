#!/usr/bin/env bash
# The mbed TLS evaluation, end to end (`make bench-mbedtls`, and reduced for
# `make test-mbedtls`):
#   1. fetch-build.sh: source, plain and dyck-cc builds, test suites, analysis
#      timings, policy sizes, kernel blobs (all cached in build/mbedtls);
#   2. one `sbx vm` boot with the module runs guest.sh -> workload.sh: every unit
#      in each mode (plain, nfa, dyck), then the test suites (plain, dyck);
#   3. report.py compares the runs, writes OUT/report.md and report.json, and
#      prints the summary line last.
#
#   eval/mbedtls/bench.sh [full|reduced]
#
# Environment: MBEDTLS_DIR, SBX_BIN, SCRATCH, JOBS (see fetch-build.sh);
#   MODES (default 'plain nfa dyck'; 'inst' adds the dyck-cc build without a
#   sandbox), SUITE_MODES (default 'plain dyck'), SUITES (test suites to build and
#   run: names without test_suite_, or all; default all, or a few when reduced),
#   MODULE (default kmod/sbx_dyck.ko), VM_CPUS (default 1), VM_TIMEOUT (seconds,
#   default 10800), SBX_RUN (the runner; default `sbx run` when the sbx binary has
#   it, else the stand-in mbt-sbxrun), ONLY (a regex: only matching runs),
#   MBT_REPEAT (standalone runs repeated, median cost; default 3, reduced 1),
#   MBT_ICOUNT (default 1: the guest counts instructions, `sbx vm --icount`, so
#   that CPU times do not depend on the host's load; 0: real time under TCG),
#   MBT_RELEASE_SBX (0: use the debug sbx in the guest too), MBT_PROFILE (0: no
#   marker profile), MBT_RUN_ABF (0: no host recording for the run-based ABF),
#   REPORT_ONLY=1 (only the profile and the report, from the runs already in
#   build/mbedtls/runs/LEVEL), MBT_REUSE_RECORDINGS=1 (with REPORT_ONLY: check and
#   measure the host recordings already made, record nothing).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
level=${1:-full}
dir=${MBEDTLS_DIR:-$root/build/mbedtls}
say() { printf '[mbedtls] %s\n' "$*" >&2; }
t_start=$SECONDS

if [ "$level" = reduced ]; then
    suites=${SUITES-base64 md x509parse}
    # Only the programs of the reduced workload get a dyck-cc build (workload.sh -l reduced).
    export MBT_PROGRAMS=${MBT_PROGRAMS-test/selftest hash/hello hash/generic_sum aes/crypt_and_hash pkey/pk_sign
        pkey/pk_verify pkey/pk_encrypt pkey/pk_decrypt x509/cert_app x509/crl_app x509/req_app x509/load_roots
        x509/cert_req x509/cert_write ssl/ssl_server2 ssl/ssl_client2 ssl/ssl_pthread_server ssl/ssl_client1}
else
    suites=${SUITES-all}
fi
out=$dir/runs/$level
if [ "${REPORT_ONLY:-}" != 1 ]; then
t0=$SECONDS
bash eval/mbedtls/fetch-build.sh $suites
fetch_seconds=$((SECONDS - t0))
if [ -n "${SBX_BIN:-}" ]; then bin=$(cd "$SBX_BIN" && pwd); else bin=$root/${SCRATCH:-.build}/debug; fi
sbx=$bin/sbx
# sbx itself optimized: a debug build spends seconds per run under TCG on its own
# start-up (parsing the policy, its SHA-256, the blob). The cost the report compares
# is the program's own rusage either way (sbx run's JSON report).
if [ -z "${SBX_BIN:-}" ] && [ "${MBT_RELEASE_SBX:-1}" = 1 ]; then
    say "swift build -c release --product sbx"
    swift build -c release --product sbx --scratch-path "${SCRATCH:-.build}" >&2
    sbx=$root/${SCRATCH:-.build}/release/sbx
fi

# Helpers for the guest, built with the plain compiler.
tools=$dir/tools
mkdir -p "$tools"
cc=clang-19
$cc -O2 -Wall -o "$tools/mbt-time" eval/mbedtls/mbt-time.c
$cc -O2 -Wall -I kmod/uapi -o "$tools/mbt-sbxrun" eval/mbedtls/mbt-sbxrun.c

if [ -n "${SBX_RUN:-}" ]; then
    runner=$SBX_RUN
# The help is read whole before it is searched: `sbx run --help | grep -q` under
# pipefail failed whenever grep exited before sbx's last write (SIGPIPE), and the
# run silently fell back to the stand-in (a CI run measured mbt-sbxrun that way).
elif sbx_help=$("$sbx" run --help 2>&1) && [[ $sbx_help == *"USAGE: sbx run"* ]]; then
    runner="$sbx run"
else
    runner=$tools/mbt-sbxrun
    say "note: $sbx has no 'run' yet: using the stand-in $runner (same interface, blobs made by fetch-build.sh)"
fi
# sbx run compiles a policy into a kernel blob at every run unless its blob cache
# has it; nfa blobs of the larger programs take seconds on the host and far more
# under TCG. Seed the cache on the host with `sbx blob --cache`, which writes the
# entry under the very name `sbx run` looks up (the policy's digest, the program's
# pinned sites, mode, bounds, format version and a tag of the sbx that compiled it;
# Sources/SbxRun/Runner.swift, blobCacheFile), so the name cannot drift from sbx
# run's again: the guest runs this same sbx. An entry already
# there is kept; the guest's sbx run finds the same files by content.
blob_cache=$dir/blob-cache
mkdir -p "$blob_cache"
if [ "$runner" != "$tools/mbt-sbxrun" ]; then
    seeded=0
    t0=$SECONDS
    for policy in $(find "$dir/dyck/programs" "$dir/dyck/tests" -name '*.dyck' 2>/dev/null); do
        exe=${policy%.dyck}
        [ -x "$exe" ] || continue
        for m in ${MODES:-plain nfa dyck}; do
            case $m in nfa | dyck) ;; *) continue ;; esac
            "$sbx" blob --mode "$m" --exe "$exe" --cache "$blob_cache" "$policy" >/dev/null 2>>"$blob_cache/seed.log" ||
                say "warning: no cache entry for $exe ($m mode): see $blob_cache/seed.log"
            seeded=$((seeded + 1))
        done
    done
    say "blob cache: $seeded entries seeded or already there, $((SECONDS - t0)) s"
fi
module=${MODULE:-$root/kmod/sbx_dyck.ko}
[ -f "$module" ] || { say "no module $module: make kmod"; exit 4; }

rm -rf "$out" && mkdir -p "$out"
suite_list=
if [ "$suites" != all ]; then suite_list=$suites; fi
if [ "$level" = reduced ]; then
    modes=${MODES:-plain nfa dyck}
    export MBT_REPEAT=${MBT_REPEAT:-1}
else
    modes=${MODES:-plain inst nfa dyck}
    export MBT_REPEAT=${MBT_REPEAT:-3}
fi
suite_modes=${SUITE_MODES-plain dyck}
[ -n "$suites" ] || suite_modes=
say "guest: modes '$modes', suites '$suite_modes' ($suites), runner: $runner"
t0=$SECONDS
set +e
icount=${MBT_ICOUNT:-1}
icount_flag=(); [ "$icount" = 1 ] && icount_flag=(--icount)
"$sbx" vm "${icount_flag[@]}" --module "$module" --cpus "${VM_CPUS:-1}" --timeout "${VM_TIMEOUT:-10800}" --rwdir "$out" \
    --kernel-log "$out/kernel.log" \
    --env SBX_RUN="$runner" --env SBX_BLOB_CACHE="$blob_cache" --env MBT_TIME="$tools/mbt-time" --env MBT_SBXCTL="$tools/mbt-sbxrun" \
    --env MBT_REPEAT="$MBT_REPEAT" --env MBT_PLAIN="$dir/plain" --env MBT_DYCK="$dir/dyck" --env MBT_SUITES="$suite_list" \
    --env BENCHMARK_ALGS="${BENCHMARK_ALGS-md5 sha256 sha512 aes_cbc aes_gcm chachapoly ctr_drbg hmac_drbg}" \
    -- bash "$root/eval/mbedtls/guest.sh" -o "$out" -m "$modes" -s "$suite_modes" -l "$level" -r "${ONLY:-.}" \
    2>&1 | tee "$out/workload.log"
vm_status=${PIPESTATUS[0]}
set -e
guest_seconds=$((SECONDS - t0))
say "guest finished with status $vm_status in $guest_seconds s"
{
    echo "level=$level"
    echo "runner=$runner"
    echo "module=$module"
    echo "vm_status=$vm_status"
    echo "fetch_build_seconds=$fetch_seconds"
    echo "guest_seconds=$guest_seconds"
    echo "modes=$modes"
    echo "suite_modes=$suite_modes"
    echo "vm_cpus=${VM_CPUS:-1}"
    echo "repeat=$MBT_REPEAT"
    echo "icount=$icount"
    echo "date=$(date -u +%Y-%m-%dT%H:%MZ)"
    echo "commit=${MBT_COMMIT:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$( [ -z "$(git status --porcelain -- Sources kmod Tests Package.swift 2>/dev/null)" ] || echo ' (with local changes)')}"
    if [ "$level" = reduced ]; then echo "command=make test-mbedtls"; else echo "command=make bench-mbedtls"; fi
} >"$out/bench.env"
else
    [ -f "$out/bench.env" ] || { say "REPORT_ONLY: no $out/bench.env"; exit 2; }
    if [ -n "${SBX_BIN:-}" ]; then bin=$(cd "$SBX_BIN" && pwd); else bin=$root/${SCRATCH:-.build}/debug; fi
    sbx=$bin/sbx
    vm_status=$(sed -n 's/^vm_status=//p' "$out/bench.env")
    fetch_seconds=$(sed -n 's/^fetch_build_seconds=//p' "$out/bench.env")
    guest_seconds=$(sed -n 's/^guest_seconds=//p' "$out/bench.env")
    sed -i '/^summary=/d' "$out/bench.env"
fi
# Where the markers come from (full level, host, no kernel): selftest and one TLS
# handshake of ssl_client2 recorded with `sbx record`, histogram by site and libc call.
if [ "$level" = full ] && [ "${MBT_PROFILE:-1}" = 1 ]; then
    say "profile: sbx record of selftest and of an ssl_client2 handshake"
    prof=$out/profile
    mkdir -p "$prof"
    (
        cd "$prof" || exit 1
        "$sbx" record -o selftest.trace -- "$dir/dyck/programs/test/selftest" >selftest.out 2>&1
        "$dir/plain/programs/ssl/ssl_server2" server_port=25443 >server.out 2>&1 &
        server=$!
        for _ in $(seq 50); do ss -Htln | grep -q ':25443 ' && break; sleep 0.1; done
        "$sbx" record -o ssl_client2.trace -- "$dir/dyck/programs/ssl/ssl_client2" server_port=25443 >client.out 2>&1
        kill "$server" 2>/dev/null; wait "$server" 2>/dev/null
        {
            echo "== test/selftest (all self tests)"
            python3 "$root/eval/mbedtls/marker-profile.py" "$dir/dyck/programs/test/selftest.dyck" selftest.trace 20
            echo
            echo "== ssl/ssl_client2 (one full TLS 1.2 handshake and exchange with ssl_server2)"
            python3 "$root/eval/mbedtls/marker-profile.py" "$dir/dyck/programs/ssl/ssl_client2.dyck" ssl_client2.trace 20
        } >"$out/profile.txt"
        rm -f ./*.trace
    ) || say "profile failed (see $prof)"
fi
# Run-based ABF (specs/checking.md): the same workload recorded on the host with
# `sbx record` (record-check.sh, which also checks every trace in both modes), then
# `sbx stats --trace` per program over all of its traces: both modes measured at the
# same positions of the same runs. Recording needs no kernel module.
if [ "${MBT_RUN_ABF:-1}" = 1 ]; then
    say "run-based ABF: the workload under sbx record on the host, sbx stats --trace per program"
    t0=$SECONDS
    rc_dir=$dir/runs/record-check/record
    set +e
    # REPORT_ONLY=1 MBT_REUSE_RECORDINGS=1: check and measure the recordings already made.
    reuse=; [ "${REPORT_ONLY:-}" = 1 ] && [ "${MBT_REUSE_RECORDINGS:-}" = 1 ] && reuse=-n
    SBX_BIN=$(dirname "$sbx") MBEDTLS_DIR=$dir bash eval/mbedtls/record-check.sh -l "$level" -r "${ONLY:-.}" $reuse >"$out/record-check.log" 2>&1
    set -e
    tail -1 "$out/record-check.log" | sed 's/^/[mbedtls] /' >&2
    printf 'program\ttraces\tpositions\tabf_dyck\tabf_nfa\tabf_floor\n' >"$out/run-abf.tsv"
    mkdir -p "$out/run-abf"
    for prog in $(cat "$rc_dir"/*.prog 2>/dev/null | sort -u); do
        [ -f "$dir/dyck/$prog.dyck" ] || continue
        args=()
        for p in "$rc_dir"/*.prog; do
            [ "$(cat "$p")" = "$prog" ] && [ -s "${p%.prog}.trace" ] && args+=(--trace "${p%.prog}.trace")
        done
        [ ${#args[@]} -gt 0 ] || continue
        # run-abf: traces=T positions=P dyck=D nfa=N floor=L, then the places that add most
        # to the dyck figure (report.py shows some of them).
        stats=$out/run-abf/${prog//\//_}.txt
        "$sbx" stats "$dir/dyck/$prog.dyck" "${args[@]}" --places 12 >"$stats" 2>>"$out/run-abf.err"
        line=$(grep '^run-abf:' "$stats") || {
            say "run-abf: $prog: sbx stats --trace failed (see $out/run-abf.err)"; continue; }
        echo "$line" | sed -E "s|^run-abf: traces=([0-9]+) positions=([0-9]+) dyck=([0-9.]+) nfa=([0-9.]+) floor=([0-9.]+).*|$prog\t\1\t\2\t\3\t\4\t\5|" >>"$out/run-abf.tsv"
    done
    say "run-based ABF of $(($(wc -l <"$out/run-abf.tsv") - 1)) programs in $((SECONDS - t0)) s"
fi
set +e
python3 eval/mbedtls/report.py "$dir" "$out" >"$out/summary.txt"
report_status=$?
set -e
[ "$report_status" = 0 ] || { say "report.py failed"; exit 70; }
echo "summary=$(tail -1 "$out/summary.txt")" >>"$out/bench.env"
say "bench ($level) took $((SECONDS - t_start)) s (fetch/build $fetch_seconds s, guest $guest_seconds s)"
fps=$(sed -nE 's/.*false_positives=([0-9]+).*/\1/p' "$out/summary.txt")
status=0
if [ "$vm_status" != 0 ]; then say "FAIL: the guest workload ended with status $vm_status (see $out/workload.log)"; status=1; fi
if [ "${fps:-1}" != 0 ]; then say "FAIL: ${fps:-?} false positive(s): $out/false-positives.txt"; status=1; fi
tail -1 "$out/summary.txt"
exit $status
