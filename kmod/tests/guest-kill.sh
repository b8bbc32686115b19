# SPDX-License-Identifier: GPL-2.0
# Enforcement in kill mode: an allowed run, each refusal of a
# marker and its record (reason, action, marker, macro-state, depth, flags, the
# stack of tags).
#
# Sourced by guest-tests.sh (in the guest) from the state of area_setup: the
# module not loaded, the example blobs in a fresh $W (guest-lib.sh).

module_load || return 0
D=$($CTL load "$W/dyck.blob")
$CTL read >/dev/null
$CTL run -p "$D" -- "$MK" $VALID say:done >"$W/o" 2>&1; show "$W/o"
check "valid marker stream runs to the end" 'has "$W/o" "^done" && has "$W/o" "^exit 0"'
$CTL read >"$W/r"
check "no violation recorded" 'has "$W/r" "^records 0 "'

$CTL run -p "$D" -- "$MK" 2:0 2:2 1:1 3:3 say:after >"$W/o" 2>&1; show "$W/o"
check "impossible path (return to the wrong site) is killed" 'has "$W/o" "^signal 9" && hasnt "$W/o" "^after"'
$CTL read >"$W/r"; show "$W/r"
check "record: wrong return, kind 3 id 3, depth 3, marker|killed" 'has "$W/r" "reason $R_WRONG_RETURN action $KILL nr $MARKER_NR kind $K_RET id 3 tag 0x40000002 mstate 11 depth 3 flags $F_MARKER_KILLED"'
check "record: its stack holds the three frames' tags, top down" 'has "$W/r" "depth 3 flags $F_MARKER_KILLED stack 0x40000002,0x40000000,0$"'
check "record names the program" 'has "$W/r" "comm sbx_markers"'

$CTL run -p "$D" -- "$MK" 9:0 >"$W/o" 2>&1
$CTL read >"$W/r"
check "unknown marker kind is a violation" 'has "$W/o" "^signal 9" && has "$W/r" "reason $R_UNKNOWN_KIND "'
$CTL run -p "$D" -- "$MK" 1:7 >"$W/o" 2>&1
$CTL read >"$W/r"
check "marker id out of range is a violation" 'has "$W/o" "^signal 9" && has "$W/r" "reason $R_ID_RANGE "'
$CTL run -p "$D" -- "$MK" 1:0x100000001 >"$W/o" 2>&1
$CTL read >"$W/r"
check "marker id above 32 bits is a violation" 'has "$W/o" "^signal 9" && has "$W/r" "reason $R_ID_RANGE "'
$CTL run -p "$D" -- "$MK" 1:1 say:CANARY >"$W/o" 2>&1; show "$W/o"
check "an out-of-order libc marker kills before the next system call (the canary write never happens)" 'has "$W/o" "^signal 9" && hasnt "$W/o" "CANARY"'
$CTL read >/dev/null
