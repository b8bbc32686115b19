#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Cost of a marker, run INSIDE a guest (sbx vm) with sbx_dyck loaded:
#   base     no thread sandboxed (the sys_enter probe is not attached)
#   other    the calling process is not sandboxed, another one is enforced
#   enforced the calling process is enforced (nfa example, a LIBC self-loop)
# Each is measured ROUNDS times, interleaved; prints ns per marker.
set -u
here=$(cd "$(dirname "$0")" && pwd)
BIN=${SBX_TEST_BIN:-$here/../../build/kmod-tests}
CTL=$BIN/sbxctl
MK=$BIN/sbx_markers
N=${N:-300000}
ROUNDS=${ROUNDS:-5}
W=$(mktemp -d /tmp/sbxb.XXXXXXXX) || exit 1  # the guest shares the host's /tmp
chmod 755 "$W"  # the unprivileged steps read blobs from here
$CTL mkblob nfa "$W/nfa.blob"
P=$($CTL load "$W/nfa.blob")
ns() { sed -n 's/.*ns\/marker //p' "$1"; }
base="" other="" enf=""
i=0
while [ $i -lt "$ROUNDS" ]; do
	"$MK" loop:$N:1:1 >"$W/b"
	$CTL run -p "$P" -m nfa -- "$MK" 1:1 loop:$N:1:1 >"$W/e"
	rm -f "$W/go"
	$CTL run -p "$P" -m nfa -- "$MK" 1:1 "wait:$W/go" >/dev/null 2>&1 &
	bg=$!
	while ! $CTL status | grep -q "enforced 1 "; do sleep 0.1; done
	"$MK" loop:$N:1:1 >"$W/o"
	touch "$W/go"
	wait $bg
	base="$base $(ns "$W/b")" other="$other $(ns "$W/o")" enf="$enf $(ns "$W/e")"
	i=$((i + 1))
done
echo "base    :$base"
echo "other   :$other"
echo "enforced:$enf"
$CTL unload "$P" >/dev/null
rm -rf "$W"
