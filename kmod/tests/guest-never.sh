# SPDX-License-Identifier: GPL-2.0
# Sourced by guest-tests.sh (in the guest, module unloaded): the system calls a
# sandboxed thread may never make, and the forced unload (issue 15, items 2
# and 3; specs/kernel-abi.md, "Never allowed" and "Forced unload"). Each
# forbidden call is first run natively (the kernel performs it: its result,
# and for the attacks what it changed), then under the unbound policy (no
# system call is checked) and under the bound one (whose start window allows
# every call but mkdir): killed before it returns, with its record.

insmod "$KO" >"$W/rm" 2>&1; rc=$?
show "$W/rm"
check "never: the module loads again (with its kprobes)" '[ $rc -eq 0 ] && $CTL status >/dev/null'
D=$($CTL load "$W/dyck.blob")
B=$($CTL load "$W/bound.blob")
$CTL read >/dev/null

# NAME NR REASON KIND NATIVE: the step never:NAME, its system call number, the
# reason of its record (SBX_REASON_FORBIDDEN_SYSCALL, or SBX_REASON_PROC_MEM_WRITE
# for a /proc/<pid>/mem opened for writing), the
# record's kind (the forbidden argument; for /proc/<pid>/mem the file's flags,
# O_RDWR|O_LARGEFILE) and what a native run prints.
while read -r name nr reason kind native; do
	eval "reason=\$R_$reason"
	"$MK" "never:$name" say:CANARY >"$W/o" 2>&1
	check "never $name: native: the kernel performs it ($(sed -n "s/^never $name //p" "$W/o"))" \
		'has "$W/o" "^never $name $native" && has "$W/o" "^CANARY"'
	for P in "$D" "$B"; do
		$CTL run -p "$P" -- "$MK" "never:$name" say:CANARY >"$W/o" 2>&1
		$CTL read >"$W/r"
		check "never $name: policy $P: killed before the call returns; record reason $reason nr $nr kind $kind" \
			'has "$W/o" "^signal 9" && hasnt "$W/o" "^never" && hasnt "$W/o" CANARY && has "$W/r" "^records 1 " && has "$W/r" "reason $reason action $KILL nr $nr kind $kind "'
		[ "$(count "$W/r" "reason $reason action $KILL nr $nr kind $kind ")" = 1 ] || { show "$W/o"; show "$W/r"; }
	done
done <<'LIST'
init_module 175 FORBIDDEN_SYSCALL 0 -8
finit_module 313 FORBIDDEN_SYSCALL 0 -9
delete_module 176 FORBIDDEN_SYSCALL 0 -2
kexec_load 246 FORBIDDEN_SYSCALL 0 0
kexec_file_load 320 FORBIDDEN_SYSCALL 0 -
bpf 321 FORBIDDEN_SYSCALL 0 -22
seccomp 317 FORBIDDEN_SYSCALL 0 0
prctl-seccomp 157 FORBIDDEN_SYSCALL 22 0
prctl-dispatch 157 FORBIDDEN_SYSCALL 59 0
ptrace 101 FORBIDDEN_SYSCALL 0 0
process_vm_writev 311 FORBIDDEN_SYSCALL 0 8 word 0x2222
personality 135 FORBIDDEN_SYSCALL 4194304 0 read-implies-exec 1
procmem-self 257 PROC_MEM_WRITE 32770 0 word 0x3333
procmem-parent 257 PROC_MEM_WRITE 32770 0
LIST

for P in "$D" "$B"; do
	$CTL run -p "$P" -- "$MK" never:prctl-name never:prctl-get-seccomp never:personality-query \
		never:personality-same never:procmem-read say:end >"$W/o" 2>&1; show "$W/o"
	$CTL read >"$W/r"
	check "never: policy $P: prctl(PR_SET_NAME), prctl(PR_GET_SECCOMP), personality queries and /proc/self/mem read-only are allowed" \
		'has "$W/o" "^never prctl-name 0" && has "$W/o" "^never prctl-get-seccomp 0" && has "$W/o" "^never personality-query 0" && has "$W/o" "^never personality-same 0" && has "$W/o" "^never procmem-read 0" && has "$W/o" "^exit 0" && has "$W/r" "^records 0 "'
done
$CTL run -p "$B" -- "$MK" say:start 2:0 never:prctl-name say:CANARY >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"; show "$W/r"
check "never: a prctl the window does not allow stays a window violation (reason 20), not allowed by the argument check" \
	'has "$W/o" "^signal 9" && hasnt "$W/o" CANARY && has "$W/r" "reason $R_SYSCALL_WINDOW action $KILL nr 157 kind 0 id 4294967294 "'
$CTL run -p "$D" -a log -- "$MK" never:process_vm_writev never:procmem-self never:prctl-name say:end >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"; show "$W/r"
check "never, log mode: the calls run and each is recorded once" \
	'has "$W/o" "^never process_vm_writev 8 word 0x2222" && has "$W/o" "^never procmem-self 0 word 0x3333" && has "$W/o" "^end" && has "$W/r" "^records 2 " && has "$W/r" "reason $R_FORBIDDEN_SYSCALL action $LOG nr 311 " && has "$W/r" "reason $R_PROC_MEM_WRITE action $LOG nr 257 "'
$CTL run -p "$D" -a log -- "$MK" 1:1 never:ptrace say:end >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"; show "$W/r"
check "never, log mode: checked while resynchronising (window unknown): the marker, then PTRACE_ATTACH and _DETACH" \
	'has "$W/o" "^never ptrace 0" && has "$W/r" "^records 3 " && has "$W/r" "reason $R_NOT_ALLOWED action $LOG nr $MARKER_NR " && [ "$(count "$W/r" "reason $R_FORBIDDEN_SYSCALL action $LOG nr 101 ")" = 2 ]'
"$MK" never:procmem-self never:seccomp never:prctl-dispatch >"$W/o" 2>&1
check "never: unsandboxed processes are not affected while policies are loaded" \
	'has "$W/o" "^never procmem-self 0 word 0x3333" && has "$W/o" "^never seccomp 0" && has "$W/o" "^never prctl-dispatch 0"'

# --- forced unload -----------------------------------------------------------------
rm -f "$W/go"
$CTL run -p "$D" -- "$MK" $VALID "wait:$W/go" say:finished >"$W/o" 2>&1 &
bg=$!
until_true 60 '$CTL status >"$W/st"; has "$W/st" "enforced 1 "'
rmmod -f sbx_dyck >"$W/rm" 2>&1; rc=$?
show "$W/rm"
check "rmmod -f while a process is enforced is refused (the module stays)" '[ $rc -ne 0 ] && lsmod | grep -q "^sbx_dyck"'
"$MK" int80-rmmod-force:sbx_dyck >"$W/o2" 2>&1; show "$W/o2"
check "a forced delete_module through int 0x80 is refused too (EBUSY)" 'has "$W/o2" "^int80 -16$"'
"$MK" int80-rmmod-force:sbx_no_such_module >"$W/o2" 2>&1
check "a forced delete_module of another name is not ours to refuse (ENOENT)" 'has "$W/o2" "^int80 -2$"'
$CTL run -p "$D" -- "$MK" 1:1 say:CANARY >"$W/o2" 2>&1
check "the monitor still enforces after the refused unloads" 'has "$W/o2" "^signal 9" && hasnt "$W/o2" CANARY'
touch "$W/go"
wait $bg
check "the enforced process ran to its end" 'has "$W/o" "^finished" && has "$W/o" "^exit 0"'
$CTL unload "$D" >/dev/null; $CTL unload "$B" >/dev/null
$CTL read >/dev/null
rmmod -f sbx_dyck >"$W/rm" 2>&1; rc=$?
check "rmmod -f is refused even with nothing enforced" '[ $rc -ne 0 ] && lsmod | grep -q "^sbx_dyck"'
dmesg 2>/dev/null | grep "forced unload refused" | tail -2 | sed 's/^/# dmesg: /'
t=$(cat /proc/sys/kernel/tainted)
check "no forced-unload taint (R) after the refused rmmod -f ($t)" '[ $((t & 8)) -eq 0 ]'
until_true 30 '$CTL status >"$W/st"; has "$W/st" "policies 0 enforced 0 armed 0"'
show "$W/st"
rmmod sbx_dyck >"$W/rm" 2>&1; rc=$?
show "$W/rm"
check "rmmod without -f removes the module (kprobes detached)" '[ $rc -eq 0 ] && ! lsmod | grep -q "^sbx_dyck"'
"$MK" never:procmem-self >"$W/o" 2>&1
check "after removal, /proc/self/mem opens as before" 'has "$W/o" "^never procmem-self 0 word 0x3333"'
