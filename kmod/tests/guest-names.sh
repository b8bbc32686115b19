# SPDX-License-Identifier: GPL-2.0
# Sourced by guest-tests.sh (in the guest, module unloaded): issue 18, the
# kernel log names the libc function and the function of the top frame
# (specs/kernel-abi.md, "Names"). The example policy (kmod/core/tests/
# blob_build.c, tb_example and tb_example_names): symbols open(0) read(1)
# write(2); functions main a b h cb, main the root; sites 0 -> a, 1 -> b,
# 2..4 -> h. A blob without the names section loads and logs the line of a
# version 6 blob; a malformed names section is refused with EINVAL.

insmod "$KO" >"$W/rm" 2>&1; rc=$?
show "$W/rm"
check "names: the module loads again" '[ $rc -eq 0 ] && $CTL status >/dev/null'
# The kill lines share a global rate limit (10 per 5 s) with the suites before.
sleep 5
$CTL mkblob names "$W/names.blob" && $CTL mkblob nfa-names "$W/nfa-names.blob"
ND=$($CTL load "$W/names.blob")
NN=$($CTL load "$W/nfa-names.blob")
NO=$($CTL load "$W/dyck.blob")
check "names: blobs with names load (ids $ND, $NN), and one without ($NO)" \
	'[ -n "$ND" ] && [ -n "$NN" ] && [ -n "$NO" ]'
$CTL read >/dev/null
# new_log FILE: the kernel log lines since the last call.
dmesg >"$W/dm0"
new_log() { dmesg >"$W/dm1"; tail -n +$(($(wc -l <"$W/dm0") + 1)) "$W/dm1" | grep "sbx: violation" >"$1"; cp "$W/dm1" "$W/dm0"; }

# read at main's start: not allowed, at the root.
$CTL run -p "$ND" -- "$MK" 1:1 say:CANARY >"$W/o" 2>&1; show "$W/o"
new_log "$W/l"; show "$W/l"
$CTL read >"$W/r"; show "$W/r"
check "names: a kill at the root names the libc function and main" \
	'has "$W/o" "^signal 9" && hasnt "$W/o" CANARY &&
	 has "$W/l" "policy $ND: not allowed: read in main; syscall 999 kind 1 id 1, top 0x0 mstate 1 depth 1, killed$"'
check "names: the record is unchanged by the names" \
	'has "$W/r" "^records 1 " && has "$W/r" "reason 3 action 1 nr 999 kind 1 id 1 tag 0 mstate 1 depth 1 flags 0x9"'
# main -> a (site 0) -> h (site 2), then open in h: h only reads.
$CTL run -p "$ND" -- "$MK" 2:0 2:2 1:0 say:CANARY >"$W/o" 2>&1; show "$W/o"
new_log "$W/l"; show "$W/l"
check "names: a kill in a site frame names the site's callee (h)" \
	'has "$W/o" "^signal 9" && hasnt "$W/o" CANARY &&
	 has "$W/l" "policy $ND: not allowed: open in h; syscall 999 kind 1 id 0, top 0x40000002 mstate 10 depth 3, killed$"'
# A wrong return is no libc call: only the frame is named.
$CTL run -p "$ND" -- "$MK" 2:0 2:2 1:1 3:3 say:CANARY >"$W/o" 2>&1; show "$W/o"
new_log "$W/l"; show "$W/l"
check "names: a wrong return names the frame only" \
	'has "$W/o" "^signal 9" && has "$W/l" "policy $ND: wrong return: in h; syscall 999 kind 3 id 3, top 0x40000002 "'
# A LIBC id out of range names nothing (no symbol 7).
$CTL run -p "$ND" -- "$MK" 1:7 >"$W/o" 2>&1
new_log "$W/l"; show "$W/l"
check "names: an id out of range is not named, the frame is" \
	'has "$W/l" "policy $ND: id out of range: in main; syscall 999 kind 1 id 7, "'
# nfa mode: the root is main; log mode goes on after the refusal.
$CTL run -p "$NN" -m nfa -a log -- "$MK" 1:0 say:end >"$W/o" 2>&1; show "$W/o"
new_log "$W/l"; show "$W/l"
check "names: nfa mode, log action: the line names open and main, without killed" \
	'has "$W/o" "^end" && has "$W/l" "policy $NN: not allowed: open in main; syscall 999 kind 1 id 0, top 0x0 mstate 1 depth 1$"'
# The same kill under the blob without names: the old line.
$CTL run -p "$NO" -- "$MK" 1:1 say:CANARY >"$W/o" 2>&1; show "$W/o"
new_log "$W/l"; show "$W/l"
check "names: a blob without names still enforces and logs the old line" \
	'has "$W/o" "^signal 9" && hasnt "$W/o" CANARY &&
	 has "$W/l" "policy $NO: not allowed; syscall 999 kind 1 id 1, top 0x0 mstate 1 depth 1, killed$"'
$CTL read >/dev/null

# A blob of 3.3 MiB (300000 named symbols): sbxctl reads it whole (it used to cut
# blobs at 1 MiB, and LOAD failed with EINVAL), and the last names are found.
$CTL mkblob-big "$W/big.blob"
NB=$($CTL load "$W/big.blob")
$CTL run -p "$NB" -- "$MK" 1:299999 >"$W/o" 2>&1; show "$W/o"
new_log "$W/l"; show "$W/l"
check "names: a blob of $(stat -c %s "$W/big.blob") bytes loads; a kill names its symbol 299999" \
	'[ -n "$NB" ] && [ "$(stat -c %s "$W/big.blob")" -gt 3000000 ] && has "$W/o" "^signal 9" &&
	 has "$W/l" "policy $NB: not allowed: s299999 in main; syscall 999 kind 1 id 299999, "'
$CTL unload "$NB" >/dev/null
$CTL read >/dev/null

# Malformed names sections: each is refused with EINVAL (the userspace
# validator refuses it too, or mkblob-bad writes nothing).
refused=0
for what in escape newline space high unterminated trailing cut size count callees root callee offset empty; do
	rm -f "$W/bad.blob"
	$CTL mkblob-bad "$what" "$W/bad.blob" && $CTL try-load "$W/bad.blob" >"$W/o" 2>&1 && has "$W/o" "^load 22 id 0$" &&
		refused=$((refused + 1)) || echo "# names: $what not refused with EINVAL: $(cat "$W/o" 2>/dev/null)"
done
check "names: 14 malformed names sections (control bytes, space, non-ASCII, no NUL, bytes after the last NUL, cut, size, counts, root, callee, offsets, an empty name) are refused with EINVAL" \
	'[ $refused = 14 ]'
$CTL policies >"$W/pol"; show "$W/pol"
check "names: nothing else got loaded" '[ "$(count "$W/pol" "^policy ")" = 3 ]'
$CTL unload "$ND" >/dev/null; $CTL unload "$NN" >/dev/null; $CTL unload "$NO" >/dev/null
rmmod sbx_dyck >"$W/rm" 2>&1; rc=$?
check "names: rmmod succeeds" '[ $rc -eq 0 ]'
