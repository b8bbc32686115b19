# SPDX-License-Identifier: GPL-2.0
# Sourced by guest-tests.sh (in the guest, module unloaded): the command name in
# the kernel log's violation line is escaped (specs/kernel-abi.md,
# "Violations"). A thread chooses its name with prctl(PR_SET_NAME); printed as
# it is, a newline in it would start a forged "sbx: violation" line and an
# escape byte would drive the terminal of whoever reads the log.

module_load || return 0
# The kill lines share a global rate limit (10 per 5 s) with the areas before.
sleep 5
D=$($CTL load "$W/dyck.blob")
$CTL read >/dev/null
dmesg >"$W/dm0"
# The name: "a", LF, "sbx: v", ESC "[2J", a backslash and 0xff (14 bytes, 15 is
# the most a name holds), and as the line must show it.
NAME=610a7362783a20761b5b324a5cff
ESCAPED='(a\x0asbx:\x20v\x1b[2J\x5c\xff) policy '"$D"': not allowed; syscall 999 kind 1 id 1, top 0x0 mstate 1 depth 1, killed'
# LIBC 1 (read) at main's start is not allowed by the example policy: a kill.
$CTL run -p "$D" -- "$MK" comm:$NAME 1:1 say:CANARY >"$W/o" 2>&1; show "$W/o"
dmesg >"$W/dm1"
tail -n +$(($(wc -l <"$W/dm0") + 1)) "$W/dm1" >"$W/new"
show "$W/new"
check "comm: the name is set (prctl returns 0) and the marker kills the program" \
	'has "$W/o" "^comm 0" && has "$W/o" "^signal 9" && hasnt "$W/o" CANARY'
# Unescaped, the newline splits the record into two log lines, the second
# starting "sbx: v" (the module before the escaping fails this check and the
# next; the guest's dmesg shows the other control bytes escaped either way, so
# only the exact escaped line tells them apart).
check "comm: the violation is one log line, no forged second one" \
	'[ "$(grep -c "sbx: v" "$W/new")" = 1 ] && [ "$(grep -c "sbx: violation" "$W/new")" = 1 ]'
check "comm: the newline, space, escape, backslash and 0xff are written as \\xHH" \
	'grep -F -q -- "$ESCAPED" "$W/new"'
# A name of printable ASCII without a backslash or space stands as it is.
$CTL run -p "$D" -- "$MK" comm:706c61696e2d6e616d65 1:1 >"$W/o" 2>&1; show "$W/o"
dmesg >"$W/dm2"
tail -n +$(($(wc -l <"$W/dm1") + 1)) "$W/dm2" >"$W/new"
show "$W/new"
check "comm: a plain name is printed unchanged" \
	'has "$W/o" "^signal 9" && grep -F -q -- "(plain-name) policy $D: not allowed" "$W/new"'
