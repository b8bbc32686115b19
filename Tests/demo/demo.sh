#!/usr/bin/env bash
# `make demo`: the main job end to end, as far as the project reaches today:
# C source -> LLVM IR -> Dyck policy -> drawing, statistics, offline checks of a
# real run and of an impossible path in both models; then an instrumented build
# with dyck-cc, a recorded marker trace of a real run, and its check.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(swift build --show-bin-path)
out=build/demo
mkdir -p "$out"
step() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "1. Compile the example to LLVM IR with clang-19 (-g for source lines)"
run clang-19 -O0 -g -S -emit-llvm Tests/demo/example.c -o "$out/example.ll"

step "2. Extract the Dyck policy"
run "$bin/dyck-gen" "$out/example.ll" -o "$out"

step "3. Size and precision in each model"
run "$bin/sbx" stats "$out/example.dyck"

step "4. Draw one function"
run "$bin/sbx" dot "$out/example.dyck" --function load_config -o "$out/load_config.dot" --png "$out/load_config.png"
echo "(open $out/load_config.png)"

step "5. A real run's libc calls are allowed"
run "$bin/sbx" check "$out/example.dyck" -- fprintf fopen fgets fgets fclose fprintf fopen fputs fclose

step "6. The impossible path: enter log_line from load_config, leave into save_report"
echo "   nfa (single-copy) model:"
run "$bin/sbx" check "$out/example.dyck" --mode nfa -- fprintf fopen fputs || true
echo "   dyck model:"
set +e
"$bin/sbx" check "$out/example.dyck" --mode dyck -- fprintf fopen fputs
status=$?
set -e
echo "(exit status $status: refused)"
[ "$status" -eq 1 ]

step "7. Build the program with dyck-cc: markers in the code, policy next to it"
run "$bin/dyck-cc" -O0 -g -o "$out/example" Tests/demo/example.c
printf 'key = value\n' >"$out/config.txt"

step "8. Run it natively under the recorder (no monitor: markers are harmless)"
run "$bin/sbx" record -o "$out/example.trace" -- "$out/example" "$out/config.txt" "$out/report.txt"
echo "(first markers of the trace:)"
grep '^m ' "$out/example.trace" | head -6

step "9. Check every marker of the run, calls and returns included"
run "$bin/sbx" check "$out/example.dyck" --trace "$out/example.trace"
