#!/usr/bin/env bash
# Cost of the system-call binding and of pinned markers, in guest instructions
# (sbx vm --icount), side by side with the module from before the binding in
# the same boot (kmod/tests/guest-bench.sh). Host side: builds the current
# module and helpers, and the module and helpers of SBX_BENCH_BASE (default
# 4807f2b, the last commit before issue 14) from git into build/bench-base, and
# those of SBX_BENCH_PREV (default 1e29420, the module before the shorter
# marker and system-call path of issue 19, item 2; 92069e9 is the one before
# the first short marker path) into build/bench-prev. Also builds the libc-heavy programs of
# eval/bench/libc (a line copier, a strcoll qsort) plain (clang-19) and with
# dyck-cc (also with --dyck-libc-events=all), the seccomp launcher, and the copier's input, into build/bench-libc.
#   eval/bench/binding-bench.sh [SBX]      (SBX: the sbx binary; default .build/debug/sbx;
#                                            dyck-cc is taken from the same directory)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
sbx=${1:-$root/.build/debug/sbx}
sbx=$(cd "$(dirname "$sbx")" && pwd)/$(basename "$sbx")  # the guest runs it too
base_ref=${SBX_BENCH_BASE:-4807f2b}
base=$root/build/bench-base
prev_ref=${SBX_BENCH_PREV:-1e29420}
prev=$root/build/bench-prev
say() { printf '[bench-vm] %s\n' "$*" >&2; }

make -C kmod >/dev/null
make -C kmod/tests >/dev/null
say "building the module of $base_ref (before the binding) into $base"
rm -rf "$base" && mkdir -p "$base"
git archive "$base_ref" kmod | tar -x -C "$base"
make -C "$base/kmod" >/dev/null
make -C "$base/kmod/tests" OUT="$base/build/kmod-tests" >/dev/null
say "building the module of $prev_ref (the module before, SBX_BENCH_PREV) into $prev"
rm -rf "$prev" && mkdir -p "$prev"
git archive "$prev_ref" kmod | tar -x -C "$prev"
make -C "$prev/kmod" >/dev/null
make -C "$prev/kmod/tests" OUT="$prev/build/kmod-tests" >/dev/null
libc=$root/build/bench-libc
dyckcc=$(dirname "$sbx")/dyck-cc
say "building the libc-heavy programs (plain clang-19, dyck-cc, seccomp launcher) into $libc"
rm -rf "$libc" && mkdir -p "$libc"
for p in linecopy strsort; do
	clang-19 -O2 -Wall -Wextra -Werror -o "$libc/$p-plain" "eval/bench/libc/$p.c"
	"$dyckcc" -O2 -Wall -Wextra -Werror -o "$libc/$p-dyck" "eval/bench/libc/$p.c" 2>>"$libc/build.log"
	# The same with every libc call an event (no silent functions): what they save.
	"$dyckcc" -O2 -Wall -Wextra -Werror --dyck-libc-events=all -o "$libc/$p-all" "eval/bench/libc/$p.c" 2>>"$libc/build.log"
	# Buffered events (issue 19): bufferable libc calls and sites go to the buffer.
	"$dyckcc" -O2 -Wall -Wextra -Werror --dyck-buffer -o "$libc/$p-buf" "eval/bench/libc/$p.c" 2>>"$libc/build.log"
	[ -f "$libc/$p-dyck.dyck" ] && [ -f "$libc/$p-all.dyck" ] && [ -f "$libc/$p-buf.dyck" ] || { say "dyck-cc wrote no policy for $p (see $libc/build.log)"; exit 1; }
done
cc -O2 -Wall -Wextra -Werror -o "$libc/seccomp-launch" eval/bench/libc/seccomp-launch.c -lseccomp
# 40,000 lines of 40 to 60 bytes, the same every time.
awk 'BEGIN { for (i = 1; i <= 40000; i++) printf "%08x line %d of the input, text to copy%s\n", (i * 2654435761) % 4294967296, i, substr("..........", 1, i % 11) }' >"$libc/lines.txt"
say "measuring in one guest (--icount: figures are instructions)"
exec "$sbx" vm --icount --timeout ${SBX_BENCH_TIMEOUT:-2400} --module kmod/sbx_dyck.ko \
	--env "SBX_BASE_DIR=$base" --env "SBX_PREV_DIR=$prev" --env "ROUNDS=${ROUNDS:-5}" --env "N=${N:-100000}" \
	--env "SBX_LIBC_DIR=$libc" --env "SBX_BIN=$sbx" ${SBX_BENCH_ONLY:+--env "SBX_BENCH_ONLY=$SBX_BENCH_ONLY"} \
	-- sh kmod/tests/guest-bench.sh
