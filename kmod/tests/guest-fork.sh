# SPDX-License-Identifier: GPL-2.0
# Fork, threads and exec of an enforced process.
#
# Sourced by guest-tests.sh (in the guest) from the state of area_setup: the
# module not loaded, the example blobs in a fresh $W (guest-lib.sh).

module_load || return 0
D=$($CTL load "$W/dyck.blob")
$CTL read >/dev/null
$CTL run -p "$D" -- "$MK" 2:0 fork 2:2 1:1 3:2 1:0 3:0 say:ok >"$W/o" 2>&1; show "$W/o"
check "fork: the child continues the parent's automaton" 'has "$W/o" "^child exit 0" && [ "$(count "$W/o" '\''^ok'\'')" = 2 ] && has "$W/o" "^exit 0"'
$CTL run -p "$D" -- "$MK" fork 1:1 say:survived >"$W/o" 2>&1; show "$W/o"
check "fork: a violation kills the child's process only" 'has "$W/o" "^child signal 9" && has "$W/o" "^signal 9" && hasnt "$W/o" "survived"'
$CTL read >/dev/null

$CTL run -p "$D" -- "$MK" thread 4:4 1:2 5:4 say:t >"$W/o" 2>&1; show "$W/o"
check "new thread starts empty and may enter a callback" 'has "$W/o" "^t" && has "$W/o" "^exit 0"'
$CTL run -p "$D" -- "$MK" thread 1:1 say:t >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"; show "$W/r"
check "a violation in a new thread kills the process" 'has "$W/o" "^signal 9" && hasnt "$W/o" "^t"'
check "record of the thread: empty frontier (mstate 0), depth 1" 'has "$W/r" "reason $R_NOT_ALLOWED action $KILL nr $MARKER_NR kind $K_LIBC id 1 tag 0 mstate 0 depth 1"'

$CTL run -p "$D" --fail-first -- "$MK" 1:1 say:x >"$W/o" 2>&1; show "$W/o"
check "a failed exec keeps the thread armed (next exec enforced)" 'has "$W/o" "^signal 9"'
$CTL run -p "$D" --exec unconfined -- "$MK" 2:0 exec "$MK" 1:1 say:free >"$W/o" 2>&1; show "$W/o"
check "exec unconfined: the new image runs without the old policy" 'has "$W/o" "^free" && has "$W/o" "^exit 0"'
$CTL read >/dev/null
