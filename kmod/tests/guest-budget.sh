# SPDX-License-Identifier: GPL-2.0
# Fail closed on exec: no state for an installed exec
# (max_tasks_per_policy=1) kills it before it runs; registry entries at module
# exit.
#
# Sourced by guest-tests.sh (in the guest) from the state of area_setup: the
# module not loaded, the example blobs in a fresh $W (guest-lib.sh).

cp "$MK" "$W/mk"
insmod "$KO" max_tasks_per_policy=1 >"$W/rm" 2>&1; rc=$?
show "$W/rm"
check "the module loads with max_tasks_per_policy=1" '[ $rc -eq 0 ]'
D=$($CTL load "$W/dyck.blob")
$CTL install "$D" --exe "$W/mk" >/dev/null
rm -f "$W/go"
"$W/mk" "wait:$W/go" >/dev/null 2>&1 &
bg=$!
until_true 60 '$CTL status >"$W/st"; has "$W/st" "enforced 1 "'
"$W/mk" "touch:$W/canary" >"$W/o" 2>&1; echo "rc $?" >>"$W/o"
$CTL read >"$W/r"; show "$W/r"
$CTL status >"$W/st"; show "$W/st"
check "no state for an installed exec (budget used up): killed before it runs" 'has "$W/o" "^rc 137" && [ ! -e "$W/canary" ]'
check "record: reason 18 (no memory), killed; alloc_failures counted" 'has "$W/r" "comm mk policy $D reason $R_NO_MEMORY action $KILL nr 0 .* depth 0 flags $F_KILLED " && has "$W/st" "alloc_failures 1 "'
touch "$W/go"
wait $bg
rmmod sbx_dyck >"$W/rm" 2>&1; rc=$?
show "$W/rm"
check "rmmod with an entry installed and its policy loaded (entries do not pin the module)" '[ $rc -eq 0 ] && ! lsmod | grep -q '\''^sbx_dyck'\'''
