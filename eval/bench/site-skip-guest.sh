#!/usr/bin/env bash
# In the guest (sbx vm --icount), with sbx_dyck loaded: see site-skip-bench.sh.
#   site-skip-guest.sh SBX DIR
set -u
SBX=$1 D=$2
PARAM=/sys/module/sbx_dyck/parameters/nfa_site_answer
W=$(mktemp -d /tmp/sbxskip.XXXXXXXX); chmod 755 "$W"; cd "$W" || exit 1
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
json() { grep -o "\"$2\" : [0-9]*" "$1" | grep -o '[0-9]*$'; }
# one PROG MODE ARGS...: prints "instructions markers" of one run.
one() {
    local prog=$1 mode=$2; shift 2
    case $mode in
    plain|inst)
        local exe=$D/$prog; [ $mode = plain ] && exe=$D/$prog.plain
        "$D/mbt-time" t.txt -- "$exe" "$@" >o.txt 2>&1 || { echo "fail $mode" >&2; return 1; }
        awk '{ printf "%.0f -\n", ($2 + $3) * 1e9 }' t.txt ;;
    *)
        local m=$mode
        [ $mode = nfa-keep ] && { m=nfa; echo N >"$PARAM"; }
        "$SBX" run --mode $m --json-report r.json -- "$D/$prog" "$@" >o.txt 2>&1; st=$?
        echo Y >"$PARAM"
        [ $st = 0 ] || { echo "fail $mode status $st" >&2; return 1; }
        echo "$(( ($(json r.json utime_us) + $(json r.json stime_us)) * 1000 )) $(json r.json markers)" ;;
    esac
}
printf '%-12s %-9s %14s %9s\n' program mode instructions markers
for spec in "sites_loop $UPDATES" "skipflag"; do
    set -- $spec; prog=$1; shift
    for mode in plain inst dyck nfa-keep nfa; do
        : >runs.txt
        for r in $(seq "$ROUNDS"); do one "$prog" $mode "$@" >>runs.txt || exit 1; done
        printf '%-12s %-9s %14s %9s\n' "$prog" $mode "$(cut -d' ' -f1 runs.txt | median)" "$(cut -d' ' -f2 runs.txt | head -1)"
    done
done
rm -rf "$W"
