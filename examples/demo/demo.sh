#!/usr/bin/env bash
# `make demo`: the main job end to end: C source -> LLVM IR -> Dyck policy ->
# drawing, statistics, offline checks of a real run and of an impossible path in
# both models; an instrumented build with dyck-cc, a recorded marker trace and its
# check; then, in a guest kernel (sbx vm, QEMU), the program enforced by the
# sbx_dyck module with `sbx run`: a normal run, and a control-flow hijack killed
# before it reaches system().
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(swift build --show-bin-path)
out=build/demo
mkdir -p "$out"
step() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "1. Compile the example to LLVM IR with clang-19 (-g for source lines)"
run clang-19 -O0 -g -S -emit-llvm examples/demo/example.c -o "$out/example.ll"

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
run "$bin/dyck-cc" -O0 -g -o "$out/example" examples/demo/example.c
printf 'key = value\n' >"$out/config.txt"

step "8. Run it natively under the recorder (no monitor: markers are harmless)"
run "$bin/sbx" record -o "$out/example.trace" -- "$out/example" "$out/config.txt" "$out/report.txt"
echo "(first markers of the trace:)"
grep '^m ' "$out/example.trace" | head -6

step "9. Check every marker of the run, calls and returns included"
run "$bin/sbx" check "$out/example.dyck" --trace "$out/example.trace"

step "10. Build a program with a real bug: a hex argument overflows into a function pointer"
run "$bin/dyck-cc" -O0 -g -fno-pie -no-pie -o "$out/hijack" Tests/e2e/hijack.c
maintenance=$(nm "$out/hijack" | awk '$3 == "maintenance" { print $1 }')
python3 -c "import sys; print('41' * 16 + int(sys.argv[1], 16).to_bytes(8, 'little').hex())" "$maintenance" >"$out/hijack.arg"
echo "(the attacker points the handler at maintenance(), 0x$maintenance, which calls system())"

step "11. Boot a guest kernel with the sbx_dyck module and run both programs under sbx run"
make -C kmod >/dev/null
run "$bin/sbx" vm --module kmod/sbx_dyck.ko -- bash examples/demo/guest-demo.sh "$bin" "$PWD/$out"
