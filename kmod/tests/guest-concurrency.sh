# SPDX-License-Identifier: GPL-2.0
# Concurrency: threads, concurrent forks, SIGKILL during a
# marker storm; every thread state released.
#
# Sourced by guest-tests.sh (in the guest) from the state of area_setup: the
# module not loaded, the example blobs in a fresh $W (guest-lib.sh).

module_load || return 0
D=$($CTL load "$W/dyck.blob")
$CTL read >/dev/null
$CTL run -p "$D" -- "$MK" threads:8:3000 >"$W/o" 2>&1; show "$W/o"
check "8 threads, 3000 callbacks each" 'has "$W/o" "^threads 8" && has "$W/o" "^exit 0"'
$CTL run -p "$D" -- "$MK" 2:0 forks:64 2:2 1:1 3:2 1:0 3:0 threads:2:200 >"$W/o" 2>&1; show "$W/o"
check "64 concurrent children (each with 2 threads) continue the parent" 'has "$W/o" "^forks 64 ok 64" && has "$W/o" "^exit 0"'
$CTL run -p "$D" -- "$MK" threads:6:10000000 >"$W/o" 2>&1 &
bg=$!
until_true 60 '$CTL status >"$W/st"; has "$W/st" "enforced 7 "'
show "$W/st"
check "status counts 7 enforced threads" 'has "$W/st" "enforced 7 "'
pkill -9 -x sbx_markers
wait $bg
check "SIGKILL from outside during a marker storm" 'has "$W/o" "^signal 9"'
$CTL read >"$W/r"
check "no violation in the concurrency tests" 'has "$W/r" "^records 0 "'
$CTL status >"$W/st"
check "every thread state released" 'has "$W/st" "enforced 0 armed 0 " && has "$W/st" "alloc_failures 0 "'
