# SPDX-License-Identifier: GPL-2.0
# Records: one queue and one rate limit per policy; kill
# records never lost (issue 15, item 4).
#
# Sourced by guest-tests.sh (in the guest) from the state of area_setup: the
# module not loaded, the example blobs in a fresh $W (guest-lib.sh).

# (issue 15, item 4.) A flooding log-mode program must not cost another policy its
# kill records; an unread kill record holds its thread state (the task budget,
# here 4) until it is read: memory stays bounded and the record is never dropped.
insmod "$KO" max_tasks_per_policy=4 >"$W/rm" 2>&1; rc=$?
show "$W/rm"
check "records: the module loads again (max_tasks_per_policy=4)" '[ $rc -eq 0 ]'
F=$($CTL load "$W/bound.blob"); K1=$($CTL load "$W/bound.blob"); K2=$($CTL load "$W/bound.blob")
$CTL run -p "$F" -a log -- "$MK" say:start 2:0 sysloop:100000000 >"$W/of" 2>&1 &
flood=$!
until_true 60 '$CTL policies | grep -q "^policy $F .* dropped_rate [1-9]"'
$CTL run -p "$K1" -- "$MK" say:start 2:0 say:CANARY >"$W/ok1" 2>&1 &
k1=$!
$CTL run -p "$K2" -- "$MK" say:start 2:0 say:CANARY >"$W/ok2" 2>&1 &
k2=$!
wait $k1; wait $k2
$CTL policies >"$W/pol"; show "$W/pol"
pkill -9 -x sbx_markers
wait $flood
show "$W/of"
check "records: the flood ran in log mode while the two others were killed" \
	'has "$W/of" "^start" && has "$W/of" "^signal 9" && has "$W/ok1" "^signal 9" && has "$W/ok2" "^signal 9" && hasnt "$W/ok1" CANARY && hasnt "$W/ok2" CANARY'
$CTL read -p "$K1" >"$W/r1"; show "$W/r1"
$CTL read -p "$K2" >"$W/r2"; show "$W/r2"
check "records: both kill records are there, each in its own policy's queue" \
	'has "$W/r1" "policy $K1 reason $R_SYSCALL_WINDOW action $KILL nr 1 .* flags $F_KILLED " && has "$W/r1" "^records 1 dropped 0$" && has "$W/r2" "policy $K2 reason $R_SYSCALL_WINDOW action $KILL nr 1 .* flags $F_KILLED " && has "$W/r2" "^records 1 dropped 0$"'
check "records: the flooding policy dropped records (rate limit), the others none" \
	'grep -Eq "^policy $F .* dropped [1-9][0-9]* dropped_rate [1-9]" "$W/pol" && has "$W/pol" "^policy $K1 .* dropped 0 dropped_rate 0 " && has "$W/pol" "^policy $K2 .* dropped 0 dropped_rate 0 "'
$CTL policies >"$W/pol"; show "$W/pol"
q=$(sed -n "s/^policy $F .* queued \([0-9]*\) kills 0 size $QUEUE_SIZE .*/\1/p" "$W/pol")
check "records: the flooding policy's queue is bounded (at most 128 records waiting)" \
	'[ -n "$q" ] && [ "$q" -le "$QUEUE_SIZE" ]'
$CTL status >"$W/st0"
$CTL unload "$F" >/dev/null
$CTL status >"$W/st1"; show "$W/st1"
d0=$(sed -n 's/.* dropped \([0-9]*\) .*/\1/p' "$W/st0"); d1=$(sed -n 's/.* dropped \([0-9]*\) .*/\1/p' "$W/st1")
check "records: unload discards the policy's unread records, counted in dropped ($d0 -> $d1)" \
	'[ "$d1" -gt "$d0" ] && has "$W/st1" " ring 0/$QUEUE_SIZE kills_dropped 0 "'
# Four kills of one policy, unread: each record holds its thread's state, so the
# budget (4) is used up and a fifth arm is refused; reading frees them.
K3=$($CTL load "$W/bound.blob")
for i in 1 2 3 4; do $CTL run -p "$K3" -- "$MK" say:start 2:0 say:CANARY >/dev/null 2>&1; done
$CTL policies >"$W/pol"; show "$W/pol"
$CTL run -p "$K3" -- "$MK" say:start 2:0 say:CANARY >"$W/o" 2>&1; show "$W/o"
check "records: 4 unread kill records hold the budget of 4: the next arm is refused (ENOSPC)" \
	'has "$W/pol" "^policy $K3 .* queued 4 kills 4 " && has "$W/o" "arm: No space left on device"'
$CTL read -p "$K3" >"$W/r"; show "$W/r"
check "records: the 4 kill records are read, none dropped" '[ "$(count "$W/r" "policy $K3 reason $R_SYSCALL_WINDOW .* flags $F_KILLED ")" = 4 ] && has "$W/r" "^records 4 dropped 0$"'
$CTL run -p "$K3" -- "$MK" say:start 2:0 say:CANARY >"$W/o" 2>&1
$CTL read -p "$K3" >"$W/r"
check "records: once read, the states are free again (arm works, its kill is recorded)" \
	'has "$W/o" "^signal 9" && has "$W/r" "^records 1 dropped 0$"'
$CTL unload "$K1" >/dev/null; $CTL unload "$K2" >/dev/null; $CTL unload "$K3" >/dev/null
$CTL status >"$W/st"; show "$W/st"
check "records: nothing left loaded or enforced" 'has "$W/st" "policies 0 enforced 0 armed 0 "'
rmmod sbx_dyck >"$W/rm" 2>&1; rc=$?
check "records: rmmod succeeds" '[ $rc -eq 0 ]'
