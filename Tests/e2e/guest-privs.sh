# Sourced by Tests/e2e/guest.sh (in the guest, cwd $W): `sbx run` leaves no way
# back (issue 15, item 6). A setuid-root helper raises a user's privileges
# natively and not under sbx run (PR_SET_NO_NEW_PRIVS); a root program opens
# another user's file, chowns and signals another user's process natively and
# under sbx run, and cannot under --cap-drop ALL.
# On a tmpfs of the guest's own: the shared /tmp may not honour setuid bits or chown.
T=$(mktemp -d /run/sbxprivs.XXXXXX) && mount -t tmpfs -o mode=755 none "$T"
cp "$P/privs" "$P/privs.dyck" "$T/"
cp "$P/privs" "$T/suid" && chown root:root "$T/suid" && chmod 4755 "$T/suid"
"$SBX" policy install "$T/privs.dyck" --exe "$T/suid" >pr.inst 2>&1
last=pr.inst
check "privs: the setuid-root helper is installed with its policy" 'has pr.inst "installed: "'
setpriv --reuid=65534 --regid=65534 --clear-groups "$T/suid" euid >pr.native0 2>&1
last=pr.native0
check "privs, native: the setuid-root helper raises a user's euid to 0" 'has pr.native0 "^euid 0$"'
"$T/privs" setuid "$T/suid" >pr.native 2>&1
last=pr.native
check "privs, native: root drops to uid 65534, execs the helper and is root again" 'has pr.native "^euid 0$"'
"$SBX" run -- "$T/privs" setuid "$T/suid" >pr.run 2>&1; st=$?
last=pr.run; show pr.run
check "privs, sbx run: the same exec cannot raise privileges (no new privs: euid 65534, status $st)" \
    '[ $st = 0 ] && has pr.run "^euid 65534$"'
"$SBX" run -- "$T/privs" status >pr.st 2>&1
last=pr.st; show pr.st
check "privs, sbx run: NoNewPrivs is set, the capabilities are root's" \
    'grep -q "^NoNewPrivs:[[:space:]]*1" pr.st && ! grep -q "^CapEff:[[:space:]]*0000000000000000" pr.st'
"$SBX" policy remove --exe "$T/suid" >/dev/null 2>&1
# A root program, another user's file and process.
echo secret >"$T/secret" && chown 65534:65534 "$T/secret" && chmod 600 "$T/secret"
setpriv --reuid=65534 --regid=65534 --clear-groups sleep 300 &
victim=$!
cd "$T" || exit 100
powers() {  # powers OUT [sbx run options...]: the three attempts, as root
    local out=$1; shift
    rm -f mine; : >mine
    if [ "${1:-}" = native ]; then "$T/privs" powers "$T/secret" "$victim" >"$out" 2>&1
    else "$SBX" run "$@" -- "$T/privs" powers "$T/secret" "$victim" >"$out" 2>&1; fi
}
powers "$W/pw.native" native; last=$W/pw.native
check "powers, native: root opens another user's 0600 file, chowns, signals another user's process" \
    'has "$W/pw.native" "^open 0 chown 0 kill 0$"'
powers "$W/pw.run"; last=$W/pw.run
check "powers, sbx run without --cap-drop: a sandboxed root program keeps root's powers" \
    'has "$W/pw.run" "^open 0 chown 0 kill 0$"'
powers "$W/pw.drop" --cap-drop ALL; last=$W/pw.drop; show "$W/pw.drop"
check "powers, --cap-drop ALL: open EACCES, chown EPERM, kill EPERM" 'has "$W/pw.drop" "^open 13 chown 1 kill 1$"'
powers "$W/pw.keep" --cap-drop ALL --cap-add CAP_CHOWN; last=$W/pw.keep; show "$W/pw.keep"
check "powers, --cap-drop ALL --cap-add CAP_CHOWN: only chown" 'has "$W/pw.keep" "^open 13 chown 0 kill 1$"'
"$SBX" run --cap-drop ALL -- "$T/privs" status >"$W/pw.st" 2>&1; last=$W/pw.st; show "$W/pw.st"
check "--cap-drop ALL: no effective capability" 'grep -q "^CapEff:[[:space:]]*0000000000000000" "$W/pw.st"'
"$SBX" run --cap-drop ALL -- "$T/privs" setuid "$T/suid" >"$W/pw.suid" 2>&1; last=$W/pw.suid
check "--cap-drop ALL: setuid(65534) fails without CAP_SETUID" 'has "$W/pw.suid" "setuid: Operation not permitted"'
"$SBX" run --cap-drop CAP_NOPE -- "$T/privs" status >"$W/pw.bad" 2>&1; st=$?; last=$W/pw.bad
check "--cap-drop with an unknown name: usage error 2 (got $st)" '[ $st = 2 ] && has "$W/pw.bad" "unknown capability"'
cd "$W" || exit 100
kill "$victim" 2>/dev/null; wait "$victim" 2>/dev/null
umount "$T" && rmdir "$T"

