# Sourced by guest.sh: the markers' skip flag (issue 19, "The nfa mode does not pay
# for CALL/RET"; specs/marker-abi.md, "Answers"). Under nfa mode the kernel answers
# the first CALL/RET/TAIL marker with SBX_MARKER_NO_SITES and the program skips the
# rest: far fewer markers, the same output. Under dyck mode, and under nfa mode with
# the module parameter nfa_site_answer off (the stream as it was before the
# answer), every marker is made. A corrupted flag only takes markers away from what
# the kernel checks: in dyck mode that is killed, never let through.
PARAM=/sys/module/sbx_dyck/parameters/nfa_site_answer
# same_runs PLAIN TAG...: each TAG.out equals PLAIN, TAG.st equals PLAIN.st, and
# TAG.err equals PLAIN.err.
same_runs() {
    local plain=$1 t; shift
    for t; do
        cmp -s "$t.out" "$plain" && cmp -s "$t.st" "$plain.st" && cmp -s "$t.err" "$plain.err" || return 1
    done
}
markers_of() { grep -o '"markers" : [0-9]*' "$1" | grep -o '[0-9]*$'; }
# skip_run TAG MODE PROG ARGS...: sbx run with a JSON report; TAG.out/.err/.st/.json.
skip_run() {
    local tag=$1 mode=$2; shift 2
    "$SBX" run --mode "$mode" --json-report "$tag.json" -- "$@" >"$tag.out" 2>"$tag.err"; echo $? >"$tag.st"
}
# The e2e programs with site markers at -O2: function pointers (dispatch), setjmp
# and longjmp over instrumented frames (jumps), fork (procs).
for prog in skipflag-O0 skipflag-O2 dispatch-O2 jumps-O2 procs-O2; do
    "$P/$prog" >"sk-$prog.plain" 2>"sk-$prog.plain.err"; echo $? >"sk-$prog.plain.st"
    skip_run "sk-$prog.dyck" dyck "$P/$prog"
    skip_run "sk-$prog.nfa" nfa "$P/$prog"
    echo N >"$PARAM"
    skip_run "sk-$prog.keep" nfa "$P/$prog"
    echo Y >"$PARAM"
    d=$(markers_of "sk-$prog.dyck.json") f=$(markers_of "sk-$prog.nfa.json") k=$(markers_of "sk-$prog.keep.json")
    echo "# $prog: markers dyck $d, nfa with nfa_site_answer off (before) $k, nfa $f"
    last=sk-$prog.nfa.err
    check "skip: $prog: the three runs print what the plain run prints (stdout, stderr), with its status" \
        'same_runs "sk-$prog.plain" "sk-$prog.dyck" "sk-$prog.nfa" "sk-$prog.keep"'
    check "skip: $prog: dyck mode makes every marker, as nfa mode did before ($d = $k)" '[ -n "$d" ] && [ "$d" -gt 0 ] && [ "$d" = "$k" ]'
    case $prog in
    skipflag-*)
        # 300 rounds of 2 libc and 4 site markers: nfa keeps the libc markers, the
        # exit's, and the one site marker that was answered.
        check "skip: $prog: nfa mode makes far fewer markers ($f, at most a third of $d plus 8)" '[ -n "$f" ] && [ $((f * 3)) -le $((d + 24)) ] && [ "$f" -ge 600 ]' ;;
    *)
        check "skip: $prog: nfa mode makes fewer markers ($f < $d)" '[ -n "$f" ] && [ "$f" -lt "$d" ]' ;;
    esac
done

# A corrupted flag. Set by the program itself in dyck mode: its CALL of work() is
# skipped, the kernel sees work()'s snprintf in main's frame, and kills.
"$P/skipflag-O2" set >sk-set.out 2>sk-set.err; echo $? >sk-set.st
check "skip: natively, a program that sets its own flag prints the same" 'same_runs sk-skipflag-O2.plain sk-set'
for opt in O0 O2; do
    skip_run sk-set-dyck-$opt dyck "$P/skipflag-$opt" set
    last=sk-set-dyck-$opt.err; show "$last"
    check "skip: $opt: flag set by the program under dyck mode: killed at the first skipped site (status $(cat sk-set-dyck-$opt.st)), the refused call is work()'s snprintf in main" \
        '[ "$(cat sk-set-dyck-$opt.st)" = 100 ] && has "$last" "refused:  call of libc function snprintf()" && has "$last" "in:       main()" && hasnt sk-set-dyck-$opt.out "^nest"'
    skip_run sk-set-nfa-$opt nfa "$P/skipflag-$opt" set
    skip_run sk-clear-dyck-$opt dyck "$P/skipflag-$opt" clear
    skip_run sk-clear-nfa-$opt nfa "$P/skipflag-$opt" clear
    last=sk-clear-nfa-$opt.err
    check "skip: $opt: flag set under nfa mode, cleared under both modes: same output and status as plain" \
        'same_runs sk-skipflag-O2.plain "sk-set-nfa-$opt" "sk-clear-dyck-$opt" "sk-clear-nfa-$opt"'
    c=$(markers_of sk-clear-dyck-$opt.json) d=$(markers_of sk-skipflag-$opt.dyck.json)
    check "skip: $opt: flag cleared under dyck mode: every marker, as without ($c = $d)" '[ -n "$c" ] && [ "$c" = "$d" ]'
done

# The ptrace recorder is answered ENOSYS like any untraced run: its trace has every
# marker, and the dyck checker accepts it (it would refuse a trace without CALL/RET).
"$SBX" record -o sk.trace -- "$P/skipflag-O2" >sk-rec.out 2>sk-rec.err; st=$?
"$SBX" check --trace sk.trace --mode dyck "$P/skipflag-O2.dyck" >sk-chk.out 2>&1; st2=$?
last=sk-chk.out; show sk-chk.out
check "skip: sbx record keeps every marker: the trace passes the dyck check (record $st, check $st2)" \
    '[ $st = 0 ] && [ $st2 = 0 ] && cmp -s sk-rec.out sk-skipflag-O2.plain'
"$SBX" status >st.txt 2>&1
check "skip: nothing left loaded or enforced, nfa_site_answer back on" \
    'has st.txt "policies: 0 loaded" && has st.txt "threads: 0 enforced, 0 armed" && [ "$(cat $PARAM)" = Y ]'
