#!/usr/bin/env bash
# Marker cost with no monitor loaded: a loop of libc calls built plain and
# instrumented (one marker per call), against a bare getppid() system call.
# All variants run interleaved in this one run; the minimum of several runs is
# kept, because these machines are noisy.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=build/bench-marker
mkdir -p "$work"
bin=$(swift build --show-bin-path)
swift build --product dyck-gen >&2

clang-19 -O2 -g -S -emit-llvm eval/bench/marker_loop.c -o "$work/loop.ll"
"$bin/dyck-gen" -q "$work/loop.ll" --instrument -o "$work"
clang-19 -O2 "$work/loop.ll" -o "$work/plain"
clang-19 -O2 "$work/loop.inst.ll" -o "$work/inst"

n=${MARKER_ITERATIONS:-2000000}
best() { sort -g | head -1; }
plain=() inst=() bare=()
for _ in 1 2 3 4 5; do
    plain+=("$("$work/plain" libc "$n")")
    inst+=("$("$work/inst" libc "$n")")
    bare+=("$("$work/plain" bare "$n")")
done
p=$(printf '%s\n' "${plain[@]}" | best)
i=$(printf '%s\n' "${inst[@]}" | best)
b=$(printf '%s\n' "${bare[@]}" | best)
awk -v p="$p" -v i="$i" -v b="$b" 'BEGIN {
    m = i - p
    printf "plain libc call        %8.2f ns\n", p
    printf "instrumented call      %8.2f ns\n", i
    printf "marker (difference)    %8.2f ns\n", m
    printf "bare getppid syscall   %8.2f ns\n", b
    printf "marker / getppid       %8.2f\n", m / b
}'
