# Sourced by guest.sh (in the guest): issue 17's false positives. Each
# reproduction runs plain, then under --mode dyck and --mode nfa, with the same
# output, errors and status (run_three); the plain run must do what the
# reproduction says. Built at -O0 and -O2 by run.sh.
# --- setjmp/longjmp and deep recursion: no false positive (issue 17) -------------------
for opt in O0 O2; do
    run_three "sj-nested-$opt" "$P/sj-nested-$opt"
    last=sj-nested-$opt.plain.out
    check "sj-nested-$opt plain: the inner protect() returned, the outer one caught the longjmp" \
        'has sj-nested-$opt.plain.out "inner protected call returns normally" && has sj-nested-$opt.plain.out "caught: 1" && has sj-nested-$opt.plain.err throwing'
    run_three "sj-deep-$opt" "$P/sj-deep-$opt" 40
    last=sj-deep-$opt.plain.out
    check "sj-deep-$opt plain: setjmp at 40 levels, longjmp to main" \
        'has sj-deep-$opt.plain.out "at the bottom, 40 levels down" && has sj-deep-$opt.plain.out "back in main with 7"'
    run_three "deep-recursion-$opt" "$P/deep-recursion-$opt" 5000
    last=deep-recursion-$opt.plain.out
    check "deep-recursion-$opt plain: 5000 levels of recursion through one site" \
        'has deep-recursion-$opt.plain.out "parsed 5000 values, 5001 levels deep"'
done
# The store bound stays: mutual recursion does not fold, and 2000 levels of it
# need more than the default 1024 slots. Killed in dyck mode, with the reason named.
"$P/deep-recursion-O2" 2000 mutual >mut.plain 2>&1; st=$?
check "deep-recursion mutual, plain: 2000 levels (status $st)" '[ $st = 0 ] && has mut.plain "2000 levels deep"'
"$SBX" run --mode dyck -- "$P/deep-recursion-O2" 2000 mutual >mut.out 2>mut.err; st=$?
last=mut.err
check "deep-recursion mutual, --mode dyck: killed at the store bound, which the report names (status $st)" \
    '[ $st = 100 ] && has mut.err "no slot left for another distinct frame or setjmp record" && has mut.err "stack_limit" && has mut.err "sbx run --stack-limit"'
"$SBX" run --mode dyck --stack-limit 8192 -- "$P/deep-recursion-O2" 2000 mutual >mut.big 2>mut.big.err; st=$?
last=mut.big.err
check "deep-recursion mutual, --mode dyck --stack-limit 8192: the option the report names lets it run (status $st)" \
    '[ $st = 0 ] && cmp -s mut.plain mut.big'
"$SBX" run --mode dyck --max-depth 1000 -- "$P/deep-recursion-O2" 5000 >md.out 2>md.err; st=$?
last=md.err
check "deep-recursion, --max-depth 1000: folded recursion still stops at the depth bound, named (status $st)" \
    '[ $st = 100 ] && has md.err "deeper than the policy.s bound of 1000 frames" && has md.err "sbx run --max-depth"'
"$SBX" run --mode nfa -- "$P/deep-recursion-O2" 2000 mutual >mut.nfa 2>mut.nfa.err; st=$?
last=mut.nfa.err
check "deep-recursion mutual, --mode nfa: no call frames, runs (status $st)" '[ $st = 0 ] && cmp -s mut.plain mut.nfa'
