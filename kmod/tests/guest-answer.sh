# SPDX-License-Identifier: GPL-2.0
# Sourced by guest-tests.sh (in the guest, module unloaded): the answers to
# markers (issue 19, "The nfa mode does not pay for CALL/RET";
# specs/marker-abi.md, "Answers"; specs/kernel-abi.md, "Answers to markers").
# An allowed CALL, RET or TAIL of a thread enforced in nfa mode returns
# SBX_MARKER_NO_SITES (1396856833); every other marker, and every marker in
# dyck mode, of a thread that is not enforced or with the module parameter
# nfa_site_answer off, returns -ENOSYS (-38) as without the module. The
# answer never changes what is checked: a dyck stream without its site
# markers is still refused.

NO_SITES=1396856833
insmod "$KO" >"$W/rm" 2>&1; rc=$?
show "$W/rm"
P=/sys/module/sbx_dyck/parameters/nfa_site_answer
check "answer: the module loads again, nfa_site_answer is on by default" '[ $rc -eq 0 ] && [ "$(cat $P)" = Y ]'
AD=$($CTL load "$W/dyck.blob")
AN=$($CTL load "$W/nfa.blob")
$CTL read >/dev/null

"$MK" ans:2:0 ans:3:0 ans:1:1 >"$W/o" 2>&1; show "$W/o"
check "answer: natively every marker fails with ENOSYS" \
	'[ "$(count "$W/o" " -38$")" = 3 ] && has "$W/o" "^ans 2:0 -38$"'

# The impossible path of the example: allowed in nfa mode (a LIBC, CALL, RET
# and TAIL-free stream of the flattened model's calls).
$CTL run -p "$AN" -m nfa -- "$MK" ans:2:0 ans:2:2 ans:1:1 ans:3:3 ans:1:2 say:nfa >"$W/o" 2>&1; show "$W/o"
check "answer: nfa mode answers CALL and RET with SBX_MARKER_NO_SITES, LIBC with ENOSYS" \
	'has "$W/o" "^ans 2:0 $NO_SITES$" && has "$W/o" "^ans 2:2 $NO_SITES$" && has "$W/o" "^ans 3:3 $NO_SITES$" &&
	 has "$W/o" "^ans 1:1 -38$" && has "$W/o" "^ans 1:2 -38$" && has "$W/o" "^nfa" && has "$W/o" "^exit 0"'
$CTL run -p "$AN" -m nfa -- "$MK" ans:6:4 ans:4:4 1:2 ans:5:4 say:nfa >"$W/o" 2>&1; show "$W/o"
check "answer: nfa mode answers TAIL too, never CB_ENTER or CB_EXIT" \
	'has "$W/o" "^ans 6:4 $NO_SITES$" && has "$W/o" "^ans 4:4 -38$" && has "$W/o" "^ans 5:4 -38$" && has "$W/o" "^exit 0"'
$CTL run -p "$AN" -m nfa -- "$MK" ans:2:99 say:CANARY >"$W/o" 2>&1; show "$W/o"
check "answer: a refused site marker (id out of range) gets no answer: killed" \
	'has "$W/o" "^signal 9" && hasnt "$W/o" "^ans" && hasnt "$W/o" "CANARY"'
$CTL run -p "$AN" -m nfa -- "$MK" fork ans:2:0 >"$W/o" 2>&1; show "$W/o"
check "answer: a forked child of an nfa process is answered too" \
	'[ "$(count "$W/o" "^ans 2:0 $NO_SITES$")" = 2 ] && has "$W/o" "^child exit 0"'

$CTL run -p "$AD" -- "$MK" ans:2:0 ans:2:2 ans:1:1 ans:3:2 1:0 3:0 2:1 2:3 1:1 3:3 1:2 ans:3:1 say:dyck >"$W/o" 2>&1; show "$W/o"
check "answer: dyck mode answers every marker with ENOSYS" \
	'[ "$(count "$W/o" "^ans .* -38$")" = 5 ] && hasnt "$W/o" "$NO_SITES" && has "$W/o" "^dyck" && has "$W/o" "^exit 0"'
# What a program whose flag was set in dyck mode sends: its CALL/RET missing.
$CTL run -p "$AD" -- "$MK" 2:0 1:1 say:CANARY >"$W/o" 2>&1; show "$W/o"
check "answer: dyck mode, a stream without its CALL 2 (a skipped site marker) is killed" \
	'has "$W/o" "^signal 9" && hasnt "$W/o" "CANARY"'

echo N >"$P"
$CTL run -p "$AN" -m nfa -- "$MK" ans:2:0 ans:1:1 ans:3:0 >"$W/o" 2>&1; show "$W/o"
check "answer: nfa_site_answer off: nfa mode answers with ENOSYS too" \
	'[ "$(count "$W/o" "^ans .* -38$")" = 3 ] && has "$W/o" "^exit 0"'
echo Y >"$P"
$CTL read >"$W/r"
check "answer: no violation but the two kills" 'has "$W/r" "^records 2 "'
$CTL unload "$AD" >/dev/null; $CTL unload "$AN" >/dev/null
rmmod sbx_dyck >"$W/rm" 2>&1; rc=$?
check "answer: rmmod succeeds" '[ $rc -eq 0 ]'
