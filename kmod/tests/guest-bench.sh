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
# eval/bench/binding-bench.sh) the module is then replaced by that one in the
# same boot and the same system call and marker are measured again: "today".
# With SBX_PREV_DIR (the module of an earlier commit: SBX_BENCH_PREV in
# eval/bench/binding-bench.sh) the enforced markers (nfa LIBC self-loop,
# pinned), the bound system call of an enforced thread and an unrelated
# process's getppid while another is enforced are measured again with that
# module in the same boot: "before".
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
# --- libc-heavy programs (issue 19) -------------------------------------------
# With SBX_LIBC_DIR (eval/bench/binding-bench.sh: build/bench-libc) and SBX_BIN
# (sbx): the line copier (fgets/fputs over 40,000 lines) and the strcoll qsort
# (10,000 strings), each run plain (clang-19), plain under a seccomp-bpf
# allowlist (seccomp-launch: about 50 rules, loaded then exec'd), the dyck-cc
# build without a sandbox (inst: its markers fail with ENOSYS), and the dyck-cc
# build under `sbx run --mode nfa` and `--mode dyck`, and (all) the build with
# every libc call an event (dyck-cc --dyck-libc-events=all: no silent functions)
# under `--mode dyck`, and (buf, bufnfa) the build with buffered events (dyck-cc
# --dyck-buffer) under `--mode dyck` and `--mode nfa`. The figure is the CPU time
# of the program's loop, which the program measures itself
# (CLOCK_PROCESS_CPUTIME_ID: instructions under --icount), so that no launcher's
# start-up is counted; the markers are those of the sbx run report (the module's
# counter over the run; nothing else is enforced meanwhile, so they are the
# program's). Every run must exit 0, the copy must equal its input and the sort
# must give the same order in every mode. Also a getppid loop without and with
# the seccomp allowlist: what the filter costs per allowed system call.
libc_modes="plain seccomp inst nfa dyck all buf bufnfa"
libc_bench() {
	LB=$SBX_LIBC_DIR
	L=/dev/shm/sbxb-libc  # tmpfs: the copier's files do not go over 9p
	rm -rf "$L" && mkdir -p "$L" && cp "$LB/lines.txt" "$L/in.txt" || { echo "guest-bench: cannot set up $L"; exit 1; }
	"$LB/seccomp-launch" --check 2>"$W/sc" ||
		{ echo "guest-bench: the seccomp filter does not kill a call outside its list:"; cat "$W/sc"; exit 1; }
	libc_rules=$(sed -n 's/^seccomp-launch: \([0-9]*\) rules$/\1/p' "$W/sc")
	libc_sum="" sc_plain="" sc_filtered=""
	for prog in linecopy strsort; do
		for mode in $libc_modes; do
			eval "lb_${prog}_${mode}=''; lm_${prog}_${mode}=''"
		done
	done
	i=0
	while [ $i -lt "$ROUNDS" ]; do
		# One system call, without and with the allowlist (getppid is on it).
		"$MK" sysloop:$N >"$W/o"; sc_plain="$sc_plain $(ns "$W/o")"
		"$LB/seccomp-launch" "$MK" sysloop:$N >"$W/o" ||
			{ echo "guest-bench: sysloop under seccomp-launch failed:"; cat "$W/o"; exit 1; }
		sc_filtered="$sc_filtered $(ns "$W/o")"
		for prog in linecopy strsort; do
			args=""
			[ $prog = linecopy ] && args="$L/in.txt $L/out.txt"
			for mode in $libc_modes; do
				rm -f "$L/out.txt" "$W/j"
				# shellcheck disable=SC2086
				case $mode in
				plain) "$LB/$prog-plain" $args ;;
				seccomp) "$LB/seccomp-launch" "$LB/$prog-plain" $args ;;
				inst) "$LB/$prog-dyck" $args ;;
				nfa | dyck) "$SBX_BIN" run --mode $mode --json-report "$W/j" -- "$LB/$prog-dyck" $args ;;
				all) "$SBX_BIN" run --mode dyck --json-report "$W/j" -- "$LB/$prog-all" $args ;;
				buf) "$SBX_BIN" run --mode dyck --json-report "$W/j" -- "$LB/$prog-buf" $args ;;
				bufnfa) "$SBX_BIN" run --mode nfa --json-report "$W/j" -- "$LB/$prog-buf" $args ;;
				esac >"$W/l" 2>"$W/le"
				st=$?
				cpu=$(sed -n 's/.* cpu_ns \([0-9]*\).*/\1/p' "$W/l")
				if [ $st != 0 ] || [ -z "$cpu" ]; then
					echo "guest-bench: $prog ($mode) failed, status $st:"; cat "$W/l" "$W/le"; exit 1
				fi
				if [ $prog = linecopy ]; then
					cmp -s "$L/in.txt" "$L/out.txt" || { echo "guest-bench: linecopy ($mode): the copy differs"; exit 1; }
				else
					sum=$(sed -n 's/.* locale \([^ ]*\) .* sum \([0-9a-f]*\)$/\1 \2/p' "$W/l")
					[ -z "$libc_sum" ] && libc_sum=$sum
					[ "$sum" = "$libc_sum" ] ||
						{ echo "guest-bench: strsort ($mode): '$sum', first run '$libc_sum'"; exit 1; }
				fi
				eval "lb_${prog}_${mode}=\"\$lb_${prog}_${mode} $cpu\""
				if [ -f "$W/j" ]; then
					m=$(sed -n 's/.*"markers" *: *\([0-9]*\).*/\1/p' "$W/j")
					grep -q '"killed_by_monitor" *: *false' "$W/j" ||
						{ echo "guest-bench: $prog ($mode): the report does not say not killed:"; cat "$W/j"; exit 1; }
					eval "lm_${prog}_${mode}=\"\$lm_${prog}_${mode} $m\""
				fi
			done
		done
		i=$((i + 1))
	done
	rm -rf "$L"
	echo "getppid, no filter                :$sc_plain"
	echo "getppid, seccomp allowlist        :$sc_filtered"
	for prog in linecopy strsort; do
		for mode in $libc_modes; do
			eval "echo \"libc $prog $mode:\$lb_${prog}_${mode}\""
		done
		for mode in nfa dyck all buf bufnfa; do
			eval "echo \"libc $prog $mode markers:\$lm_${prog}_${mode}\""
		done
	done
}
# The medians of libc_bench: each mode's loop CPU and its ratio to plain, the
# markers, and what each sandboxed mode adds per marker over plain.
libc_medians() {
	echo "  getppid under the ${libc_rules}-rule seccomp allowlist: $(median $sc_filtered), without $(median $sc_plain) ($(awk -v a="$(median $sc_filtered)" -v b="$(median $sc_plain)" 'BEGIN { printf "%+.1f", a - b }'))"
	echo "  libc-heavy programs, CPU of the loop (strsort's locale ${libc_sum% *}; seccomp: a ${libc_rules}-rule allowlist; all: every libc call an event, dyck mode):"
	for prog in linecopy strsort; do
		eval "p=\$(median \$lb_${prog}_plain)"
		line=""
		for mode in $libc_modes; do
			eval "v=\$(median \$lb_${prog}_${mode})"
			if [ "$mode" = plain ]; then line="plain $v"; else line="$line, $mode $v ($(ratio "$v" "$p"))"; fi
		done
		eval "md=\$(median \$lm_${prog}_dyck) mn=\$(median \$lm_${prog}_nfa) ma=\$(median \$lm_${prog}_all)"
		eval "vi=\$(median \$lb_${prog}_inst) vn=\$(median \$lb_${prog}_nfa) vd=\$(median \$lb_${prog}_dyck) va=\$(median \$lb_${prog}_all)"
		# Only over 1,000 markers: a handful (strsort's set-up) is within the noise.
		per() { awk -v a="$1" -v b="$p" -v m="$2" 'BEGIN { if (m >= 1000) printf "%.0f", (a - b) / m; else print "-" }'; }
		echo "    $prog: $line"
		eval "mb=\$(median \$lm_${prog}_buf) mbn=\$(median \$lm_${prog}_bufnfa)"
		echo "    $prog: buffered (dyck-cc --dyck-buffer): markers dyck $mb, nfa $mbn (synchronous build: dyck $md, nfa $mn)"
		echo "    $prog: markers dyck $md, nfa $mn, all $ma; added per marker over plain: inst $(per "$vi" "$md"), nfa $(per "$vn" "$mn"), dyck $(per "$vd" "$md"), all $(per "$va" "$ma")"
	done
}
if [ "${SBX_BENCH_ONLY:-}" = libc ]; then
	[ -n "${SBX_LIBC_DIR:-}" ] || { echo "guest-bench: SBX_BENCH_ONLY=libc needs SBX_LIBC_DIR"; exit 1; }
	ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "?" }'; }
	libc_bench
	echo "medians (ns, or instructions under sbx vm --icount):"
	libc_medians
	rm -rf "$W"
	exit 0
fi
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

[ -n "${SBX_LIBC_DIR:-}" ] && libc_bench

prev_enf="" prev_pin="" prev_sys="" prev_idle=""
if [ -n "${SBX_PREV_DIR:-}" ]; then
	# The module of the commit before, in this boot: same program, same loops.
	rmmod sbx_dyck || { echo "guest-bench: cannot remove sbx_dyck"; exit 1; }
	insmod "$SBX_PREV_DIR/kmod/sbx_dyck.ko" || { echo "guest-bench: cannot load the previous module"; exit 1; }
	PCTL=$SBX_PREV_DIR/build/kmod-tests/sbxctl
	# Blobs in that module's format, written by its own tools (the format moves on).
	$PCTL mkblob nfa "$W/prev-nfa.blob"
	$PCTL mkblob nfa-bound "$W/prev-bound.blob"
	$PCTL mkblob nfa-pinned "$W/prev-pinned.blob" $pins
	P=$($PCTL load "$W/prev-nfa.blob")
	PB=$($PCTL load "$W/prev-bound.blob")
	PP=$($PCTL load "$W/prev-pinned.blob")
	i=0
	while [ $i -lt "$ROUNDS" ]; do
		$PCTL run -p "$P" -m nfa -- "$MK" 1:1 loop:$N:1:1 >"$W/e"; prev_enf="$prev_enf $(ns "$W/e")"
		$PCTL run -p "$PP" -m nfa -- "$MK" pinloop:1 pinloop:$N >"$W/o"; prev_pin="$prev_pin $(ns "$W/o")"
		grep -q '^exit 0' "$W/o" || { echo "guest-bench: the pinned run failed (before):"; cat "$W/o"; exit 1; }
		$PCTL run -p "$PB" -m nfa -- "$MK" pinloop:1 sysloop:$N >"$W/o"; prev_sys="$prev_sys $(ns "$W/o")"
		# An unrelated process while another is enforced, as above.
		rm -f "$W/go"
		$PCTL run -p "$P" -m nfa -- "$MK" 1:1 "wait:$W/go" >/dev/null 2>&1 &
		bg=$!
		while ! $PCTL status | grep -q "enforced 1 "; do sleep 0.1; done
		"$MK" sysloop:$N >"$W/o"; prev_idle="$prev_idle $(ns "$W/o")"
		touch "$W/go"
		wait $bg
		i=$((i + 1))
	done
	$PCTL unload "$P" >/dev/null; $PCTL unload "$PB" >/dev/null; $PCTL unload "$PP" >/dev/null
	echo "before: marker, enforced   :$prev_enf"
	echo "before: pinned marker, pinned blob:$prev_pin"
	echo "before: syscall, enforced, bound:$prev_sys"
	echo "before: getppid of an unrelated process, another enforced:$prev_idle"
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
	echo "  enforced marker, before: $e_old, now $e_now ($(awk -v a="$e_now" -v b="$e_old" 'BEGIN { printf "%+.1f", a - b }')); / bare marker: before $(ratio "$e_old" "$m_base"), now $(ratio "$e_now" "$m_base")"
	echo "  pinned marker, before:   $q_old, now $q_now ($(awk -v a="$q_now" -v b="$q_old" 'BEGIN { printf "%+.1f", a - b }')); / bare marker: before $(ratio "$q_old" "$m_base"), now $(ratio "$q_now" "$m_base")"
	y_old=$(median $prev_sys) y_now=$(median $sys_bound)
	u_old=$(median $prev_idle) u_now=$(median $idle_enf)
	echo "  system call of an enforced thread (bound), before: $y_old, now $y_now ($(awk -v a="$y_now" -v b="$y_old" 'BEGIN { printf "%+.1f", a - b }'))"
	echo "  getppid of an unrelated process, another enforced, before: $u_old, now $u_now ($(awk -v a="$u_now" -v b="$u_old" 'BEGIN { printf "%+.1f", a - b }'))"
fi
if [ -n "$today_sys" ]; then
	s_now=$(median $sys_bound) s_old=$(median $today_sys)
	p_now=$(median $pin_pinned) p_old=$(median $today_pin)
	echo "  ordinary system call of an enforced thread: today $s_old, now $s_now ($(awk -v a="$s_now" -v b="$s_old" 'BEGIN { printf "%+.1f", a - b }'))"
	echo "  pinned marker of an enforced thread:        today $p_old, now $p_now ($(awk -v a="$p_now" -v b="$p_old" 'BEGIN { printf "%+.1f", a - b }'))"
fi
[ -n "${SBX_LIBC_DIR:-}" ] && libc_medians
rm -rf "$W"
