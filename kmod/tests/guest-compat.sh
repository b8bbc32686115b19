# SPDX-License-Identifier: GPL-2.0
# Compat system calls (int 0x80) and io_uring, refused to
# enforced threads only.
#
# Sourced by guest-tests.sh (in the guest) from the state of area_setup: the
# module not loaded, the example blobs in a fresh $W (guest-lib.sh).

module_load || return 0
D=$($CTL load "$W/dyck.blob")
$CTL read >/dev/null
$CTL run -p "$D" -- "$MK" "int80-mkdir:/dev/shm/int80k" say:after >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"; show "$W/r"
check "int 0x80 kills" 'has "$W/o" "^signal 9" && hasnt "$W/o" "^after"'
check "int 0x80 syscall blocked (no directory made on tmpfs)" '[ ! -e /dev/shm/int80k ]'
check "int 0x80 record: reason 16, nr 39, ia32|killed" 'has "$W/r" "reason $R_COMPAT_SYSCALL action $KILL nr 39 .* flags $F_IA32_KILLED"'
$CTL run -p "$D" -a log -- "$MK" "int80-mkdir:$W/int80l" >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"
check "int 0x80 in log mode: recorded and run" '[ -d "$W/int80l" ] && has "$W/r" "reason $R_COMPAT_SYSCALL action $LOG nr 39 .* flags $F_IA32"'
$CTL run -p "$D" -- "$MK" iouring say:after >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"; show "$W/r"
check "io_uring_setup kills" 'has "$W/o" "^signal 9" && hasnt "$W/o" "^after" && has "$W/r" "reason $R_IO_URING action $KILL nr 425 "'
$CTL run -p "$D" -a log -- "$MK" iouring >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"
check "io_uring_setup in log mode: recorded and run" 'has "$W/o" "^iouring [0-9]" && has "$W/r" "reason $R_IO_URING action $LOG nr 425 "'
"$MK" iouring int80-getpid >"$W/o" 2>&1; show "$W/o"
check "unsandboxed processes are not affected" 'has "$W/o" "^iouring [0-9]" && has "$W/o" "^int80 [0-9]"'
