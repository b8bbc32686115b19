# SPDX-License-Identifier: GPL-2.0
# Sourced by guest-tests.sh (in the guest, module unloaded): issue 18, log mode
# keeps watching (specs/kernel-abi.md, "Log mode"). The resync example policy
# (kmod/core/tests/blob_build.c, tb_resync_example): main only, open(0) read(1)
# read(1) write(2); close(3) is allowed nowhere. After a refused close at the
# root, the next LIBC marker allowed somewhere in main resumes checking, so
# every refused close is recorded; a thread that exits still lost reports the
# markers that went unchecked (reason 28, id = their number).

insmod "$KO" >"$W/rm" 2>&1; rc=$?
show "$W/rm"
check "resync: the module loads again" '[ $rc -eq 0 ] && $CTL status >/dev/null'
$CTL mkblob resync "$W/resync.blob"
R=$($CTL load "$W/resync.blob")
$CTL read >/dev/null
# open | close(1) read | close(2) read | close(3) write | close(4) close open | close(5) close close
$CTL run -p "$R" -a log -- "$MK" 1:0 1:3 1:1 1:3 1:1 1:3 1:2 1:3 1:3 1:0 1:3 1:3 1:3 say:end >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"; show "$W/r"
check "resync: log mode, five refused closes at the root: the process runs to its end" \
	'has "$W/o" "^end" && has "$W/o" "^exit 0"'
check "resync: each of the five refusals is recorded, each in the state the resync led to" \
	'[ "$(count "$W/r" "reason $R_NOT_ALLOWED action $LOG nr $MARKER_NR kind $K_LIBC id 3 ")" = 5 ] &&
	 [ "$(count "$W/r" "reason $R_NOT_ALLOWED action $LOG nr $MARKER_NR kind $K_LIBC id 3 tag 0 mstate 2 depth 1 flags $F_MARKER ")" = 2 ] &&
	 [ "$(count "$W/r" "reason $R_NOT_ALLOWED action $LOG nr $MARKER_NR kind $K_LIBC id 3 tag 0 mstate 7 depth 1 flags $F_MARKER ")" = 2 ] &&
	 [ "$(count "$W/r" "reason $R_NOT_ALLOWED action $LOG nr $MARKER_NR kind $K_LIBC id 3 tag 0 mstate 5 depth 1 flags $F_MARKER ")" = 1 ]'
check "resync: exited still lost: one record (28) with the 2 markers that went unchecked" \
	'has "$W/r" "^records 6 " && [ "$(count "$W/r" "reason $R_UNRESYNCED ")" = 1 ] &&
	 has "$W/r" "reason $R_UNRESYNCED action $LOG nr 0 kind 0 id 2 tag 0 mstate 2 depth 1 flags 0 stack 0$"'
# Resynchronised before the end: no record 28.
$CTL run -p "$R" -a log -- "$MK" 1:0 1:3 1:3 1:1 say:end >"$W/o" 2>&1
$CTL read >"$W/r"; show "$W/r"
check "resync: resynchronised before exit (read after two closes): one record, no reason 28" \
	'has "$W/o" "^end" && has "$W/r" "^records 1 " && [ "$(count "$W/r" "reason $R_UNRESYNCED ")" = 0 ]'
# Kill mode never resynchronises: the first refusal kills.
$CTL run -p "$R" -- "$MK" 1:0 1:3 1:1 say:CANARY >"$W/o" 2>&1
$CTL read >"$W/r"; show "$W/r"
check "resync: kill mode is unchanged (killed at the first close, one record)" \
	'has "$W/o" "^signal 9" && hasnt "$W/o" CANARY && has "$W/r" "^records 1 " && has "$W/r" "reason $R_NOT_ALLOWED action $KILL nr $MARKER_NR kind $K_LIBC id 3 "'
$CTL unload "$R" >/dev/null
rmmod sbx_dyck >"$W/rm" 2>&1; rc=$?
check "resync: rmmod succeeds" '[ $rc -eq 0 ]'
