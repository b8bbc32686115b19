# Sourced by guest.sh: `sbx events` (issue 18, "Events that operators can read"): the
# kill of a plain exec under an installed policy, read back with its function and source
# line, as JSON, with --since, --follow, and sent to a (fake) journal socket.
# Uses P, SBX, W, here, check, has, show, wait_for, bounded_wait. Also runs alone in a
# guest: bash Tests/e2e/guest-events.sh BIN_DIR PROGRAM_DIR.
if ! declare -f check >/dev/null; then
    bin=$1 P=$2
    SBX="$bin/sbx"
    here=$(cd "$(dirname "$0")" && pwd)
    W=$(mktemp -d /tmp/sbxev.XXXXXXXX) || exit 100
    chmod 755 "$W"
    export SBX_POLICY_DIR="$W/etc-sbx-policies"  # not the host's read-only /etc
    n=0 fails=0 last=
    ok() { n=$((n + 1)); echo "ok $n - $1"; }
    nok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
    check() { if eval "$2"; then ok "$1"; else nok "$1"; show_last; fi; }
    show() { sed 's/^/# /' "$1"; }
    show_last() { [ -n "$last" ] && [ -f "$last" ] && show "$last"; }
    has() { grep -q -- "$2" "$1"; }
    wait_for() { i=0; while ! grep -q "$2" "$1" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done; }
    bounded_wait() {
        local i=0
        while kill -0 "$1" 2>/dev/null && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
        if kill -0 "$1" 2>/dev/null; then kill -KILL "$1" 2>/dev/null; wait "$1" 2>/dev/null; return 124; fi
        wait "$1"
    }
    events_alone=1
    echo "KTAP version 1"
fi
E="$W/events"
mkdir -p "$E/policies" && cd "$E" || exit 100
earg=$(cat "$P/hijack.arg")
# The line of the indirect call the hijack goes through, and the policy installed under
# another name than hijack.dyck: sbx events must use the file given at install.
hline=$(grep -n 'r.handler((const char' "$here/hijack.c" | cut -d: -f1)
cp "$P/hijack" .
cp "$P/hijack.dyck" policies/hijack-installed.dyck
"$SBX" events --all >/dev/null 2>&1  # records other sections left queued
"$SBX" policy install policies/hijack-installed.dyck --exe ./hijack >ev.inst 2>&1; st=$?
last=ev.inst
check "events: policy install of the hijack (status $st)" '[ $st = 0 ]'
ev_policy=$(sed -n 's/.* policy \([0-9]*\) mode.*/\1/p' ev.inst)
./hijack "$earg" >/dev/null 2>&1; st=$?
check "events: the plain exec of the hijack is killed (status $st)" '[ $st = 137 ]'

# --- the kill, as sbx run reports it ------------------------------------------------
"$SBX" events >ev.txt 2>ev.err; st=$?
last=ev.txt; show ev.txt; show ev.err
check "events: status 0, one KILLED report of the hijack" \
    '[ $st = 0 ] && [ "$(grep -c "^sbx: KILLED: pid [0-9]* \[hijack\]: not allowed here" ev.txt)" = 1 ]'
check "events: the header names the policy id, the executable and the policy file given at install" \
    'grep -E "^--- 20[0-9-]+T[0-9:.]+Z policy $ev_policy /.*/events/hijack \(policy /.*/events/policies/hijack-installed\.dyck\)$" ev.txt >/dev/null'
check "events: the refused libc call, the function and the source line (hijack.c:$hline)" \
    'has ev.txt "refused:  call of libc function fprintf()" && has ev.txt "in:       greet()" &&
     grep -E "greet\(\) \(indirect\) in main at .*hijack\.c:$hline$" ev.txt >/dev/null'
check "events: what the policy allowed" 'has ev.txt "allowed:  printf() at .*hijack.c:"'
"$SBX" events >ev.again 2>&1; st=$?
last=ev.again
check "events: reading took the record: a second read shows nothing (status $st)" '[ $st = 0 ] && [ ! -s ev.again ]'

# --- --json: one parseable object per line ------------------------------------------
./hijack "$earg" >/dev/null 2>&1
./hijack "$earg" >/dev/null 2>&1
"$SBX" events --json >ev.json 2>ev.jerr; st=$?
last=ev.json; show ev.json
check "events --json: two lines, each a JSON object with the kill, function and line" \
    '[ $st = 0 ] && [ "$(wc -l <ev.json)" = 2 ] && python3 -c "
import json, re, sys
for line in open(\"ev.json\"):
    o = json.loads(line)
    assert o[\"policy\"] == $ev_policy and o[\"exe\"].endswith(\"/events/hijack\"), o
    assert o[\"function\"] == \"greet\" and re.search(r\"hijack\.c:$hline$\", o[\"location\"]), o
    assert o[\"action\"] == \"killed\" and o[\"killed\"] is True and o[\"command\"] == \"hijack\", o
    assert o[\"event\"] == \"call of libc function fprintf()\" and o[\"reason\"] == \"not allowed here\", o
    assert o[\"pid\"] > 0 and o[\"tid\"] == o[\"pid\"] and re.match(r\"20\d\d-\d\d-\d\dT\", o[\"time\"]), o
    assert o[\"stack\"][-1] == \"main() (program entry)\" and o[\"note\"] is None, o
"'

# --- --since -------------------------------------------------------------------------
./hijack "$earg" >/dev/null 2>&1
"$SBX" events --since 2099-01-01T00:00:00Z >ev.future 2>&1; st=$?
last=ev.future
check "events --since a future date shows nothing (status $st)" '[ $st = 0 ] && [ ! -s ev.future ]'
./hijack "$earg" >/dev/null 2>&1
"$SBX" events --since 1h >ev.hour 2>&1; st=$?
last=ev.hour
check "events --since 1h shows the kill just made (and only it: --since took the other)" \
    '[ $st = 0 ] && [ "$(grep -c "^sbx: KILLED" ev.hour)" = 1 ]'
"$SBX" events --since yesterday-ish >ev.bad 2>&1; st=$?
last=ev.bad
check "events --since with a bad time: usage error 2 (status $st)" '[ $st = 2 ] && has ev.bad "since"'

# --- --journal: a fake journald socket ------------------------------------------------
# The listener decodes journald's native protocol (KEY=value, or KEY\n + le64 length
# + bytes for values with newlines) and writes each datagram as a JSON line.
cat >journal.py <<'PY'
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
open(sys.argv[2] + ".ready", "w").close()
while True:
    data = s.recv(1 << 20)
    fields, i = {}, 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            i = nl + 1
        else:
            k = line
            (size,) = struct.unpack("<Q", data[nl + 1:nl + 9])
            v = data[nl + 9:nl + 9 + size]
            assert data[nl + 9 + size:nl + 10 + size] == b"\n"
            i = nl + 10 + size
        fields[k.decode()] = v.decode()
    with open(sys.argv[2], "a") as out:
        out.write(json.dumps(fields) + "\n")
PY
# The socket lives on the guest's own tmpfs: /tmp is the host's 9p share, where a Unix
# socket cannot be bound (ENXIO).
S=$(mktemp -d /run/sbxev.XXXXXXXX) || exit 100
python3 journal.py "$S/journal.sock" "$E/journal.out" &
jpid=$!
wait_for_file() { i=0; while [ ! -e "$1" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done; }
wait_for_file journal.out.ready
./hijack "$earg" >/dev/null 2>&1
SBX_JOURNAL_SOCKET="$S/journal.sock" "$SBX" events --journal >ev.jtxt 2>ev.jerr; st=$?
wait_for_file journal.out
sleep 0.3
kill "$jpid" 2>/dev/null; wait "$jpid" 2>/dev/null
rm -rf "$S"
last=journal.out; show journal.out 2>/dev/null
check "events --journal: printed as usual (status $st) and one datagram with the structured fields" \
    '[ $st = 0 ] && has ev.jtxt "KILLED" && [ "$(wc -l <journal.out)" = 1 ] && python3 -c "
import json, re
o = json.loads(open(\"journal.out\").readline())
assert o[\"SBX_POLICY\"] == \"$ev_policy\" and o[\"SBX_EXE\"].endswith(\"/events/hijack\"), o
assert o[\"SBX_EVENT\"] == \"call of libc function fprintf()\" and o[\"SBX_FUNCTION\"] == \"greet\", o
assert re.search(r\"hijack\.c:$hline$\", o[\"SBX_LOCATION\"]) and o[\"SBX_ACTION\"] == \"killed\", o
assert o[\"PRIORITY\"] == \"4\" and o[\"SYSLOG_IDENTIFIER\"] == \"sbx\", o
assert o[\"MESSAGE\"].startswith(\"sbx: KILLED: pid \") and \" in greet() at \" in o[\"MESSAGE\"], o
assert o[\"SBX_STACK\"].split(\"\n\")[-1] == \"main() (program entry)\", o
"'
./hijack "$earg" >/dev/null 2>&1
"$SBX" events --journal --journal-socket "$S/no-such.sock" >ev.nosock 2>ev.nosock.err; st=$?
last=ev.nosock.err
check "events --journal without a journal socket: a warning, the record still printed (status $st)" \
    '[ $st = 0 ] && has ev.nosock.err "no journal socket" && has ev.nosock "KILLED"'

# --- --follow: records as they come, a clean end on SIGTERM and SIGINT -----------------
# A background job of a script ignores SIGINT: the wrapper gives sbx its default back.
for sig in TERM INT; do
    rm -f fol.$sig
    python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])' \
        "$SBX" events --follow --json --interval 0.2 >fol.$sig 2>fol.$sig.err &
    fpid=$!
    sleep 1
    ./hijack "$earg" >/dev/null 2>&1
    wait_for fol.$sig '"function":"greet"'
    kill -$sig $fpid
    bounded_wait $fpid; st=$?
    last=fol.$sig.err
    check "events --follow: the kill shows up while it runs; SIG$sig ends it with status 0 (got $st)" \
        '[ $st = 0 ] && [ "$(wc -l <fol.$sig)" = 1 ] && python3 -c "import json; json.loads(open(\"fol.$sig\").read())"'
done

# --- no usable policy file: the raw record, and why ------------------------------------
mv policies/hijack-installed.dyck policies/moved.dyck
./hijack "$earg" >/dev/null 2>&1
"$SBX" events >ev.raw 2>&1; st=$?
last=ev.raw; show ev.raw
check "events without the policy file: the kill with the raw record and why (status $st)" \
    '[ $st = 0 ] && has ev.raw "^sbx: KILLED: pid [0-9]* \[hijack\]: not allowed here" &&
     has ev.raw "note:     cannot explain it: its policy file /.*/policies/hijack-installed.dyck does not exist" &&
     ! has ev.raw "allowed:" &&
     grep -E "record:   reason 3 syscall 999 kind 1 id [0-9]+ tag 0x40000001 mstate [0-9]+ depth 2 flags 0x9 seq [0-9]+$" ev.raw >/dev/null'
mv policies/moved.dyck policies/hijack-installed.dyck

"$SBX" policy remove --exe ./hijack >/dev/null 2>&1
"$SBX" events >ev.gone 2>&1; st=$?
last=ev.gone
check "events with nothing installed: nothing, status 0 (got $st)" '[ $st = 0 ] && [ ! -s ev.gone ]'
cd "$W" || exit 100
if [ -n "${events_alone:-}" ]; then
    echo "1..$n"
    echo "# events: $n tests, $fails failed"
    exit $fails
fi
