# SPDX-License-Identifier: GPL-2.0
# Log mode: the process continues, one record per deviation,
# resynchronisation on a frame's return; the stack limit and setjmp/longjmp.
#
# Sourced by guest-tests.sh (in the guest) from the state of area_setup: the
# module not loaded, the example blobs in a fresh $W (guest-lib.sh).

module_load || return 0
D=$($CTL load "$W/dyck.blob")
$CTL read >/dev/null
LOGRUN="2:0 2:2 1:2 2:3 1:0 3:3 3:2 1:0 3:0 2:1 2:3 1:1 3:3 1:2 3:1 1:0 say:end"
$CTL run -p "$D" -a log -- "$MK" $LOGRUN >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"; show "$W/r"
check "log mode: the process continues" 'has "$W/o" "^end" && has "$W/o" "^exit 0"'
check "log mode: two records (one per deviation, resync on the frame's return)" 'has "$W/r" "^records 2 "'
check "log mode: first at depth 3, second after resync at depth 1" 'has "$W/r" "reason $R_NOT_ALLOWED action $LOG nr $MARKER_NR kind $K_LIBC id 2 tag 0x40000002 mstate 10 depth 3 flags $F_MARKER" && has "$W/r" "reason $R_NOT_ALLOWED action $LOG nr $MARKER_NR kind $K_LIBC id 0 tag 0 mstate 3 depth 1 flags $F_MARKER"'

$CTL run -p "$D" -a log -- "$MK" 1:1 loop:1000:1:1 say:end >"$W/o" 2>&1
$CTL read >"$W/r"; show "$W/r"
# The example blob has no resynchronisation entries: main stays lost, and its exit
# says how many markers went unchecked (issue 18, reason 28).
check "log mode: a deviation at the root gives one record, not a flood, and the 1000 unchecked markers at exit" \
	'has "$W/o" "^end" && has "$W/r" "^records 2 " && [ "$(count "$W/r" "reason $R_NOT_ALLOWED ")" = 1 ] && has "$W/r" "reason $R_UNRESYNCED action $LOG nr 0 kind 0 id 1000 tag 0 mstate 1 depth 1 flags 0 "'
$CTL run -p "$D" -- "$MK" 7:0 7:1 7:2 7:3 7:4 7:5 7:6 say:seven 7:7 say:eight >"$W/o" 2>&1
$CTL read >"$W/r"; show "$W/r"
check "stack limit (8 slots): the root and 7 setjmp records fill it, the 8th record is a violation (27)" 'has "$W/o" "^seven" && hasnt "$W/o" "^eight" && has "$W/r" "reason $R_STORE_FULL .* kind $K_SJ_SAVE id 7 .* depth 1 "'
$CTL run -p "$D" -- "$MK" 2:0 7:0 2:2 1:1 8:0 2:2 1:1 3:2 1:0 3:0 >"$W/o" 2>&1
check "longjmp over a frame (SJ_SAVE, SJ_RESUME) stays in the policy" 'has "$W/o" "^exit 0"'
$CTL run -p "$D" -- "$MK" 8:1 >"$W/o" 2>&1
$CTL read >"$W/r"
check "SJ_RESUME without SJ_SAVE is a violation" 'has "$W/o" "^signal 9" && has "$W/r" "reason $R_NO_SETJMP "'
