# SPDX-License-Identifier: GPL-2.0
# The stack of tags in a record: nested sites and callbacks, and
# a depth beyond the record's SBX_REC_STACK slots.
#
# Sourced by guest-tests.sh (in the guest) from the state of area_setup: the
# module not loaded, the example blobs in a fresh $W (guest-lib.sh).

module_load || return 0
D=$($CTL load "$W/dyck.blob")
$CTL read >/dev/null
$CTL run -p "$D" -- "$MK" 2:0 2:2 1:1 3:2 1:0 3:0 2:1 2:3 4:4 4:4 1:1 say:after >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"; show "$W/r"
check "record stack: sites 1 and 3 and two callbacks pushed, depth 5, tags top down" 'has "$W/o" "^signal 9" && has "$W/r" "reason $R_NOT_ALLOWED action $KILL nr $MARKER_NR kind $K_LIBC id 1 tag 0x80000004 mstate 12 depth 5 flags $F_MARKER_KILLED stack 0x80000004,0x80000004,0x40000003,0x40000001,0$"'
P=$($CTL load "$W/deep.blob")
$CTL run -p "$P" -- "$MK" $(for i in $(seq 19); do printf '2:0 '; done) 1:0 say:after >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"; show "$W/r"
deep=$(for i in $(seq $((REC_STACK - 1))); do printf '0x40000000,'; done)0x40000000
check "record stack: 19 nested calls, depth 20, the top 16 tags (the rest zero)" 'has "$W/o" "^signal 9" && has "$W/r" "reason $R_NOT_ALLOWED .* depth 20 flags $F_MARKER_KILLED stack $deep$"'
$CTL unload "$P" >/dev/null
