#!/bin/sh
# Boot stress test (make test-boot): BOOTS boots (default 50) of a trivial command
# under `sbx vm` while every host core is kept busy by a load generator, to show that
# a guest boots every time on a loaded host (issue 17).
#
#   sh Tests/boot/boot-stress.sh SBX
#
# Environment: BOOTS (50), BOOT_CPUS (guest CPUs, 1), BOOT_LOAD (busy loops per host
# core, 1), BOOT_MODULE (a module to load; default: kmod/sbx_dyck.ko when built, else
# none), BOOT_KEEP (a directory to keep every boot's console and stderr in).
#
# Reports boots, retries (with their reasons), failures, and the time to the command
# (median, max) as `sbx vm -v` measures it from the start of the boot that ran it,
# and the wall time of each `sbx vm` (retries included). Exits 1 on any failure.
set -u
sbx=${1:?usage: boot-stress.sh SBX}
boots=${BOOTS:-50}
cpus=${BOOT_CPUS:-1}
load=${BOOT_LOAD:-1}
root=$(cd "$(dirname "$0")/../.." && pwd)
module=${BOOT_MODULE-}
if [ -z "${BOOT_MODULE+x}" ] && [ -f "$root/kmod/sbx_dyck.ko" ]; then module=$root/kmod/sbx_dyck.ko; fi
if [ -n "$module" ]; then modarg="--module $module"; else modarg=--no-module; fi

work=$(mktemp -d /tmp/sbx-boot-stress-XXXXXX)
keep=${BOOT_KEEP:-}
pids=
cleanup() {
    # Only the load generators this script started, by their ids.
    for p in $pids; do kill "$p" 2>/dev/null; done
    for p in $pids; do wait "$p" 2>/dev/null; done
    if [ -n "$keep" ]; then mkdir -p "$keep" && cp "$work"/* "$keep"/ 2>/dev/null; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

cores=$(nproc)
n=0
while [ $n -lt $((cores * load)) ]; do
    sh -c 'while :; do :; done' &
    pids="$pids $!"
    n=$((n + 1))
done
echo "boot-stress: $boots boots of 'true' (guest CPUs: $cpus, module: ${module:-none}) with $((cores * load)) busy loops on $cores host cores"

now() { date +%s.%N; }
i=1
fail=0
retries=0
retried_boots=0
: >"$work/times"
: >"$work/walls"
: >"$work/reasons"
while [ $i -le "$boots" ]; do
    start=$(now)
    # shellcheck disable=SC2086
    "$sbx" vm -v $modarg --cpus "$cpus" --kernel-log "$work/console-$i.log" -- true >"$work/stdout-$i" 2>"$work/stderr-$i"
    rc=$?
    wall=$(printf "%.2f" "$(echo "$(now) - $start" | bc)")
    echo "$wall" >>"$work/walls"
    r=$(grep -c "booting again" "$work/stderr-$i")
    if [ "$r" -gt 0 ]; then
        retries=$((retries + r))
        retried_boots=$((retried_boots + 1))
        grep "booting again" "$work/stderr-$i" | sed "s/^/  run $i: /" >>"$work/reasons"
    fi
    t=$(sed -n 's/.*guest ended.* (command started at \([0-9.]*\) s).*/\1/p' "$work/stderr-$i" | tail -1)
    if [ $rc -ne 0 ] || [ -z "$t" ]; then
        fail=$((fail + 1))
        echo "boot-stress: run $i FAILED (exit $rc):"
        grep -v "booting Linux" "$work/stderr-$i" | sed 's/^/    /'
    else
        echo "$t" >>"$work/times"
        rm -f "$work/console-$i.log" "$work/stdout-$i"
        [ "$r" -gt 0 ] || rm -f "$work/stderr-$i"
    fi
    printf 'boot-stress: run %d/%d: exit %d, command at %s s, %s s wall, %d retries\n' "$i" "$boots" "$rc" "${t:--}" "$wall" "$r"
    i=$((i + 1))
done

stats() { # median and max of a file of numbers
    sort -n "$1" | awk '{ v[NR] = $1 } END { if (NR == 0) { print "- -"; exit }
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f %.2f\n", m, v[NR] }'
}
set -- $(stats "$work/times")
tmed=$1 tmax=$2
set -- $(stats "$work/walls")
wmed=$1 wmax=$2
if [ -s "$work/reasons" ]; then echo "boot-stress: retries:"; cat "$work/reasons"; fi
echo "boot-stress: $boots boots, $retries retries (in $retried_boots runs), $fail failures; time to the command: median $tmed s, max $tmax s; sbx vm wall time: median $wmed s, max $wmax s (guest CPUs $cpus, $((cores * load)) busy loops on $cores cores)"
[ $fail -eq 0 ]
