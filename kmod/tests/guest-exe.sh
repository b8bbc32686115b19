# SPDX-License-Identifier: GPL-2.0
# Exe binding (SBX_ARM_F_EXE): an armed process may exec only
# its file.
#
# Sourced by guest-tests.sh (in the guest) from the state of area_setup: the
# module not loaded, the example blobs in a fresh $W (guest-lib.sh).

module_load || return 0
D=$($CTL load "$W/dyck.blob")
$CTL read >/dev/null
cp "$MK" "$W/mkB"
$CTL run -p "$D" --exe "$MK" -- "$MK" $VALID say:done >"$W/o" 2>&1; show "$W/o"
check "armed with --exe A: exec of A runs normally" 'has "$W/o" "^done" && has "$W/o" "^exit 0"'
$CTL read >"$W/r"
check "no record for a matching exec" 'has "$W/r" "^records 0 "'
rm -f "$W/canary"
$CTL run -p "$D" --exe "$MK" -- "$W/mkB" "touch:$W/canary" say:ran >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"; show "$W/r"
check "armed with --exe A: exec of B is killed before B runs (canary not written)" 'has "$W/o" "^signal 9" && hasnt "$W/o" "^ran" && [ ! -e "$W/canary" ]'
check "record: reason 19 (exe mismatch), killed, no frames" 'has "$W/r" "comm mkB policy $D reason $R_EXE_MISMATCH action $KILL nr 0 kind 0 id 0 tag 0 mstate 0 depth 0 flags $F_KILLED stack -$"'
$CTL run -p "$D" -a log --exe "$MK" -- "$W/mkB" "touch:$W/canary" >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"
check "exe mismatch kills in log mode too" 'has "$W/o" "^signal 9" && [ ! -e "$W/canary" ] && has "$W/r" "reason $R_EXE_MISMATCH action $LOG .* flags $F_KILLED "'
$CTL run -p "$D" --exe "$MK" --fail-first -- "$MK" $VALID say:done >"$W/o" 2>&1
check "a failed exec keeps the binding (the next exec of A runs)" 'has "$W/o" "^done" && has "$W/o" "^exit 0"'
$CTL run -p "$D" --exe "$MK" --exec unconfined -- "$MK" exec "$W/mkB" "touch:$W/canary" >"$W/o" 2>&1; show "$W/o"
check "the binding holds for one exec: the enforced process may then exec B (--exec unconfined)" 'has "$W/o" "^exit 0" && [ -e "$W/canary" ]'
rm -f "$W/canary"
$CTL run -p "$D" --exe-fd 99 -- "$MK" >"$W/o" 2>&1
check "arm with a bad exe descriptor: EBADF" 'has "$W/o" "arm: Bad file descriptor"'
$CTL run -p "$D" --exe "$W" -- "$MK" >"$W/o" 2>&1
check "arm bound to a directory: EINVAL" 'has "$W/o" "arm: Invalid argument"'
$CTL read >/dev/null
