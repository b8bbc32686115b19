# SPDX-License-Identifier: GPL-2.0
# Sourced by guest-tests.sh (in the guest, module unloaded): issue 19, buffered
# events (specs/kernel-abi.md, "Buffered events"). sbx_evbuf (kmod/tests/
# sbx_evbuf.c) has its own __sbx_evbuf TLS buffer and .sbx_evbuf section and
# appends events to it, or forges them; the blobs are the core tests' example
# (tb_example: symbols open 0, read 1, write 2) with the buffer at the
# program's offset, read and write bufferable, open not. The module replays
# the buffer at every system call of the thread, before checking it.

EB=$BIN/sbx_evbuf
R_BUFFER=$(abi SBX_REASON_BUFFER)
insmod "$KO" >"$W/rm" 2>&1; rc=$?
show "$W/rm"
check "buffer: the module loads again" '[ $rc -eq 0 ] && $CTL status >/dev/null'
"$EB" tpoff >"$W/t" 2>&1; show "$W/t"
"$EB"-nopie tpoff >"$W/t2" 2>&1; show "$W/t2"
TPOFF=$(sed -n 's/^tpoff \(-[0-9]*\) .*/\1/p' "$W/t")
check "buffer: the static linker resolves .sbx_evbuf's @tpoff to the run-time offset (PIE and not)" \
	'[ -n "$TPOFF" ] && has "$W/t" "^tpoff $TPOFF section $TPOFF version 1 cap 32$" &&
	 has "$W/t2" "^tpoff \(-[0-9]*\) section \1 version 1 cap 32$"'
$CTL mkblob buffered "$W/buf.blob" "$TPOFF"
$CTL mkblob bound-buffered "$W/bbuf.blob" "$TPOFF"
$CTL mkblob buffered "$W/far.blob" -1073741824
B=$($CTL load "$W/buf.blob")
BB=$($CTL load "$W/bbuf.blob")
D=$($CTL load "$W/dyck.blob")
F=$($CTL load "$W/far.blob")
$CTL read >/dev/null

# The example's allowed run, open as a synchronous marker, every other event buffered.
BUFFERED_VALID="b:2:0 b:2:2 b:1:1 b:3:2 m:1:0 b:3:0 b:2:1 b:2:3 b:1:1 b:3:3 b:1:2 b:3:1"
$CTL run -p "$B" -- "$EB" $BUFFERED_VALID brk state say:done >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"; show "$W/r"
check "buffer: an allowed run with buffered events passes, and each drain clears the buffer" \
	'has "$W/o" "^count 0 used 0$" && has "$W/o" "^done$" && has "$W/o" "^exit 0" && has "$W/r" "^records 0 "'
$CTL run -p "$BB" -- "$EB" ${BUFFERED_VALID% b:3:1} brk say:done >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"; show "$W/r"
check "buffer: bound, the buffered write opens write's window: the program writes" \
	'has "$W/o" "^done$" && has "$W/o" "^exit 0" && has "$W/r" "^records 0 "'

$CTL run -p "$B" -- "$EB" b:2:1 say:after >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"; show "$W/r"
check "buffer: a forged event that is no path is refused at the next system call (write): killed" \
	'has "$W/o" "^signal 9" && hasnt "$W/o" "^after" &&
	 has "$W/r" "reason $R_NOT_ALLOWED action $KILL nr 1 kind $K_CALL id 1 tag 0 mstate 1 depth 1 flags $F_MARKER_KILLED "'

$CTL run -p "$B" -- "$EB" b:2:0 b:2:2 b:1:1 b:3:2 b:1:0 say:after >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"; show "$W/r"
check "buffer: a forged LIBC event of a sensitive symbol (open) where open is allowed: reason 29" \
	'has "$W/o" "^signal 9" && hasnt "$W/o" "^after" &&
	 has "$W/r" "reason $R_BUFFER action $KILL nr 1 kind $K_LIBC id 0 tag 0x40000000 mstate 5 depth 2 flags $F_MARKER_KILLED "'
$CTL run -p "$B" -- "$EB" w:0:7:1 say:after >"$W/o" 2>&1
$CTL read >"$W/r"; show "$W/r"
check "buffer: a forged SJ_SAVE word (always synchronous): reason 29" \
	'has "$W/o" "^signal 9" && hasnt "$W/o" "^after" && has "$W/r" "reason $R_BUFFER action $KILL nr 1 kind $K_SJ_SAVE id 1 "'
$CTL run -p "$B" -- "$EB" w:0:2:5 say:after >"$W/o" 2>&1
$CTL read >"$W/r"; show "$W/r"
check "buffer: a forged CALL word of site 5 of 5: reason 29" \
	'has "$W/o" "^signal 9" && has "$W/r" "reason $R_BUFFER action $KILL nr 1 kind $K_CALL id 5 "'

$CTL run -p "$BB" -- "$EB" b:2:0 b:2:2 b:1:1 exec >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"; show "$W/r"
check "buffer: bound, a forged path into read, then execve: outside read's window (20), killed" \
	'has "$W/o" "^signal 9" && hasnt "$W/o" "exec failed" &&
	 has "$W/r" "reason $R_SYSCALL_WINDOW action $KILL nr 59 kind 0 id 1 "'

$CTL run -p "$B" -- "$EB" count:4294967295 w:0:2:0 w:1:2:2 w:2:1:1 w:3:3:2 brk state say:ok >"$W/o" 2>&1
show "$W/o"; $CTL read >"$W/r"; show "$W/r"
check "buffer: an attacker's count of 2^32-1 is clamped: the four events are replayed, the buffer cleared" \
	'has "$W/o" "^count 0 used 0$" && has "$W/o" "^ok$" && has "$W/o" "^exit 0" && has "$W/r" "^records 0 "'
$CTL run -p "$B" -- "$EB" count:4294967295 w:0:2:0 w:31:2:1 say:after >"$W/o" 2>&1
$CTL read >"$W/r"; show "$W/r"
check "buffer: ... and slot 31 behind it is taken too (CALL 1 after CALL 0: refused)" \
	'has "$W/o" "^signal 9" && has "$W/r" "reason $R_NOT_ALLOWED action $KILL nr 1 kind $K_CALL id 1 tag 0x40000000 "'
$CTL run -p "$B" -- "$EB" count:1 w:0:2:0 w:1:2:2 w:3:2:1 brk state say:ok >"$W/o" 2>&1
show "$W/o"; $CTL read >"$W/r"; show "$W/r"
check "buffer: the slot rule: slot 0 below the count, slot 1 after it, not slot 3 behind a free slot 2" \
	'has "$W/o" "^count 0 used 1$" && has "$W/o" "^ok$" && has "$W/o" "^exit 0" && has "$W/r" "^records 0 "'
# The drain reads the counted slots and the one after them first, and the
# rest only when that one is taken: here three slots past the count.
$CTL run -p "$B" -- "$EB" count:1 w:0:2:0 w:1:2:2 w:2:1:1 w:3:3:2 brk state say:ok >"$W/o" 2>&1
show "$W/o"; $CTL read >"$W/r"; show "$W/r"
check "buffer: the slot rule: slots 1, 2 and 3 after a count of 1 are all replayed, in order" \
	'has "$W/o" "^count 0 used 0$" && has "$W/o" "^ok$" && has "$W/o" "^exit 0" && has "$W/r" "^records 0 "'

# 33 events: the 33rd finds the buffer full and is issued as a marker, which
# drains the 32 before it first.
FULL="b:2:0"
for i in 1 2 3 4 5 6 7 8 9 10; do FULL="$FULL b:4:4 b:1:2 b:5:4"; done
$CTL run -p "$B" -- "$EB" $FULL b:2:2 b:1:1 state brk state say:ok >"$W/o" 2>&1
show "$W/o"; $CTL read >"$W/r"; show "$W/r"
check "buffer: a full buffer falls back to the synchronous marker, in order" \
	'has "$W/o" "^count 0 used 0$" && [ "$(count "$W/o" "^count 0 used 0$")" = 2 ] &&
	 has "$W/o" "^ok$" && has "$W/o" "^exit 0" && has "$W/r" "^records 0 "'

$CTL run -p "$D" -- "$EB" b:2:1 brk state say:ok >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"; show "$W/r"
check "buffer: a blob without SBX_BLOB_F_BUFFERED never reads the buffer" \
	'has "$W/o" "^count 1 used 1$" && has "$W/o" "^ok$" && has "$W/r" "^records 0 "'

$CTL run -p "$B" -a log -- "$EB" b:2:0 b:2:2 b:1:1 b:3:2 b:1:0 brk say:after >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"; show "$W/r"
check "buffer: log mode records the forged open (29) and lets the process run" \
	'has "$W/o" "^after$" && has "$W/o" "^exit 0" &&
	 has "$W/r" "reason $R_BUFFER action $LOG nr 12 kind $K_LIBC id 0 tag 0x40000000 mstate 5 depth 2 flags $F_MARKER "'

$CTL run -p "$F" -- "$EB" say:after >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"; show "$W/r"
check "buffer: a buffer that cannot be read (1 GiB below the thread pointer) fails closed: 29, kind 0 id 0" \
	'has "$W/o" "^signal 9" && hasnt "$W/o" "^after" && has "$W/r" "reason $R_BUFFER action $KILL nr [0-9]* kind 0 id 0 "'

for p in "$B" "$BB" "$D" "$F"; do $CTL unload "$p" >/dev/null; done
until_true 30 '$CTL status >"$W/st"; has "$W/st" "policies 0 enforced 0 armed 0"'
rmmod sbx_dyck >"$W/rm" 2>&1; rc=$?
check "buffer: rmmod succeeds" '[ $rc -eq 0 ]'
