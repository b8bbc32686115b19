#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Cost of markers and system calls, run INSIDE a guest (sbx vm) with sbx_dyck
# loaded. Under `sbx vm --icount` the figures are guest instructions (1 ns each).
# First, the cost to the rest of the machine (issue 19): an unrelated process's
# getppid() with the module not loaded, loaded with nothing enforced, with a
# policy installed in the registry (for another file), and while another
# process is enforced (running); the module is removed and loaded again in each
# round. Then, for markers:
#   base     no thread sandboxed (the sys_enter probe is not attached)
#   other    the calling process is not sandboxed, another one is enforced
#   enforced the calling process is enforced (nfa example, a LIBC self-loop)
# and, for the system-call binding and pinned markers (issue 14):
#   syscall  a getppid() of an enforced thread: unbound blob, bound blob
#   pinned   a marker from a pinned site: unpinned blob, pinned (and bound) blob
# With SBX_BASE_DIR (a build of the module and helpers before the binding, see
# Tests/bench/binding-bench.sh) the module is then replaced by that one in the
# same boot and the same system call and marker are measured again: "today".
# With SBX_PREV_DIR (the module of the commit before issue 19's short marker
# path) the enforced markers (nfa LIBC self-loop, unpinned and pinned) are
# measured again with that module in the same boot: "before".
# Each figure is measured ROUNDS times, interleaved; medians are printed last.
set -u
here=$(cd "$(dirname "$0")" && pwd)
BIN=${SBX_TEST_BIN:-$here/../../build/kmod-tests}
KO=${SBX_KO:-$here/../sbx_dyck.ko}
CTL=$BIN/sbxctl
MK=$BIN/sbx_markers
N=${N:-300000}
ROUNDS=${ROUNDS:-5}
W=$(mktemp -d /tmp/sbxb.XXXXXXXX) || exit 1  # the guest shares the host's /tmp
chmod 755 "$W"  # the unprivileged steps read blobs from here
ns() { sed -n 's/.*ns\/[a-z]* //p' "$1" | tail -n 1; }
median() { printf '%s\n' $* | sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }

# The pinned site of sbx_markers' pinloop (a -no-pie executable: link-time
# addresses are run-time addresses): the .sbx_sites entry, its syscall, the text.
pins=$(python3 - "$MK" <<'PY'
import struct, sys
data = open(sys.argv[1], 'rb').read()
shoff, = struct.unpack_from('<Q', data, 0x28)
shentsize, shnum, shstrndx = struct.unpack_from('<HHH', data, 0x3a)
phoff, = struct.unpack_from('<Q', data, 0x20)
phentsize, phnum = struct.unpack_from('<HH', data, 0x36)
def sec(i):
    return struct.unpack_from('<IIQQQQ', data, shoff + i * shentsize)
names = sec(shstrndx)
for i in range(shnum):
    name, _, _, addr, off, size = sec(i)
    end = data.index(b'\0', names[4] + name)
    if data[names[4] + name:end] == b'.sbx_sites':
        rel, kind, ident = struct.unpack_from('<iII', data, off)
        text = min(struct.unpack_from('<IIQQ', data, phoff + j * phentsize)[3]
                   for j in range(phnum)
                   if struct.unpack_from('<II', data, phoff + j * phentsize) [0] == 1
                   and struct.unpack_from('<II', data, phoff + j * phentsize)[1] & 1)
        print('%x %x %x:%d:%d' % (addr, text, addr + rel, kind, ident))
PY
)
[ -n "$pins" ] || { echo "guest-bench: no .sbx_sites in $MK"; exit 1; }

$CTL mkblob nfa "$W/nfa.blob"
$CTL mkblob nfa-bound "$W/bound.blob"
$CTL mkblob nfa-pinned "$W/pinned.blob" $pins
# --- an unrelated process: module not loaded, loaded, installed, enforced ----
cp "$MK" "$W/mk-inst"
idle_none="" idle_loaded="" idle_inst="" idle_enf="" idle_ctl=""
i=0
while [ $i -lt "$ROUNDS" ]; do
	rmmod sbx_dyck || { echo "guest-bench: cannot remove sbx_dyck"; exit 1; }
	"$MK" sysloop:$N >"$W/o"; idle_none="$idle_none $(ns "$W/o")"
	insmod "$KO" || { echo "guest-bench: cannot load $KO"; exit 1; }
	"$MK" sysloop:$N >"$W/o"; idle_loaded="$idle_loaded $(ns "$W/o")"
	$CTL install "$W/nfa.blob" --exe "$W/mk-inst" -m nfa >"$W/i" ||
		{ echo "guest-bench: install failed:"; cat "$W/i"; exit 1; }
	"$MK" sysloop:$N >"$W/o"; idle_inst="$idle_inst $(ns "$W/o")"
	$CTL remove --exe "$W/mk-inst" >/dev/null
	$CTL unload "$(sed -n 's/^install 0 policy \([0-9]*\) .*/\1/p' "$W/i")" >/dev/null
	rm -f "$W/go"
	$CTL run -b "$W/nfa.blob" -m nfa -- "$MK" 1:1 "wait:$W/go" >/dev/null 2>&1 &
	bg=$!
	while ! $CTL status | grep -q "enforced 1 "; do sleep 0.1; done
	"$MK" sysloop:$N >"$W/o"; idle_enf="$idle_enf $(ns "$W/o")"
	touch "$W/go"
	wait $bg
	# Control: the same waiting process, not enforced (its polling shares the CPU).
	rm -f "$W/go"
	"$MK" 1:1 "wait:$W/go" >/dev/null 2>&1 &
	bg=$!
	sleep 0.3
	"$MK" sysloop:$N >"$W/o"; idle_ctl="$idle_ctl $(ns "$W/o")"
	touch "$W/go"
	wait $bg
	i=$((i + 1))
done
echo "getppid of an unrelated process, module not loaded :$idle_none"
echo "getppid of an unrelated process, loaded, idle      :$idle_loaded"
echo "getppid of an unrelated process, policy installed  :$idle_inst"
echo "getppid of an unrelated process, another enforced  :$idle_enf"
echo "getppid of an unrelated process, another waiting, not enforced (control):$idle_ctl"

P=$($CTL load "$W/nfa.blob")
PB=$($CTL load "$W/bound.blob")
PP=$($CTL load "$W/pinned.blob")
base="" other="" enf="" sys_base="" sys_unbound="" sys_bound="" pin_unpinned="" pin_pinned=""
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
	"$MK" sysloop:$N >"$W/o"; sys_base="$sys_base $(ns "$W/o")"
	$CTL run -p "$P" -m nfa -- "$MK" pinloop:1 sysloop:$N >"$W/o"; sys_unbound="$sys_unbound $(ns "$W/o")"
	$CTL run -p "$PB" -m nfa -- "$MK" pinloop:1 sysloop:$N >"$W/o"; sys_bound="$sys_bound $(ns "$W/o")"
	$CTL run -p "$P" -m nfa -- "$MK" pinloop:1 pinloop:$N >"$W/o"; pin_unpinned="$pin_unpinned $(ns "$W/o")"
	$CTL run -p "$PP" -m nfa -- "$MK" pinloop:1 pinloop:$N >"$W/o"; pin_pinned="$pin_pinned $(ns "$W/o")"
	grep -q '^exit 0' "$W/o" || { echo "guest-bench: the pinned run failed:"; cat "$W/o"; exit 1; }
	i=$((i + 1))
done
$CTL unload "$P" >/dev/null; $CTL unload "$PB" >/dev/null; $CTL unload "$PP" >/dev/null
echo "base    :$base"
echo "other   :$other"
echo "enforced:$enf"
echo "syscall, not sandboxed     :$sys_base"
echo "syscall, enforced, unbound :$sys_unbound"
echo "syscall, enforced, bound   :$sys_bound"
echo "pinned marker, unpinned blob:$pin_unpinned"
echo "pinned marker, pinned blob  :$pin_pinned"

prev_enf="" prev_pin=""
if [ -n "${SBX_PREV_DIR:-}" ]; then
	# The module before the short marker path, in this boot: same program, same loops.
	rmmod sbx_dyck || { echo "guest-bench: cannot remove sbx_dyck"; exit 1; }
	insmod "$SBX_PREV_DIR/kmod/sbx_dyck.ko" || { echo "guest-bench: cannot load the previous module"; exit 1; }
	PCTL=$SBX_PREV_DIR/build/kmod-tests/sbxctl
	P=$($PCTL load "$W/nfa.blob")
	PP=$($PCTL load "$W/pinned.blob")
	i=0
	while [ $i -lt "$ROUNDS" ]; do
		$PCTL run -p "$P" -m nfa -- "$MK" 1:1 loop:$N:1:1 >"$W/e"; prev_enf="$prev_enf $(ns "$W/e")"
		$PCTL run -p "$PP" -m nfa -- "$MK" pinloop:1 pinloop:$N >"$W/o"; prev_pin="$prev_pin $(ns "$W/o")"
		grep -q '^exit 0' "$W/o" || { echo "guest-bench: the pinned run failed (before):"; cat "$W/o"; exit 1; }
		i=$((i + 1))
	done
	$PCTL unload "$P" >/dev/null; $PCTL unload "$PP" >/dev/null
	echo "before: marker, enforced   :$prev_enf"
	echo "before: pinned marker, pinned blob:$prev_pin"
fi

today_sys="" today_pin=""
if [ -n "${SBX_BASE_DIR:-}" ]; then
	# The module before the binding, in this boot: same program, same loops.
	rmmod sbx_dyck || { echo "guest-bench: cannot remove sbx_dyck"; exit 1; }
	insmod "$SBX_BASE_DIR/kmod/sbx_dyck.ko" || { echo "guest-bench: cannot load the base module"; exit 1; }
	OCTL=$SBX_BASE_DIR/build/kmod-tests/sbxctl
	$OCTL mkblob nfa "$W/old.blob"
	O=$($OCTL load "$W/old.blob")
	i=0
	while [ $i -lt "$ROUNDS" ]; do
		$OCTL run -p "$O" -m nfa -- "$MK" pinloop:1 sysloop:$N >"$W/o"; today_sys="$today_sys $(ns "$W/o")"
		$OCTL run -p "$O" -m nfa -- "$MK" pinloop:1 pinloop:$N >"$W/o"; today_pin="$today_pin $(ns "$W/o")"
		i=$((i + 1))
	done
	$OCTL unload "$O" >/dev/null
	echo "today: syscall, enforced   :$today_sys"
	echo "today: marker, enforced    :$today_pin"
fi

echo "medians (ns, or instructions under sbx vm --icount):"
i_none=$(median $idle_none)
extra() { awk -v a="$1" -v b="$i_none" 'BEGIN { printf "%+.1f", a - b }'; }
echo "  getppid of an unrelated process: module not loaded $i_none; loaded, nothing enforced $(median $idle_loaded) ($(extra "$(median $idle_loaded)")); a policy installed $(median $idle_inst) ($(extra "$(median $idle_inst)")); a process enforced $(median $idle_enf) ($(extra "$(median $idle_enf)"))"
echo "    (control for the last: the same waiting process, not enforced, $(median $idle_ctl) ($(extra "$(median $idle_ctl)")): what its polling takes from the CPU)"
echo "  marker: base $(median $base), other $(median $other), enforced $(median $enf)"
echo "  ordinary system call: not sandboxed $(median $sys_base), enforced unbound $(median $sys_unbound), enforced bound $(median $sys_bound)"
echo "  pinned marker (enforced): unpinned blob $(median $pin_unpinned), pinned blob $(median $pin_pinned)"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "?" }'; }
m_base=$(median $base)
echo "  enforced marker / bare marker: $(ratio "$(median $enf)" "$m_base") (nfa LIBC), $(ratio "$(median $pin_pinned)" "$m_base") (pinned, bound blob)"
if [ -n "$prev_enf" ]; then
	e_old=$(median $prev_enf) e_now=$(median $enf)
	q_old=$(median $prev_pin) q_now=$(median $pin_pinned)
	echo "  enforced marker, before the short path: $e_old, now $e_now ($(awk -v a="$e_now" -v b="$e_old" 'BEGIN { printf "%+.1f", a - b }')); / bare marker: before $(ratio "$e_old" "$m_base"), now $(ratio "$e_now" "$m_base")"
	echo "  pinned marker, before the short path:   $q_old, now $q_now ($(awk -v a="$q_now" -v b="$q_old" 'BEGIN { printf "%+.1f", a - b }')); / bare marker: before $(ratio "$q_old" "$m_base"), now $(ratio "$q_now" "$m_base")"
fi
if [ -n "$today_sys" ]; then
	s_now=$(median $sys_bound) s_old=$(median $today_sys)
	p_now=$(median $pin_pinned) p_old=$(median $today_pin)
	echo "  ordinary system call of an enforced thread: today $s_old, now $s_now ($(awk -v a="$s_now" -v b="$s_old" 'BEGIN { printf "%+.1f", a - b }'))"
	echo "  pinned marker of an enforced thread:        today $p_old, now $p_now ($(awk -v a="$p_now" -v b="$p_old" 'BEGIN { printf "%+.1f", a - b }'))"
fi
rm -rf "$W"
