# SPDX-License-Identifier: GPL-2.0
# The cost of a marker (TCG: ratios only, printed as a
# diagnostic).
#
# Sourced by guest-tests.sh (in the guest) from the state of area_setup: the
# module not loaded, the example blobs in a fresh $W (guest-lib.sh).

module_load || return 0
N=$($CTL load "$W/nfa.blob")
"$MK" loop:200000:1:1 >"$W/o0" 2>&1
$CTL run -p "$N" -m nfa -- "$MK" 1:1 loop:200000:1:1 >"$W/o1" 2>&1
rm -f "$W/go"
$CTL run -p "$N" -m nfa -- "$MK" 1:1 "wait:$W/go" >/dev/null 2>&1 &
bg=$!
until_true 60 '$CTL status | grep -q "enforced 1 "'
"$MK" loop:200000:1:1 >"$W/o2" 2>&1
touch "$W/go"
wait $bg  # not a bare wait: that would also wait for the watchdog
echo "# marker cost, ns: unmonitored (no sandbox active) $(sed -n 's/.*ns\/marker //p' "$W/o0"), enforced $(sed -n 's/.*ns\/marker //p' "$W/o1"), unmonitored while another is enforced $(sed -n 's/.*ns\/marker //p' "$W/o2")"
check "enforced marker loop ran" 'has "$W/o1" "^exit 0"'
