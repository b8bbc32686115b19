# SPDX-License-Identifier: GPL-2.0
# The nfa mode: blob and mode must match; the flattened model's
# verdicts.
#
# Sourced by guest-tests.sh (in the guest) from the state of area_setup: the
# module not loaded, the example blobs in a fresh $W (guest-lib.sh).

module_load || return 0
D=$($CTL load "$W/dyck.blob")
N=$($CTL load "$W/nfa.blob")
$CTL run -p "$N" -m dyck -- "$MK" >"$W/o" 2>&1
check "arming an nfa blob in dyck mode is refused" 'has "$W/o" "arm: Invalid argument"'
$CTL run -p "$D" -m nfa -- "$MK" >"$W/o" 2>&1
check "arming a dyck blob in nfa mode is refused" 'has "$W/o" "arm: Invalid argument"'
$CTL run -p "$N" -m nfa -- "$MK" 2:0 2:2 1:1 3:3 1:2 say:nfa >"$W/o" 2>&1; show "$W/o"
check "nfa mode allows the impossible path" 'has "$W/o" "^nfa" && has "$W/o" "^exit 0"'
$CTL run -p "$N" -m nfa -- "$MK" 1:0 >"$W/o" 2>&1
check "nfa mode still refuses what the flattened model refuses" 'has "$W/o" "^signal 9"'
$CTL read >/dev/null
