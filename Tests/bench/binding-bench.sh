#!/usr/bin/env bash
# Cost of the system-call binding and of pinned markers, in guest instructions
# (sbx vm --icount), side by side with the module from before the binding in
# the same boot (kmod/tests/guest-bench.sh). Host side: builds the current
# module and helpers, and the module and helpers of SBX_BENCH_BASE (default
# 4807f2b, the last commit before issue 14) from git into build/bench-base, and
# those of SBX_BENCH_PREV (default 92069e9, the module before issue 19's short
# marker path) into build/bench-prev.
#   Tests/bench/binding-bench.sh [SBX]      (SBX: the sbx binary; default .build/debug/sbx)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
sbx=${1:-$root/.build/debug/sbx}
base_ref=${SBX_BENCH_BASE:-4807f2b}
base=$root/build/bench-base
prev_ref=${SBX_BENCH_PREV:-92069e9}
prev=$root/build/bench-prev
say() { printf '[bench-vm] %s\n' "$*" >&2; }

make -C kmod >/dev/null
make -C kmod/tests >/dev/null
say "building the module of $base_ref (before the binding) into $base"
rm -rf "$base" && mkdir -p "$base"
git archive "$base_ref" kmod | tar -x -C "$base"
make -C "$base/kmod" >/dev/null
make -C "$base/kmod/tests" OUT="$base/build/kmod-tests" >/dev/null
say "building the module of $prev_ref (before the short marker path) into $prev"
rm -rf "$prev" && mkdir -p "$prev"
git archive "$prev_ref" kmod | tar -x -C "$prev"
make -C "$prev/kmod" >/dev/null
make -C "$prev/kmod/tests" OUT="$prev/build/kmod-tests" >/dev/null
say "measuring in one guest (--icount: figures are instructions)"
exec "$sbx" vm --icount --timeout 1200 --module kmod/sbx_dyck.ko \
	--env "SBX_BASE_DIR=$base" --env "SBX_PREV_DIR=$prev" --env "ROUNDS=${ROUNDS:-5}" --env "N=${N:-100000}" \
	-- sh kmod/tests/guest-bench.sh
