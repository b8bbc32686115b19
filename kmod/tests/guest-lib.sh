# SPDX-License-Identifier: GPL-2.0
# Sourced by guest-tests.sh (in the guest): the KTAP helpers every area file
# uses, the ABI's numbers read from the headers, and the set-up and clean-up
# that make each area start from the same state (specs/kernel-abi.md is the
# contract the areas check; CONTRIBUTING.md, "Adding a guest test").

n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { # check NAME 'CONDITION' (a shell expression, evaluated)
	if eval "$2"; then ok "$1"; else nok "$1"; fi
}
has() { grep -q -- "$2" "$1"; }
hasnt() { ! grep -q -- "$2" "$1"; }
count() { grep -c -- "$2" "$1"; }
show() { sed 's/^/# /' "$1"; }
# until_true SECONDS 'CONDITION': wait (polling) until the condition holds.
until_true() {
	i=0
	while ! eval "$2"; do
		i=$((i + 1))
		[ $i -ge $(($1 * 10)) ] && return 1
		sleep 0.1
	done
}

# abi NAME: the value of the #define NAME of the ABI headers (kmod/uapi, and the
# blob format of kmod/core/sbx_blob.h), as a decimal number. The checks name
# reasons, actions, flags and limits by their constants, so that a renumbering
# in the header is followed here (or fails loudly) instead of being copied.
abi() {
	v=$(sed -n "s/^#define[[:space:]]\{1,\}$1[[:space:]]\{1,\}\([^[:space:]]*\).*/\1/p" \
		"$ABI_DIR"/uapi/*.h "$ABI_DIR"/core/sbx_blob.h | head -n 1)
	v=${v%UL}
	v=${v%U}
	v=${v%L}
	case $v in
	'' | *[!0-9a-fA-Fx]*)
		echo "Bail out! $1 is not a numeric #define of kmod/uapi or sbx_blob.h"
		exit 100
		;;
	esac
	echo $((v))
}
hex() { printf '%#x' "$1"; } # as sbxctl prints flags and tags

ABI_DIR=$(cd "$here/.." && pwd)
ABI_VERSION=$(abi SBX_ABI_VERSION)
MARKER_NR=$(abi SBX_MARKER_NR)
KILL=$(abi SBX_ACTION_KILL)
LOG=$(abi SBX_ACTION_LOG)
# Reasons (sbx_ioctl.h, SBX_REASON_*).
R_UNKNOWN_KIND=$(abi SBX_REASON_UNKNOWN_KIND)
R_ID_RANGE=$(abi SBX_REASON_ID_RANGE)
R_NOT_ALLOWED=$(abi SBX_REASON_NOT_ALLOWED)
R_WRONG_RETURN=$(abi SBX_REASON_WRONG_RETURN)
R_STACK_OVERFLOW=$(abi SBX_REASON_STACK_OVERFLOW)
R_NO_SETJMP=$(abi SBX_REASON_NO_SETJMP)
R_COMPAT_SYSCALL=$(abi SBX_REASON_COMPAT_SYSCALL)
R_IO_URING=$(abi SBX_REASON_IO_URING)
R_NO_MEMORY=$(abi SBX_REASON_NO_MEMORY)
R_EXE_MISMATCH=$(abi SBX_REASON_EXE_MISMATCH)
R_SYSCALL_WINDOW=$(abi SBX_REASON_SYSCALL_WINDOW)
R_EXEC_MAPPING=$(abi SBX_REASON_EXEC_MAPPING)
R_UNPINNED=$(abi SBX_REASON_UNPINNED)
R_FORBIDDEN_SYSCALL=$(abi SBX_REASON_FORBIDDEN_SYSCALL)
R_PROC_MEM_WRITE=$(abi SBX_REASON_PROC_MEM_WRITE)
R_EXEC_DENIED=$(abi SBX_REASON_EXEC_DENIED)
R_EXE_REBUILT=$(abi SBX_REASON_EXE_REBUILT)
R_STORE_FULL=$(abi SBX_REASON_STORE_FULL)
R_UNRESYNCED=$(abi SBX_REASON_UNRESYNCED)
# Record flags (SBX_REC_F_*), in sbxctl's hexadecimal.
F_MARKER=$(hex "$(abi SBX_REC_F_MARKER)")
F_IA32=$(hex "$(abi SBX_REC_F_IA32)")
F_KILLED=$(hex "$(abi SBX_REC_F_KILLED)")
F_MARKER_KILLED=$(hex $((F_MARKER | F_KILLED)))
F_IA32_KILLED=$(hex $((F_IA32 | F_KILLED)))
# Marker kinds (sbx_marker.h, SBX_MARK_*), as records show them.
K_LIBC=$(abi SBX_MARK_LIBC)
K_CALL=$(abi SBX_MARK_CALL)
K_RET=$(abi SBX_MARK_RET)
K_SJ_SAVE=$(abi SBX_MARK_SJ_SAVE)
QUEUE_SIZE=$(abi SBX_QUEUE_SIZE)
REC_STACK=$(abi SBX_REC_STACK)
TASK_F_INSTALLED=$(hex "$(abi SBX_TASK_F_INSTALLED)")

# The example policy's (tb_example) allowed run: main calls a (site 0) and b.
VALID="2:0 2:2 1:1 3:2 1:0 3:0 2:1 2:3 1:1 3:3 1:2 3:1"

# module_load [PARAM=VALUE...]: load the module for an area that does not test
# the load itself; a failure is a failed check and ends the area (return 1).
module_load() {
	insmod "$KO" "$@" >"$W/rm" 2>&1 && $CTL status >/dev/null && return 0
	show "$W/rm"
	nok "$AREA: set-up: the module loads"
	return 1
}

# area_setup AREA: the state every area starts from: the module not loaded, no
# test program left running, and a fresh directory $W holding the example blobs
# (dyck, nfa, deep, bound, pinned). The guest shares the host's /tmp, where PIDs
# repeat across guests: hence mktemp.
area_setup() {
	AREA=$1
	W=$(mktemp -d /tmp/sbxk.XXXXXXXX) || { echo "Bail out! mktemp"; exit 100; }
	chmod 755 "$W" # the unprivileged steps read blobs from here
	for b in dyck nfa deep bound pinned; do
		$CTL mkblob $b "$W/$b.blob" || { echo "Bail out! sbxctl mkblob $b"; exit 100; }
	done
}

# area_cleanup: undo what an area may have left, whether its checks passed or
# not: kill the test programs (sbxctl, sbx_markers and its copies under $W), remove the
# registry's entries, unload the policies, remove the module. A module that
# cannot be removed ends the suite: the next area would not start clean.
area_cleanup() {
	# One ls for every process (a readlink each costs seconds under TCG); a
	# deleted copy shows as "PATH (deleted)".
	ls -l /proc/[0-9]*/exe 2>/dev/null | sed -n 's|.* /proc/\([0-9]*\)/exe -> \(.*\)$|\1 \2|p' |
		while read -r pid path; do
			case $path in
			"$MK" | "$CTL" | "$W"/*) kill -9 "$pid" 2>/dev/null ;;
			esac
		done
	if lsmod | grep -q '^sbx_dyck'; then
		until_true 30 '! $CTL tasks 2>/dev/null | grep -q "^pid "'
		$CTL list 2>/dev/null | sed -n 's/^dev \([0-9]*\) ino \([0-9]*\) .*/\1 \2/p' |
			while read -r dev ino; do $CTL remove --inode "$dev" "$ino" >/dev/null; done
		$CTL policies 2>/dev/null | sed -n 's/^policy \([0-9]*\) .*/\1/p' |
			while read -r id; do $CTL unload "$id" >/dev/null; done
		until_true 30 'rmmod sbx_dyck 2>/dev/null' ||
			{ echo "Bail out! $AREA: the module cannot be removed after the area"; exit 100; }
	fi
	rm -rf "$W"
}
