# Sourced by guest.sh (in the guest): issue 18, audit mode that keeps watching.
# audit5 and audit-lost run with policies that refuse getppid in main (run.sh
# relabels its edges; audit-lost's exit too). The monitor resynchronises in the
# root frame at the next libc call main allows somewhere (specs/kernel-abi.md,
# "Log mode"), so all five refusals of audit5 are reported, in dyck and in nfa
# mode; audit-lost never
# makes such a call after its refusal, and its report says how many events went
# unchecked: the three work() calls (CALL, printf, RET each) and the exit.
A=$W/audit; mkdir -p "$A"; cd "$A" || exit 100
"$P/audit5" >a5.plain 2>&1; st0=$?
# Both modes resynchronise in the root frame: in nfa mode at every state of the
# flattened main that the allowed call leads to (the any macro-state of its copy).
for mode in dyck nfa; do
    "$SBX" run --mode $mode --action log --json-report a5.$mode.json -- "$P/audit5" >a5.$mode.out 2>a5.$mode.err; st=$?
    last=a5.$mode.err; show a5.$mode.err
    check "audit5, --mode $mode --action log: the program completes with its native output (status $st)" \
        '[ $st = 0 ] && [ $st0 = 0 ] && cmp -s a5.plain a5.$mode.out'
    check "audit5, --mode $mode: five refused calls in two loops in main, five reported" \
        'has a5.$mode.err "audit: 5 deviations" && [ "$(grep -c "refused:  call of libc function getppid()" a5.$mode.err)" = 5 ] && [ "$(grep -c "violation: pid" a5.$mode.err)" = 5 ] && ! has a5.$mode.err "monitoring lost"'
    check "audit5, --mode $mode: the JSON has the five, no lost thread" \
        'python3 -c "
import json, sys
r = json.load(open(\"a5.$mode.json\"))
v = r[\"violations\"]
sys.exit(not (len(v) == 5 and all(x[\"event\"][\"name\"] == \"getppid\" and x[\"functions\"] == [\"main\"] for x in v)
              and r[\"lost_threads\"] == [] and r[\"killed_by_monitor\"] is False and r[\"status\"] == 0))"'
done
"$P/audit-lost" >al.plain 2>&1; st0=$?
"$SBX" run --action log --json-report al.json -- "$P/audit-lost" >al.out 2>al.err; st=$?
last=al.err; show al.err
check "audit-lost, --action log: the program completes with its native output (status $st)" \
    '[ $st = 0 ] && [ $st0 = 0 ] && cmp -s al.plain al.out'
check "audit-lost: one deviation, then the report says the thread never resynchronised and 10 events went unchecked" \
    'has al.err "audit: 1 deviation" && has al.err "monitoring lost: pid [0-9]* \[audit-lost\]: never resynchronised after its deviation" && has al.err "unchecked: 10 events until the thread exited or execed" && has al.err "lost in:  main()" && has al.err "audit: 1 thread never resynchronised after a deviation: 10 events went unchecked"'
check "audit-lost: the JSON has the deviation and the lost thread with its 10 unchecked events" \
    'python3 -c "
import json, sys
r = json.load(open(\"al.json\"))
lost = r[\"lost_threads\"]
sys.exit(not (len(r[\"violations\"]) == 1 and len(lost) == 1 and lost[0][\"unchecked_events\"] == 10
              and lost[0][\"functions\"] == [\"main\"] and r[\"status\"] == 0))"'
# Kill mode is unchanged: the first refusal kills.
"$SBX" run -- "$P/audit5" >a5.kill.out 2>a5.kill.err; st=$?
last=a5.kill.err
check "audit5, kill mode: killed at the first getppid (status $st), nothing printed" \
    '[ $st = 100 ] && [ ! -s a5.kill.out ] && has a5.kill.err "refused:  call of libc function getppid()"'
cd "$W" || exit 100
