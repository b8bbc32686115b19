#!/bin/bash
# The enforcement part of `make demo`, inside the guest (sbx vm) with sbx_dyck
# loaded: a normal run and a killed hijack. Exits non-zero if either goes wrong.
#   guest-demo.sh BIN_DIR DEMO_DIR
set -u
bin=$1 out=$2
w=$(mktemp -d /tmp/sbxdemo.XXXXXXXX) && cd "$w" || exit 1
printf 'key = value\n' >config.txt
say() { printf '\n%s\n' "$*"; }
cmd() { printf '$ %s\n' "$*"; }

say "-- a normal run, enforced in dyck mode:"
cmd "sbx run --mode=dyck -- example config.txt report.txt"
"$bin/sbx" run --mode=dyck -- "$out/example" config.txt report.txt
normal=$?
echo "(exit status $normal; report.txt says: $(cat report.txt 2>/dev/null))"

say "-- the hijack, natively (no monitor): the overflow runs maintenance() and system()"
cmd "hijack $(cat "$out/hijack.arg")"
"$out/hijack" "$(cat "$out/hijack.arg")"
echo "(exit status $?; canary: $(cat hijack-canary 2>/dev/null || echo absent))"
rm -f hijack-canary

say "-- the same hijack under sbx run --mode=dyck:"
cmd "sbx run --mode=dyck -- hijack $(cat "$out/hijack.arg")"
"$bin/sbx" run --mode=dyck -- "$out/hijack" "$(cat "$out/hijack.arg")"
killed=$?
verdict="not killed!"
[ $killed = 100 ] && verdict="100: killed by the monitor before system() ran"
echo "(exit status $verdict; canary: $(cat hijack-canary 2>/dev/null || echo absent))"

[ $normal = 0 ] && [ $killed = 100 ] && [ ! -f hijack-canary ]
