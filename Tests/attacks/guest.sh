#!/bin/bash
# The attack suite proper. Runs INSIDE the guest (sbx vm), as root, with sbx_dyck
# loaded; or, with --native-only, anywhere (the host included: nothing touches the
# kernel module). KTAP lines; the exit status is the number of failures (at most 100).
#   guest.sh [--native-only] BIN_DIR PROGRAM_DIR
# ATTACKS_ONLY=REGEX (grep -E): only the attacks and benign runs whose name matches
#   (e.g. 'evbuf|bufd' to try a module build against the buffered-event attacks).
#
# For every attack and build:
#   native      the attack must WORK without the sandbox (its canary appears), or the
#               test proves nothing;
#   dyck, nfa   under `sbx run --mode MODE` the program must be killed by the monitor
#               (status 100, ExitStatus.violation) AFTER the victim has taken the
#               attacker's input (so not by a false positive earlier), and the canary
#               must be absent.
# Every victim, and benign.c, also runs with benign input natively and in both modes:
# same status, same stdout and stderr (addresses the `debug` command prints are
# normalised), same files written.
set -u
native_only=0
if [ "${1:-}" = --native-only ]; then native_only=1; shift; fi
[ "${ATTACKS_NATIVE_ONLY:-0}" = 1 ] && native_only=1
bin=$(cd "$1" && pwd) P=$(cd "$2" && pwd)
SBX="$bin/sbx"
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
ATTACK="$PY $HERE/attacks.py"
W=$(mktemp -d /tmp/sbxattacks.XXXXXXXX) || exit 100  # /tmp is the host's: unique names
chmod 755 "$W"
cd "$W" || exit 100

n=0 fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
show() { [ -s "$1" ] && head -n "${2:-12}" "$1" | sed 's/^/# /'; }
summary=()

echo "KTAP version 1"
if [ $native_only = 0 ]; then
    lsmod | grep -q '^sbx_dyck' || { echo "Bail out! sbx_dyck is not loaded"; exit 100; }
    modes="native dyck nfa"
else
    echo "# native only: no sandboxed runs"
    modes=native
fi
[ -x "$PY" ] || { echo "Bail out! no $PY"; exit 100; }

# runner MODE: the command prefix of a benign run, natively or under sbx run --mode MODE.
# Benign runs exec /bin/sh (system, popen, posix_spawn, the notes hook), which has no
# installed policy: they allow it with --exec=unconfined, as their user would. The
# attacks run under the default transition (registry: such an exec is refused).
runner() { [ "$1" = native ] || echo "$SBX run --mode $1 --exec=unconfined --"; }

# --- benign input: no false positives -------------------------------------------------
# Normalises what differs from run to run: the addresses of `debug` (ASLR) and pids.
normalise() { sed -E 's/0x[0-9a-f]+/ADDR/g' "$1"; }
benign_run() {  # benign_run NAME MODE INPUT CMD...
    local name=$1 mode=$2 input=$3; shift 3
    local d=$W/benign/$name.$mode
    mkdir -p "$d"
    (cd "$d" && $(runner "$mode") "$@" <"$input" >out 2>err; echo $? >st)
    # The files the program wrote are part of its output.
    for f in notes.out stackd.log bufd.log; do
        [ -f "$d/$f" ] && { echo "== $f"; cat "$d/$f"; } >>"$d/out"
    done
    normalise "$d/out" >"$d/out.n"
}
only() { [ -z "${ATTACKS_ONLY:-}" ] || echo "$1" | grep -Eq "$ATTACKS_ONLY"; }
benign() {  # benign NAME INPUT CMD...
    local name=$1 input=$2; shift 2
    only "$name" || return 0
    local base=$W/benign/$name.native
    benign_run "$name" native "$input" "$@"
    if [ "$(cat "$base/st")" = 0 ] && grep -q "${expect_last:-bye}" "$base/out"; then
        ok "benign $name: native run ends normally"
    else
        nok "benign $name: native run ends normally (status $(cat "$base/st"))"; show "$base/out"; show "$base/err"
    fi
    [ $native_only = 1 ] && return
    for mode in dyck nfa; do
        benign_run "$name" $mode "$input" "$@"
        local d=$W/benign/$name.$mode
        if cmp -s "$base/out.n" "$d/out.n" && cmp -s "$base/err" "$d/err" && cmp -s "$base/st" "$d/st"; then
            ok "benign $name: --mode $mode: same output, errors and status ($(cat "$d/st")) as native"
            summary+=("benign $name $mode: same as native")
        else
            nok "benign $name: --mode $mode: same output, errors and status as native (status $(cat "$d/st"), native $(cat "$base/st"))"
            summary+=("benign $name $mode: DIFFERS (status $(cat "$d/st"))")
            diff "$base/out.n" "$d/out.n" | head -20 | sed 's/^/# out: /'
            show "$d/err" 20
        fi
    done
}

mkdir -p "$W/benign"
printf '%s\n' debug 'style loud' 'title 6d79206e6f7465' 'save 68656c6c6f0a' show \
    'style plain' show bogus quit >"$W/notes.in"
{ cat "$W/notes.in" | sed '$d'; echo hook; echo quit; } >"$W/notes-plt.in"
printf 'debug\npost 5\nhellolog hi there\nbogus\nquit\n' >"$W/stack.in"
printf 'debug\npost 5\nhellolog hi there\nlog again\nbogus\nquit\n' >"$W/bufd.in"
: >"$W/empty.in"
for opt in O0 O2; do
    benign "notes-$opt" "$W/notes.in" "$P/notes-$opt"
    # The administrator's hook, used legitimately: system() from its own call site.
    NOTES_HOOK='echo hook: ran' benign "notes-plt-$opt" "$W/notes-plt.in" "$P/notes-plt-$opt"
    benign "stack-$opt" "$W/stack.in" "$P/stack-$opt"
    expect_last='benign: done' benign "benign-$opt" "$W/empty.in" "$P/benign-$opt"
    # Built with --dyck-buffer: its read/write/close events and its sites are
    # buffered, replayed at each system call; only open's is a marker.
    benign "bufd-$opt" "$W/bufd.in" "$P/bufd-$opt"
done

# --- the attacks ---------------------------------------------------------------------
# attack NAME VICTIM MIN_CANARIES PROGRESS: every build of VICTIM, every mode.
# PROGRESS is a line the victim prints (and flushes) once it has taken the attacker's
# input, before the hijack: notes.c's "title set" after the overflowing title, stack.c's
# "post: N bytes received" in handle_post() between its fread and its return. A kill
# before it would be a false positive, not a stopped attack.
# Known gaps: attacks that stay inside the window they hijack, so that the binding
# cannot see them (README "What it stops, and what it does not"). Each is still run and
# reported, as KTAP "not ok ... # TODO" (not counted as a failure) while it gets through,
# and as ok once it is stopped.
known_gap() {
    case $1 in
    *) return 1 ;;
    esac
}

# RECORD (optional, "record"): the kill must also leave the record attacks.py
# check-record expects (reason, event, system call; read from sbx run --json-report).
attack() {
    local a=$1 victim=$2 min=$3 progress=$4 record=${5:-} opt mode
    only "$a" || return 0
    for opt in O0 O2; do
        for mode in $modes; do
            local d=$W/attack/$a-$opt.$mode
            mkdir -p "$d"
            # shellcheck disable=SC2046
            (cd "$d" && $ATTACK run "$a" "$P/$victim-$opt" "$d/run" $( [ $mode = native ] || echo -- "$SBX" run --mode $mode ${record:+--json-report "$d/report.json"} -- ) ; echo $? >"$d/st")
            local st canaries
            st=$(cat "$d/st")
            canaries=$(cat "$d/run.out" "$d/canary-$a" 2>/dev/null | grep -c "CANARY-$a")
            local what="$a -$opt ($victim-$opt)"
            if [ $mode = native ]; then
                if [ "$canaries" -ge "$min" ]; then
                    ok "$what: native: the attack works (canary x$canaries, status $st)"
                else
                    nok "$what: native: the attack works (canary x$canaries, want >= $min; status $st)"
                    show "$d/run.out"; show "$d/run.err"
                fi
                summary+=("$(printf '%-20s -%s %-6s status %3s canary x%s' "$a" "$opt" native "$st" "$canaries")")
                continue
            fi
            local reached=yes
            grep -q "^$progress" "$d/run.out" || reached=no
            local verdict rec=
            if [ -n "$record" ]; then
                rec=$($ATTACK check-record "$a" "$P/$victim-$opt" "$d/report.json") || rec="WRONG RECORD: $rec"
            fi
            if [ "$st" = 100 ] && [ "$canaries" = 0 ] && [ $reached = yes ] && [ "${rec#WRONG}" = "$rec" ]; then
                ok "$what: --mode $mode: killed by the monitor (status 100), no canary${rec:+; record: $rec}"
                verdict=STOPPED
            elif gap=$(known_gap "$a") && [ $reached = yes ]; then
                n=$((n + 1))
                echo "not ok $n - $what: --mode $mode: killed by the monitor (status 100), no canary; got status $st, canary x$canaries # TODO known gap: $gap"
                verdict="not stopped (known gap)"
            else
                nok "$what: --mode $mode: killed by the monitor (status 100), no canary; got status $st, canary x$canaries, reached the attack: $reached${rec:+; record: $rec}"
                if [ "$st" = 100 ] && [ $reached = no ]; then verdict="KILLED TOO EARLY (a false positive before the attack)"
                elif [ "$st" = 100 ] && [ "${rec#WRONG}" != "$rec" ]; then verdict="killed, but not for the expected reason"
                elif [ "$st" = 100 ]; then verdict="killed, but only after the canary"
                elif [ $reached = no ]; then verdict="the victim never took the attacker's input"
                else verdict="NOT STOPPED"; fi
            fi
            show "$d/run.err" 8
            local why
            why=$(sed -n 's/^sbx: KILLED: [^]]*]: //p' "$d/run.err" | head -1)
            summary+=("$(printf '%-20s -%s %-6s status %3s canary x%s  %s%s' "$a" "$opt" $mode "$st" "$canaries" "$verdict" "${why:+ ($why)}")")
        done
    done
}

attack fnptr-plt          notes-plt 1 "title set"
attack fnptr-leak         notes     1 "title set"
attack procmem            notes     1 "title set"
attack ret2libc           stack     1 "post: "
attack rop-execve         stack     1 "post: "
attack rop-openat         stack     1 "post: "
attack forged-markers     stack     1 "post: "
attack mprotect-shellcode stack     1 "post: "
attack mprotect-rx-shellcode stack  1 "post: "
attack clone              stack     2 "post: "
attack clone3             stack     2 "post: "
attack vfork-execve       stack     1 "post: "
# Buffered events (issue 19; specs/kernel-abi.md, "What an attacker who can write the
# process's memory gains"): bufd, built with --dyck-buffer, hijacked as stack is; the
# chain forges words in the thread's event buffer, then makes the sensitive call.
# (a) an accepted walk ending in open's LIBC event (not bufferable): reason 29 at the
# raw openat; (b) the walk without it: the openat is outside the window (reason 20);
# (c) garbage (an unknown kind, an id past the symbols, a count of 2^32-1): reason
# 29 at the raw execve. Each kill's record is checked (attacks.py expected_record).
attack evbuf-forged-libc  bufd      1 "post: " record
attack evbuf-forged-walk  bufd      1 "post: " record
attack evbuf-bad-kind     bufd      1 "post: " record
attack evbuf-bad-id       bufd      1 "post: " record
attack evbuf-huge-count   bufd      1 "post: " record

if [ $native_only = 0 ]; then
    # No process of an attack survives under the sandbox. (A policy may stay loaded
    # today: processes an attack cloned outlive sbx run, which then leaves it.)
    sleep 1
    "$SBX" status >"$W/st.txt" 2>&1
    if grep -q "threads: 0 enforced, 0 armed" "$W/st.txt"; then
        ok "after the runs: no thread left enforced or armed"
    else
        nok "after the runs: no thread left enforced or armed"
    fi
    show "$W/st.txt"
fi

echo "1..$n"
echo "# results (status, canary count, verdict):"
printf '#   %s\n' "${summary[@]}"
echo "# attacks: $n tests, $fails failed"
[ $fails -gt 100 ] && fails=100
exit $fails
