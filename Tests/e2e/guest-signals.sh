# Sourced by guest.sh: sbx run as a service manager's child (issue 18, "Signals and the
# process tree"). Uses P, SBX, W, check, has, show, wait_for, bounded_wait.
cd "$W" || exit 100
# --- signals sent to sbx run reach the program ---------------------------------------
# Control: the same signal to a process without a handler ends it; sbx run has none of its
# own for SIGUSR1 unless it forwards, so without forwarding it would die (138).
"$SBX" run --json-report sig.json -- "$P/signals" wait >sig.out 2>sig.err &
spid=$!
wait_for sig.out ready
kill -USR1 "$spid"; wait_for sig.out "got signal 10"
kill -HUP "$spid"; wait_for sig.out "got signal 1$"
kill -USR2 "$spid"; wait_for sig.out "got signal 12"
kill -TERM "$spid"
bounded_wait "$spid"; st=$?
last=sig.out; show sig.out
check "signals: SIGUSR1, SIGHUP and SIGUSR2 sent to sbx run reach the program" \
    'has sig.out "got signal 10" && has sig.out "got signal 1$" && has sig.out "got signal 12"'
check "signals: SIGTERM reaches it, and sbx run exits with the program's status 42 (got $st)" \
    '[ $st = 42 ] && has sig.out "got SIGTERM, exiting 42" && has sig.json "\"status\" : 42"'
# --- a killed descendant: the program's own status stays ------------------------------
"$P/signals" child >child.native 2>&1; st=$?
last=child.native
check "descendant, control: natively the child's raw system call runs (status $st)" \
    '[ $st = 0 ] && has child.native "child: raw getppid returned [0-9]"'
"$SBX" run --json-report child.json -- "$P/signals" child >child.out 2>child.err; st=$?
last=child.err; show child.out; show child.err
check "descendant: the monitor kills the child; sbx run exits with the program's 0 (got $st)" \
    '[ $st = 0 ] && has child.out "child: signal 9" && ! has child.out "raw getppid returned"'
check "descendant: stderr names the killed process; the JSON lists it, not the program" \
    'has child.err "the monitor killed 1 process the program started: [0-9]* (signals)" &&
     has child.json "\"killed_by_monitor\" : false" && has child.json "\"killed_descendants\"" &&
     has child.json "\"command\" : \"signals\""'
# --- sbx run dies: the program dies with it ------------------------------------------
"$SBX" run -- "$P/signals" wait >dp.out 2>&1 &
spid=$!
wait_for dp.out ready
ppid=$(sed -n 's/^ready //p' dp.out)
kill -KILL "$spid"
wait "$spid" 2>/dev/null
i=0; while [ -n "$ppid" ] && kill -0 "$ppid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
"$SBX" status >dp.st 2>&1
last=dp.st; show dp.st
loaded() { "$SBX" status 2>&1 | sed -n 's/.*policies: \([0-9]*\) loaded.*/\1/p'; }
# The kernel unloads the policy sbx run loaded (owned by its descriptor) once sbx is
# gone and nothing uses it; the unload after the last exit runs in a work item.
i=0; while [ "$(loaded)" != 0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
"$SBX" status >dp.st 2>&1
last=dp.st; show dp.st
check "die with parent: sbx run killed by SIGKILL, its program ($ppid) is gone too" \
    '[ -n "$ppid" ] && ! kill -0 "$ppid" 2>/dev/null && has dp.st "threads: 0 enforced"'
check "die with parent: the policy sbx run loaded is unloaded without it" 'has dp.st "policies: 0 loaded"'
# --- a daemon: the program exits, its child runs on ------------------------------------
"$SBX" run -- "$P/signals" daemon >dm.out 2>dm.err; st=$?
l1=$(loaded)
last=dm.err; show dm.out; show dm.err
check "daemon: sbx run returns with the program's status ($st) and says the policy stays for its child" \
    '[ $st = 0 ] && has dm.err "still use its policy (a daemon?)" && [ "$l1" = 1 ]'
i=0; while [ "$(loaded)" != 0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
"$SBX" status >dm.st 2>&1
last=dm.st; show dm.st
check "daemon: when its child exits, the kernel unloads the policy (no leak)" 'has dm.st "policies: 0 loaded"'
