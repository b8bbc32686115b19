# SPDX-License-Identifier: GPL-2.0
# Sourced by guest-tests.sh (in the guest, module unloaded): the syscall
# tracing flag (issue 19; specs/kernel-abi.md, "The tracing flag"). The module
# takes every thread that is not armed or enforced off the kernel's syscall
# tracing path, so each way a thread or process of an enforced one is made
# (pthread_create, a raw clone, fork) and an exec through the registry must
# still be checked: a mkdir the bound policy's start window forbids is made
# natively first (it works), then under the policy (killed before it runs).
# Then other users of the syscall tracepoints (ftrace's raw_syscalls events)
# must still see the system calls of every process, whether they come after
# the module or before it.

insmod "$KO" >"$W/rm" 2>&1; rc=$?
show "$W/rm"
check "flag: the module loads again" '[ $rc -eq 0 ] && $CTL status >/dev/null'
B=$($CTL load "$W/bound.blob")
$CTL read >/dev/null
rm -rf "$W/fl"; mkdir "$W/fl"

# NAME STEPS-BEFORE-MKDIR: the mkdir is made by the new thread or process.
for how in thread rawthread fork; do
	case $how in
	thread) steps="thread mkdir:"; out="^mkdir 0" ;;
	rawthread) steps="rawthread-mkdir:"; out="^rawthread mkdir 0" ;;
	fork) steps="fork mkdir:"; out="^mkdir 0" ;;
	esac
	"$MK" $steps"$W/fl/native-$how" >"$W/o" 2>&1
	check "flag: $how: natively, the new thread or process makes the mkdir" \
		'has "$W/o" "$out" && [ -d "$W/fl/native-$how" ]'
	$CTL run -p "$B" -- "$MK" $steps"$W/fl/enf-$how" say:CANARY >"$W/o" 2>&1; show "$W/o"
	$CTL read >"$W/r"; show "$W/r"
	check "flag: $how of an enforced process: the mkdir is refused before it runs (killed, reason 20 nr 83)" \
		'[ ! -e "$W/fl/enf-$how" ] && hasnt "$W/o" "mkdir 0" && hasnt "$W/o" CANARY && has "$W/r" "reason $R_SYSCALL_WINDOW action $KILL nr 83 "'
	if [ $how = fork ]; then
		check "flag: fork: it is the child that was killed" 'has "$W/o" "^child signal 9"'
	else
		check "flag: $how: the process was killed" 'has "$W/o" "^signal 9"'
	fi
done
# A thread that was never armed gets the flag from the exec that enforces it.
cp "$MK" "$W/fl/mk-inst"
"$W/fl/mk-inst" "rawthread-mkdir:$W/fl/native-inst" >"$W/o" 2>&1
check "flag: installed file, before its install: the mkdir works" 'has "$W/o" "^rawthread mkdir 0"'
$CTL install "$B" --exe "$W/fl/mk-inst" >"$W/o" 2>&1; show "$W/o"
check "flag: install the bound policy for a copy of sbx_markers" 'has "$W/o" "^install 0 "'
"$MK" "rawthread-mkdir:$W/fl/other" >"$W/o" 2>&1
check "flag: with a policy installed, an unrelated process is not checked" 'has "$W/o" "^rawthread mkdir 0"'
sh -c '"$1" "rawthread-mkdir:$2" say:CANARY; echo "status $?"' sh "$W/fl/mk-inst" "$W/fl/enf-inst" >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"; show "$W/r"
check "flag: exec of the installed file: its raw thread's mkdir is refused (killed)" \
	'[ ! -e "$W/fl/enf-inst" ] && has "$W/o" "^status 137" && hasnt "$W/o" CANARY && has "$W/r" "reason $R_SYSCALL_WINDOW action $KILL nr 83 "'
$CTL remove --exe "$W/fl/mk-inst" >/dev/null
$CTL unload "$B" >/dev/null
$CTL read >/dev/null

# Other tracers: ftrace's raw_syscalls:sys_enter, filtered on getppid (110).
T=/sys/kernel/tracing
[ -e "$T/trace" ] || mount -t tracefs nodev "$T" 2>/dev/null
ev=$T/events/raw_syscalls/sys_enter
# trace_getppid: run sysloop:5 (five getppid calls) and count them in the trace.
trace_getppid() {
	echo >"$T/trace"
	"$MK" sysloop:5 >/dev/null
	grep -c "sbx_markers-.* NR 110 " "$T/trace"
}
if [ -w "$ev/enable" ]; then
	echo "id == 110" >"$ev/filter"
	echo 1 >"$ev/enable"
	c=$(trace_getppid)
	check "flag: a tracer attached after the module sees every getppid of an unrelated process ($c of 5)" '[ "$c" -ge 5 ]'
	dmesg | grep "syscall tracing path" | tail -1 | sed 's/^/# dmesg: /'
	echo 0 >"$ev/enable"
	rmmod sbx_dyck; rc=$?
	echo 1 >"$ev/enable"
	insmod "$KO" >"$W/rm" 2>&1; rc=$((rc + $?))
	c=$(trace_getppid)
	check "flag: a tracer attached before the module keeps seeing every getppid ($c of 5)" '[ $rc -eq 0 ] && [ "$c" -ge 5 ]'
	echo 0 >"$ev/enable"
	echo 0 >"$ev/filter"
else
	ok "flag: other tracers # SKIP no tracefs in this guest"
fi
rmmod sbx_dyck >"$W/rm" 2>&1; rc=$?
check "flag: rmmod succeeds" '[ $rc -eq 0 ]'
