# SPDX-License-Identifier: GPL-2.0
# Abuse of the control device: an enforced process, a second
# arm, setuid, an unprivileged opener.
#
# Sourced by guest-tests.sh (in the guest) from the state of area_setup: the
# module not loaded, the example blobs in a fresh $W (guest-lib.sh).

module_load || return 0
D=$($CTL load "$W/dyck.blob")
$CTL run -p "$D" -a log -- "$MK" ioctl >"$W/o" 2>&1; show "$W/o"
check "enforced process cannot load, arm or unload (EPERM)" 'has "$W/o" "^ioctl open 0 load 1 arm 1 unload 1 "'
$CTL run -p "$D" --twice -- "$MK" $VALID >"$W/o" 2>&1; show "$W/o"
check "armed process cannot arm again (EPERM)" 'has "$W/o" "^second arm 1" && has "$W/o" "^exit 0"'
$CTL try-load "$W/dyck.blob" --drop >"$W/o" 2>&1; show "$W/o"
check "descriptor opened as root keeps its right after setuid" 'has "$W/o" "^load 0 id"'
L=$(sed -n 's/^load 0 id //p' "$W/o"); [ -n "$L" ] && $CTL unload "$L" >/dev/null
chmod 0666 /dev/sbx
setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" try-load "$W/dyck.blob" >"$W/o" 2>&1; show "$W/o"
check "descriptor opened without CAP_SYS_ADMIN cannot load (EPERM)" 'has "$W/o" "^load 1 "'
setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" status >"$W/o" 2>&1
check "status is allowed to any opener" 'has "$W/o" "^abi $ABI_VERSION"'
chmod 0600 /dev/sbx
