# SPDX-License-Identifier: GPL-2.0
# Sourced by guest-tests.sh (in the guest, module unloaded): issue 17's monitor
# rules in the kernel (specs/kernel-abi.md, "Stepping"). Recursion through one
# site folds into one slot, so it goes past the 64 slots of the deep policy up
# to its depth bound (max_depth 100), where it is killed with reason 7; a
# longjmp after a nested setjmp's frame returned resumes the live outer record.

insmod "$KO" >"$W/rm" 2>&1; rc=$?
show "$W/rm"
check "sj: the module loads again" '[ $rc -eq 0 ] && $CTL status >/dev/null'
D=$($CTL load "$W/dyck.blob")
P=$($CTL load "$W/deep.blob")
$CTL read >/dev/null
$CTL run -p "$P" -- "$MK" $(for i in $(seq 99); do printf '2:0 '; done) say:hundred 2:0 say:after >"$W/o" 2>&1
$CTL read >"$W/r"; show "$W/r"
check "sj: 99 calls through one site (depth 100) fit 64 slots; the 100th is over max_depth (7)" \
    'has "$W/o" "^hundred" && hasnt "$W/o" "^after" && has "$W/o" "^signal 9" && has "$W/r" "reason $R_STACK_OVERFLOW action $KILL nr $MARKER_NR kind $K_CALL id 0 tag 0x40000000 mstate 1 depth 100 "'
# main saves (1); a -> h saves (1) and returns; b -> h: the stack is as deep as
# when h saved; longjmp (1): the dead record of h must not be taken, main's is.
$CTL run -p "$D" -- "$MK" 7:1 2:0 2:2 7:1 1:1 3:2 1:0 3:0 2:1 2:3 8:1 \
    2:0 2:2 1:1 3:2 1:0 3:0 2:1 2:3 1:1 3:3 1:2 3:1 say:resumed >"$W/o" 2>&1; show "$W/o"
check "sj: a longjmp after the nested setjmp's frame returned resumes main's record" \
    'has "$W/o" "^resumed" && has "$W/o" "^exit 0" && hasnt "$W/o" "^signal"'
$CTL run -p "$D" -- "$MK" 2:0 2:2 7:1 1:1 3:2 1:0 3:0 2:1 2:3 8:1 say:after >"$W/o" 2>&1
$CTL read >"$W/r"; show "$W/r"
check "sj: without main's record the dead one is not taken: no setjmp (8)" \
    'has "$W/o" "^signal 9" && hasnt "$W/o" "^after" && has "$W/r" "reason $R_NO_SETJMP .* depth 3 "'
$CTL unload "$P" >/dev/null
$CTL unload "$D" >/dev/null
until_true 30 '$CTL status >"$W/st"; has "$W/st" "policies 0 enforced 0 armed 0"'
rmmod sbx_dyck >"$W/rm" 2>&1; rc=$?
check "sj: rmmod succeeds" '[ $rc -eq 0 ]'
