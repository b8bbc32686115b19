#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Cost of buffered events against markers (issue 19), run INSIDE a guest (sbx vm
# --icount: a nanosecond is a guest instruction) with sbx_dyck loaded. The nfa
# example (a LIBC 1 self-loop), with read bufferable, enforced on sbx_evbuf:
#   none  a getppid() per round, no event (buffered blob: the empty-buffer
#         test of the drain; unbuffered blob: without it)
#   buf   32 buffered LIBC events and the getppid() that drains them
#   sync  the same 32 events as synchronous markers, and the getppid()
# Per event: (round - none round) / 32. Medians of ROUNDS runs, interleaved.
#   sbx vm --icount --module kmod/sbx_dyck.ko -- kmod/tests/guest-bench-buffer.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
BIN=${SBX_TEST_BIN:-$here/../../build/kmod-tests}
KO=${SBX_KO:-$here/../sbx_dyck.ko}
CTL=$BIN/sbxctl
EB=$BIN/sbx_evbuf
N=${N:-20000}
K=32
ROUNDS=${ROUNDS:-5}
W=$(mktemp -d /tmp/sbxb.XXXXXXXX) || exit 1
median() { printf '%s\n' $* | sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
ns() { sed -n 's/.*ns\/round //p' "$1" | tail -n 1; }

lsmod | grep -q "^sbx_dyck" || insmod "$KO" || exit 1
TPOFF=$("$EB" tpoff | sed -n 's/^tpoff \(-[0-9]*\) .*/\1/p')
$CTL mkblob nfa-buffered "$W/buf.blob" "$TPOFF" || exit 1
$CTL mkblob nfa "$W/plain.blob" || exit 1
B=$($CTL load "$W/buf.blob")
P=$($CTL load "$W/plain.blob")
none_b="" none_p="" buf="" sync_b="" sync_p=""
for r in $(seq "$ROUNDS"); do
	$CTL run -p "$B" -m nfa -- "$EB" b:1:1 brk bench:none:$N:0 >"$W/o" 2>&1; none_b="$none_b $(ns "$W/o")"
	$CTL run -p "$P" -m nfa -- "$EB" m:1:1 bench:none:$N:0 >"$W/o" 2>&1; none_p="$none_p $(ns "$W/o")"
	$CTL run -p "$B" -m nfa -- "$EB" b:1:1 brk bench:buf:$N:$K >"$W/o" 2>&1; buf="$buf $(ns "$W/o")"
	grep -q "^exit 0" "$W/o" || { cat "$W/o"; echo "bench-buffer: the buffered run failed"; }
	$CTL run -p "$B" -m nfa -- "$EB" b:1:1 brk bench:sync:$N:$K >"$W/o" 2>&1; sync_b="$sync_b $(ns "$W/o")"
	$CTL run -p "$P" -m nfa -- "$EB" m:1:1 bench:sync:$N:$K >"$W/o" 2>&1; sync_p="$sync_p $(ns "$W/o")"
done
$CTL read >"$W/r"
grep -q "^records 0 " "$W/r" || { cat "$W/r"; echo "bench-buffer: violations"; }
nb=$(median $none_b) np=$(median $none_p) b=$(median $buf) sb=$(median $sync_b) sp=$(median $sync_p)
echo "# per round of $K events and one getppid(), guest instructions (medians of $ROUNDS x $N)"
echo "getppid, unbuffered blob:            $np"
echo "getppid, buffered blob, empty buffer: $nb"
echo "32 markers + getppid, unbuffered blob: $sp"
echo "32 markers + getppid, buffered blob:   $sb"
echo "32 buffered events + getppid:          $b"
awk -v nb="$nb" -v np="$np" -v b="$b" -v sp="$sp" -v k=$K 'BEGIN {
	printf "per event: marker %.1f, buffered %.1f (%.2fx); empty-buffer check %+.1f per system call\n",
		(sp - np) / k, (b - nb) / k, (sp - np) / (b - nb), nb - np }'
$CTL unload "$B" >/dev/null
$CTL unload "$P" >/dev/null
rmmod sbx_dyck
rm -rf "$W"
