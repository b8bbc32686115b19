# Sourced by guest.sh (issue 18, "Policies that survive a reboot"): sbx policy install
# saves each policy as a file of the policy directory; a reboot (simulated: every entry
# removed from the kernel with --runtime, the files kept) loses the enforcement;
# sbx policy load-all installs every saved policy again, reports a malformed file and
# one whose executable is gone by name, and loads the others; the hijack is killed again
# under the restored policy. Also sbx status --json and sbx policy list --json on a
# live module, and the one key style of sbx run --json-report.
# Uses P, SBX, W, here, check, has, show, arg (the hijack's argument), SBX_POLICY_DIR.
D="$W/saved"
PD=$SBX_POLICY_DIR
mkdir -p "$D" && cd "$D" || exit 100
cp "$P/hijack" "$P/hijack.dyck" "$P/registered" "$P/registered.dyck" .
"$SBX" events --all >/dev/null 2>&1  # records other sections left queued

"$SBX" policy install hijack.dyck --exe ./hijack >sv.inst 2>&1; st=$?
last=sv.inst; show sv.inst
hfile=$(sed -n 's/^saved: //p' sv.inst)
check "saved: install (status $st) says where it saved the policy, in the policy directory" \
    '[ $st = 0 ] && [ -n "$hfile" ] && [ "$(dirname "$hfile")" = "$PD" ] && [ -f "$hfile" ]'
last=$hfile; show "$hfile"
check "saved: the file names the executable and the policy by absolute path, mode, action, exec, bounds" \
    'grep -qx "format=1" "$hfile" && grep -qx "exe=$D/hijack" "$hfile" && grep -qx "policy=$D/hijack.dyck" "$hfile" &&
     grep -qx "mode=dyck" "$hfile" && grep -qx "action=kill" "$hfile" && grep -qx "exec=registry" "$hfile" &&
     grep -qx "stack_limit=[0-9]*" "$hfile" && grep -qx "max_depth=[0-9]*" "$hfile"'
"$SBX" policy install registered.dyck --exe ./registered --mode nfa --action log --exec deny --max-depth 900 >sv.inst2 2>&1; st=$?
rfile=$(sed -n 's/^saved: //p' sv.inst2)
last=sv.inst2
check "saved: a second executable, its own file with its options (status $st)" \
    '[ $st = 0 ] && [ "$rfile" != "$hfile" ] && grep -qx "mode=nfa" "$rfile" && grep -qx "action=log" "$rfile" &&
     grep -qx "exec=deny" "$rfile" && grep -qx "max_depth=900" "$rfile"'
ls -la "$PD" >sv.ls; last=sv.ls
check "saved: no temporary file left in the directory" '[ "$(ls -A "$PD" | grep -c "^\.")" = 0 ]'

# --- --json of a live module: status and policy list ---------------------------------
"$SBX" status --json >sv.status.json 2>&1; st=$?
last=sv.status.json; show sv.status.json
# The module's ABI version, as its header defines it.
abi=$(awk '$1 == "#define" && $2 == "SBX_ABI_VERSION" { print $3 }' "$here/../../kmod/uapi/sbx_ioctl.h")
check "status --json (status $st): loaded, ABI $abi, 2 installed, the two policies, snake_case keys" \
    '[ $st = 0 ] && python3 -c "
import json, re, sys
d = json.load(open(\"sv.status.json\"))
def keys(v):
    if isinstance(v, dict):
        for k, x in v.items():
            assert re.fullmatch(\"[a-z][a-z0-9_]*\", k), k
            keys(x)
    elif isinstance(v, list):
        for x in v: keys(x)
keys(d)
assert d[\"loaded\"] is True and d[\"abi_version\"] == $abi and d[\"installed\"] == 2, d
assert d[\"policies_loaded\"] >= 2 and len(d[\"policies\"]) == d[\"policies_loaded\"], d
assert isinstance(d[\"threads\"], list)
"'
"$SBX" policy list --json >sv.list.json 2>&1; st=$?
last=sv.list.json; show sv.list.json
check "policy list --json (status $st): both entries with their executable, policy file and saved file" \
    '[ $st = 0 ] && python3 -c "
import json, sys
d = json.load(open(\"sv.list.json\"))
by = {e[\"executable\"]: e for e in d[\"installed\"]}
h, r = by[\"$D/hijack\"], by[\"$D/registered\"]
assert (h[\"mode\"], h[\"action\"], h[\"exec\"], h[\"state\"]) == (\"dyck\", \"kill\", \"registry\", \"current\"), h
assert (r[\"mode\"], r[\"action\"], r[\"exec\"]) == (\"nfa\", \"log\", \"deny\"), r
assert h[\"saved_file\"] == \"$hfile\" and r[\"saved_file\"] == \"$rfile\", d
assert h[\"policy_file\"] == \"$D/hijack.dyck\", h
assert d[\"directory\"] == \"$PD\" and d[\"saved_not_installed\"] == [] and d[\"malformed\"] == [], d
"'

# --- the reboot: the kernel forgets, the directory keeps --------------------------------
"$SBX" policy remove --runtime --exe ./hijack >sv.rm 2>&1; st=$?
"$SBX" policy remove --runtime --exe ./registered >>sv.rm 2>&1; st2=$?
last=sv.rm; show sv.rm
check "reboot: remove --runtime (status $st, $st2) keeps the saved files" \
    '[ $st = 0 ] && [ $st2 = 0 ] && [ -f "$hfile" ] && [ -f "$rfile" ] && ! has sv.rm "deleted:"'
"$SBX" status >sv.st 2>&1; last=sv.st
check "reboot: nothing installed in the kernel" 'has sv.st ", 0 installed for executables"'
rm -f hijack-canary
./hijack "$arg" >/dev/null 2>&1; st=$?
check "reboot: the hijack is no longer stopped (status $st, canary written)" "[ -f hijack-canary ]"
rm -f hijack-canary
"$SBX" policy list >sv.list 2>&1; last=sv.list; show sv.list
check "reboot: policy list notes the saved policies not installed" \
    'has sv.list "$D/hijack: saved in $hfile but not installed" && has sv.list "$D/registered: saved in $rfile but not installed"'

# A malformed file and one whose executable is gone: each reported by name, the others load.
printf 'format=1\nexe=/bin/true\nmode=dyck\n' >"$PD/broken.policy"
printf 'format=1\nexe=%s/vanished\npolicy=%s/hijack.dyck\n' "$D" "$D" >"$PD/gone.policy"
echo "not a saved policy: ignored" >"$PD/README"
"$SBX" policy load-all >sv.load 2>sv.load.err; st=$?
last=sv.load.err; show sv.load; show sv.load.err
check "load-all: status 1 (two files failed), the two good ones loaded" \
    '[ $st = 1 ] && has sv.load "^loaded: $hfile: $D/hijack policy [0-9]* mode dyck action kill exec registry$" &&
     has sv.load "^loaded: $rfile: $D/registered policy [0-9]* mode nfa action log exec deny$" &&
     has sv.load "^load-all: 2 loaded, 2 failed, from $PD$"'
check "load-all: the malformed file is named, with its reason" \
    'has sv.load.err "^sbx: error: $PD/broken.policy: malformed saved policy: no policy= line; not loaded$"'
check "load-all: the file of a vanished executable is named, with its reason" \
    'grep -E "^sbx: error: $PD/gone.policy: not loaded: .*$D/vanished" sv.load.err >/dev/null'
check "load-all: README is not read, and nothing else is reported" \
    '! has sv.load.err README && [ "$(wc -l <sv.load.err)" = 2 ]'
./hijack "$arg" >sv.hj 2>&1; st=$?
check "restored: the hijack is killed again under the restored policy (status $st), no canary" \
    '[ $st = 137 ] && [ ! -f hijack-canary ]'
./hijack >sv.ok 2>&1; st=$?
check "restored: its normal run still runs (status $st)" '[ $st = 0 ] && has sv.ok "hello, world"'
"$SBX" policy list --json >sv.list2.json 2>&1
last=sv.list2.json
check "restored: policy list --json: the broken file malformed, the vanished executable saved but not installed" \
    'python3 -c "
import json
d = json.load(open(\"sv.list2.json\"))
assert len(d[\"installed\"]) == 2 and d[\"saved_not_installed\"] == [{\"file\": \"$PD/gone.policy\", \"executable\": \"$D/vanished\"}], d
assert [m[\"file\"] for m in d[\"malformed\"]] == [\"$PD/broken.policy\"], d
"'
rm -f "$PD/broken.policy" "$PD/gone.policy"
"$SBX" policy load-all >sv.load2 2>&1; st=$?
last=sv.load2; show sv.load2
check "load-all again: idempotent (installed again with --replace), status 0" \
    '[ $st = 0 ] && has sv.load2 "^load-all: 2 loaded, 0 failed"'
"$SBX" status >sv.st2 2>&1; last=sv.st2
check "load-all again: still 2 installed, the replaced policies unloaded" \
    'has sv.st2 ", 2 installed for executables" && has sv.st2 "policies: 2 loaded"'

# --- remove deletes the saved file; a saved-only entry can be removed too ------------------
"$SBX" policy remove --exe ./hijack >sv.rm2 2>&1; st=$?
last=sv.rm2; show sv.rm2
check "remove (status $st): out of the kernel and its file deleted" \
    '[ $st = 0 ] && has sv.rm2 "^removed: ./hijack" && has sv.rm2 "^deleted: $hfile$" && [ ! -f "$hfile" ]'
"$SBX" policy remove --runtime --exe ./registered >/dev/null 2>&1
"$SBX" policy remove --exe ./registered >sv.rm3 2>&1; st=$?
last=sv.rm3; show sv.rm3
check "remove of a policy saved but not installed (status $st): the file deleted, and it says so" \
    '[ $st = 0 ] && has sv.rm3 "^deleted: $rfile$" && has sv.rm3 "was saved but not installed" && [ ! -f "$rfile" ]'
"$SBX" policy remove --exe ./registered >sv.rm4 2>&1; st=$?
last=sv.rm4
check "remove with nothing installed or saved: status 1" '[ $st = 1 ] && has sv.rm4 "no installed policy"'
"$SBX" policy load-all >sv.load3 2>&1; st=$?
last=sv.load3
check "load-all of an empty directory: status 0, nothing loaded" '[ $st = 0 ] && has sv.load3 "^load-all: 0 loaded, 0 failed"'

# --- one JSON key style: sbx run --json-report ---------------------------------------------
"$SBX" run --json-report sv.run.json -- "$P/hijack" "$arg" >/dev/null 2>&1; st=$?
last=sv.run.json
check "run --json-report (status $st): stack_truncated beside killed_by_monitor, every key snake_case" \
    '[ $st = 100 ] && has sv.run.json "\"stack_truncated\"" && has sv.run.json "\"killed_by_monitor\" : true" && python3 -c "
import json, re
def keys(v):
    if isinstance(v, dict):
        for k, x in v.items():
            assert re.fullmatch(\"[a-z][a-z0-9_]*\", k), k
            keys(x)
    elif isinstance(v, list):
        for x in v: keys(x)
keys(json.load(open(\"sv.run.json\")))
"'
"$SBX" status >sv.st3 2>&1; last=sv.st3
check "saved: afterwards nothing installed or loaded" 'has sv.st3 "policies: 0 loaded" && has sv.st3 ", 0 installed"'
cd "$W" || exit 100
