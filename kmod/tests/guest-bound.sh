# SPDX-License-Identifier: GPL-2.0
# System-call binding (SBX_BLOB_F_BOUND): windows, the start
# and ambient sets, code mapping; pinned markers (SBX_BLOB_F_PINNED).
#
# Sourced by guest-tests.sh (in the guest) from the state of area_setup: the
# module not loaded, the example blobs in a fresh $W (guest-lib.sh).

module_load || return 0
$CTL mkblob bound "$W/bound.blob" && $CTL mkblob pinned "$W/pinned.blob"
B=$($CTL load "$W/bound.blob")
PB=$($CTL load "$W/pinned.blob")
check "load a bound and a pinned policy (ids $B, $PB)" '[ -n "$B" ] && [ -n "$PB" ]'
$CTL read >/dev/null
$CTL run -p "$B" -- "$MK" say:start 2:0 say:CANARY >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"; show "$W/r"
check "bound: the start window may write; program code (after CALL) may not: killed before the write" 'has "$W/o" "^start" && has "$W/o" "^signal 9" && hasnt "$W/o" "CANARY"'
check "record: reason 20, the system call (write, 1) and the window (none, 0xfffffffe)" 'has "$W/r" "reason $R_SYSCALL_WINDOW action $KILL nr 1 kind 0 id 4294967294 tag 0x40000000 mstate 4 depth 2 flags $F_KILLED "'
# (say:start first: stdio's first write to stdout also makes an fstat, which the
# start window allows and this test's write set does not.)
$CTL run -p "$B" -- "$MK" say:start 2:0 2:2 1:1 3:2 1:0 3:0 2:1 2:3 1:1 3:3 1:2 say:written 3:1 say:CANARY >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"; show "$W/r"
check "bound: LIBC write opens a window where write is allowed; RET closes it" 'has "$W/o" "^written" && has "$W/o" "^signal 9" && hasnt "$W/o" "CANARY"'
$CTL run -p "$B" -- "$MK" say:start 2:0 2:2 1:1 say:CANARY >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"; show "$W/r"
check "bound: read's window does not allow write" 'has "$W/o" "^signal 9" && hasnt "$W/o" "CANARY" && has "$W/r" "reason $R_SYSCALL_WINDOW action $KILL nr 1 kind 0 id 1 "'
rm -rf "$W/dir"
$CTL run -p "$B" -- "$MK" "mkdir:$W/dir" >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"
check "bound: the start window is a set too (mkdir refused before any marker)" 'has "$W/o" "^signal 9" && [ ! -e "$W/dir" ] && has "$W/r" "reason $R_SYSCALL_WINDOW action $KILL nr 83 kind 0 id 4294967295 "'
$CTL run -p "$B" -- "$MK" mmap-exec 2:0 mmap-rw exit:3 >"$W/o" 2>&1; show "$W/o"
check "bound: the start window may map code; program code may map data (ambient mmap)" 'has "$W/o" "^mmap-exec ok" && has "$W/o" "^exit 3"'
"$MK" mmap-anon-exec >"$W/o" 2>&1; show "$W/o"
check "control: natively, an anonymous executable mapping works" 'has "$W/o" "^mmap-anon-exec ok"'
$CTL run -p "$B" -- "$MK" mmap-anon-exec >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"; show "$W/r"
check "bound: code only from files, even where code may be mapped: an anonymous PROT_EXEC mapping in the start window is refused (reason 21)" 'has "$W/o" "^signal 9" && hasnt "$W/o" "mmap-anon-exec" && has "$W/r" "reason $R_EXEC_MAPPING action $KILL nr 9 kind 0 id 4294967295 "'
$CTL run -p "$B" -- "$MK" 2:0 mmap-exec >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"; show "$W/r"
check "bound: PROT_EXEC outside a code-mapping window is refused (reason 21), though mmap is ambient" 'has "$W/o" "^signal 9" && hasnt "$W/o" "mmap-exec" && has "$W/r" "reason $R_EXEC_MAPPING action $KILL nr 9 kind 0 id 4294967294 "'
$CTL run -p "$B" -- "$MK" thread say:inherited >"$W/o" 2>&1; show "$W/o"
check "bound: a new thread runs in its creator's window (start: it may write)" 'has "$W/o" "^inherited" && has "$W/o" "^exit 0"'
$CTL run -p "$B" -- "$MK" 2:0 thread say:CANARY >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"
check "bound: program code may not create a thread (clone3 outside the window)" 'has "$W/o" "^signal 9" && hasnt "$W/o" "CANARY" && has "$W/r" "reason $R_SYSCALL_WINDOW action $KILL "'
$CTL run -p "$B" -- "$MK" fork say:both >"$W/o" 2>&1; show "$W/o"
check "bound: a forked child keeps its parent's window" '[ "$(count "$W/o" "^both")" = 2 ] && has "$W/o" "^child exit 0"'
$CTL run -p "$B" -a log -- "$MK" 2:0 say:one say:two >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"; show "$W/r"
check "bound, log mode: the calls run and each is recorded" 'has "$W/o" "^one" && has "$W/o" "^two" && has "$W/o" "^exit 0" && [ "$(count "$W/r" "reason $R_SYSCALL_WINDOW action $LOG nr 1 ")" -ge 2 ]'
$CTL run -p "$PB" -- "$MK" say:start 2:0 say:CANARY >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"; show "$W/r"
check "pinned: a marker that is not its pinned site is killed (reason 22), the next call never runs" 'has "$W/o" "^start" && has "$W/o" "^signal 9" && hasnt "$W/o" "CANARY" && has "$W/r" "reason $R_UNPINNED action $KILL nr $MARKER_NR kind $K_CALL id 0 tag 0 mstate 1 depth 1 flags $F_MARKER_KILLED "'
$CTL run -p "$PB" -a log -- "$MK" 2:0 2:2 say:logged >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"; show "$W/r"
check "pinned, log mode: each forged marker is recorded and ignored (not stepped)" 'has "$W/o" "^logged" && [ "$(count "$W/r" "reason $R_UNPINNED action $LOG ")" = 2 ] && has "$W/r" "reason $R_UNPINNED action $LOG nr $MARKER_NR kind $K_CALL id 2 tag 0 mstate 1 depth 1 "'
$CTL unload "$B" >/dev/null; $CTL unload "$PB" >/dev/null
$CTL read >/dev/null
