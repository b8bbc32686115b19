#!/bin/sh
# The user-side cost of a buffered event against a marker, natively (no monitor):
# user-space instructions (valgrind's cachegrind, "I refs") and CPU time of
# appendbench (three events per call: CALL, LIBC strlen, RET; the program empties
# its buffer after each call, standing in for the kernel's drain) and of the line
# copier (40,000 lines), each plain (clang-19), with synchronous markers (dyck-cc)
# and buffered (dyck-cc --dyck-buffer). Per-call figures are the difference of two
# run lengths, so start-up cancels out. Kernel instructions are not counted.
#
#   eval/bench/buffer/native.sh [DYCK_CC]      (default .build/debug/dyck-cc)
set -eu
root=$(cd "$(dirname "$0")/../../.." && pwd)
cc=${1:-$root/.build/debug/dyck-cc}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
command -v valgrind >/dev/null || { echo "native.sh: valgrind is not installed" >&2; exit 4; }

irefs() { valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
	sed -n 's/.*I *refs: *//p' | tr -d ,; }

clang-19 -O2 "$root/eval/bench/buffer/appendbench.c" -o ab_plain
"$cc" -O2 --dyck-libc-events=all "$root/eval/bench/buffer/appendbench.c" -o ab_sync 2>/dev/null
"$cc" -O2 --dyck-libc-events=all --dyck-buffer "$root/eval/bench/buffer/appendbench.c" -o ab_buf 2>/dev/null
echo "appendbench: per call (3 events), user instructions and CPU ns (median of 3, 10^6 calls)"
for v in plain sync buf; do
	a=$(irefs ./ab_$v 100000); b=$(irefs ./ab_$v 200000)
	ns=$(for r in 1 2 3; do ./ab_$v 1000000; done | sed 's/.*cpu_ns //' | sort -n | sed -n 2p)
	echo "  $v: $(( (b - a) / 100000 )) instructions, $(awk -v t="$ns" 'BEGIN { printf "%.1f", t / 1000000 }') ns"
done

awk 'BEGIN { srand(1); for (i = 0; i < 40000; i++) { s = ""; for (j = 0; j < 40; j++) s = s substr("abcdefghij ", int(rand() * 11) + 1, 1); print s } }' >in.txt
clang-19 -O2 "$root/eval/bench/libc/linecopy.c" -o lc_plain
"$cc" -O2 "$root/eval/bench/libc/linecopy.c" -o lc_sync 2>/dev/null
"$cc" -O2 --dyck-buffer "$root/eval/bench/libc/linecopy.c" -o lc_buf 2>&1 | sed 's/^/  /'
echo "linecopy, 40,000 lines: user instructions, CPU ns of the copy loop (median of 3)"
for v in plain sync buf; do
	i=$(irefs ./lc_$v in.txt out.txt)
	ns=$(for r in 1 2 3; do ./lc_$v in.txt out.txt; done | sed 's/.*cpu_ns //' | sort -n | sed -n 2p)
	echo "  $v: $i instructions, $ns ns"
done
