# SPDX-License-Identifier: GPL-2.0
# Pinning and unloading: a policy in use and an enforced
# process hold the module; the module loads again and enforces.
#
# Sourced by guest-tests.sh (in the guest) from the state of area_setup: the
# module not loaded, the example blobs in a fresh $W (guest-lib.sh).

module_load || return 0
D=$($CTL load "$W/dyck.blob")
N=$($CTL load "$W/nfa.blob")
# A violation, so that the status below has one to count.
$CTL run -p "$D" -- "$MK" 1:1 >/dev/null 2>&1
$CTL read >/dev/null
rm -f "$W/go"
$CTL run -p "$D" -- "$MK" $VALID "wait:$W/go" >"$W/o" 2>&1 &
bg=$!
until_true 60 '$CTL status >"$W/st"; has "$W/st" "enforced 1 "'
show "$W/st"
check "status counts the enforced thread" 'has "$W/st" "enforced 1 "'
$CTL unload "$D" >"$W/o2" 2>&1
check "a policy in use cannot be unloaded (EBUSY)" 'has "$W/o2" "^unload 16"'
rmmod sbx_dyck >"$W/rm" 2>&1; rc=$?
check "rmmod fails while a process is enforced" '[ $rc -ne 0 ] && lsmod | grep -q '\''^sbx_dyck'\'''
show "$W/rm"
touch "$W/go"
wait $bg
check "the enforced process finished" 'has "$W/o" "^exit 0"'
$CTL status >"$W/st"; show "$W/st"
check "status: markers and violations counted" '! has "$W/st" "markers 0 " && ! has "$W/st" "violations 0 "'
$CTL unload "$D" >/dev/null; $CTL unload "$N" >/dev/null
$CTL status >"$W/st"
check "all policies unloaded (right after the last process exited)" 'has "$W/st" "policies 0 enforced 0 armed 0"'
rmmod sbx_dyck >"$W/rm" 2>&1; rc=$?
show "$W/rm"
check "rmmod succeeds once nothing is enforced" '[ $rc -eq 0 ] && ! lsmod | grep -q '\''^sbx_dyck'\'''
insmod "$KO" >"$W/rm" 2>&1; rc=$?
show "$W/rm"
check "the module loads again" '[ $rc -eq 0 ] && $CTL status >/dev/null'
D=$($CTL load "$W/dyck.blob")
$CTL run -b "$W/dyck.blob" -- "$MK" $VALID >"$W/o" 2>&1; show "$W/o"
check "enforcement works after reload; unload right after the child" 'has "$W/o" "^exit 0" && hasnt "$W/o" "unload"'
$CTL unload "$D" >/dev/null
rmmod sbx_dyck; rc=$?
check "second rmmod succeeds" '[ $rc -eq 0 ]'
