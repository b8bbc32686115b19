#!/usr/bin/env bash
# Analysis benchmark: dyck-gen on synthetic IR of growing size (about 50k, 100k and
# 200k lines). Prints IR lines per second and peak memory for each size, and the
# time-per-line ratio against the smallest size, measured in this one run: a ratio
# near 1.0 means linear time.
set -euo pipefail
cd "$(dirname "$0")/../.."

work=build/bench-analysis
mkdir -p "$work"
echo "bench: building dyck-gen (release)" >&2
swift build -c release --product dyck-gen >&2
bin=$(swift build -c release --show-bin-path)/dyck-gen

sizes=(500 1000 2000)
base_us_per_line=""
printf '%-8s %9s %9s %12s %10s %10s\n' functions ir-lines seconds lines/s peak-MiB us/line-ratio
for n in "${sizes[@]}"; do
    src="$work/gen$n.c"
    ll="$work/gen$n.ll"
    if [ ! -s "$ll" ]; then
        python3 eval/bench/gen_program.py "$n" >"$src"
        clang-19 -O0 -g -S -emit-llvm -w "$src" -o "$ll"
    fi
    lines=$(wc -l <"$ll")
    # Best of three: the machines are noisy, and the minimum is the least disturbed run.
    best=""
    peak=0
    for _ in 1 2 3; do
        /usr/bin/time -f '%e %M' -o "$work/time.txt" "$bin" -q "$ll" -o "$work/out" 2>"$work/stderr.txt" || {
            cat "$work/stderr.txt" >&2; exit 1; }
        read -r secs kib <"$work/time.txt"
        if [ -z "$best" ] || awk -v a="$secs" -v b="$best" 'BEGIN{exit !(a<b)}'; then best=$secs; fi
        [ "$kib" -gt "$peak" ] && peak=$kib
    done
    # /usr/bin/time has 10 ms resolution; never divide by zero.
    secs=$(awk -v s="$best" 'BEGIN{ if (s < 0.01) s = 0.01; print s }')
    rate=$(awk -v l="$lines" -v s="$secs" 'BEGIN{ printf "%.0f", l / s }')
    us=$(awk -v l="$lines" -v s="$secs" 'BEGIN{ printf "%.4f", s * 1e6 / l }')
    [ -z "$base_us_per_line" ] && base_us_per_line=$us
    ratio=$(awk -v a="$us" -v b="$base_us_per_line" 'BEGIN{ printf "%.2f", a / b }')
    printf '%-8s %9s %9s %12s %10.1f %10s\n' "$n" "$lines" "$secs" "$rate" "$(awk -v k="$peak" 'BEGIN{print k/1024}')" "$ratio"
done
