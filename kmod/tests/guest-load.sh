# SPDX-License-Identifier: GPL-2.0
# The control device and its status; policy loading: malformed blobs
# (kmod/core/sbx_blob.c's validation, a header field at a time), the size cap,
# SBX_LOAD_F_OWNED (specs/kernel-abi.md, "Loading").
#
# Sourced by guest-tests.sh (in the guest) from the state of area_setup: the
# module not loaded, the example blobs in a fresh $W (guest-lib.sh).

module_load || return 0
check "device /dev/sbx is mode 0600" '[ "$(stat -c %a /dev/sbx)" = 600 ]'
$CTL status >"$W/st" 2>&1; show "$W/st"
check "status: abi $ABI_VERSION, no policy, nothing enforced, nothing installed" 'has "$W/st" "abi $ABI_VERSION policies 0 enforced 0 armed 0 unconfined 0 " && has "$W/st" "installed 0$"'

D=$($CTL load "$W/dyck.blob")
N=$($CTL load "$W/nfa.blob")
check "load two policies (ids $D, $N)" '[ -n "$D" ] && [ -n "$N" ] && [ "$D" != "$N" ]'
printf 'garbage' >"$W/bad.blob"
$CTL try-load "$W/bad.blob" >"$W/o" 2>&1
check "an invalid blob is refused with EINVAL" 'has "$W/o" "load 22 "'
# corrupt FILE FIELD VALUE: a copy of the valid blob with one header field changed.
corrupt() { cp "$W/dyck.blob" "$1" && $CTL set-header "$1" "$2" "$3"; }
head -c 100 "$W/dyck.blob" >"$W/cut.blob"
$CTL try-load "$W/cut.blob" >"$W/o" 2>&1
check "a truncated blob is refused with EINVAL" 'has "$W/o" "load 22 "'
# The first bit above the known flags (SBX_BLOB_F_PINNED is the highest).
corrupt "$W/flag.blob" flags $(($(abi SBX_BLOB_F_PINNED) << 1))
$CTL try-load "$W/flag.blob" >"$W/o" 2>&1
check "a blob with an unknown flag is refused with EINVAL" 'has "$W/o" "load 22 "'
# One past the last macro-state.
corrupt "$W/range.blob" initial_mstate "$($CTL header "$W/dyck.blob" | sed -n 's/^nr_mstates //p')"
$CTL try-load "$W/range.blob" >"$W/o" 2>&1
check "a blob with an out-of-range initial macro-state is refused with EINVAL" 'has "$W/o" "load 22 "'
$CTL try-oversized >"$W/o" 2>&1
check "a blob over the 128 MiB cap is refused with E2BIG" 'has "$W/o" "^load 7"'

# SBX_LOAD_F_OWNED (ABI 5): the policy goes with the file that loaded it.
$CTL load "$W/dyck.blob" --flags 2 >"$W/o" 2>&1
check "load with an unknown flag (2) is refused with EINVAL" 'has "$W/o" "load: Invalid argument"'
O=$($CTL load "$W/dyck.blob" --flags 1)
$CTL policies >"$W/pol"; show "$W/pol"
check "an owned policy ($O) unused when its loader exits is unloaded with it; the others stay" \
	'[ -n "$O" ] && ! has "$W/pol" "^policy $O " && has "$W/pol" "^policy $D " && has "$W/pol" "^policy $N "'

