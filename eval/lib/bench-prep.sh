# shellcheck shell=bash
# Sourced by the guest benchmarks' bench.sh (eval/realworld, eval/nginx; eval/mbedtls
# does the same steps inline and could adopt these): what every harness prepares on
# the host before its `sbx vm` boot. Each function takes what differs between the
# harnesses as arguments; none reads a harness's environment variables. Run from
# the repository's root.
#
#   . eval/lib/bench-prep.sh
#   commit_id=$(bench_commit_id)
#   sbx=$(bench_sbx "${SBX_BIN:-}" "${RW_RELEASE_SBX:-1}" "${SCRATCH:-.build}")
#   bench_tools "$dir/tools"
#   module=$(bench_module "${MODULE:-}")

# The commit measured, "1a2b3c4d5e6f" or "1a2b3c4d5e6f (with local changes)" when
# Sources, kmod or eval differ from it. Take it before the runs: commits made while
# the guest runs are not what it ran.
bench_commit_id() {
    local dirty=
    [ -z "$(git status --porcelain -- Sources kmod eval 2>/dev/null)" ] || dirty=' (with local changes)'
    echo "$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$dirty"
}

# bench_sbx SBX_BIN RELEASE SCRATCH: prints the sbx the guest runs. SBX_BIN (a
# directory) wins; else, with RELEASE=1, an optimized build (a debug sbx spends
# seconds of TCG time on its own start-up per run; the costs compared are the
# programs' own either way); else the debug build of SCRATCH.
bench_sbx() {
    local sbx_bin=$1 release=$2 scratch=$3
    if [ -n "$sbx_bin" ]; then
        echo "$(cd "$sbx_bin" && pwd)/sbx"
    elif [ "$release" = 1 ]; then
        printf '[bench] swift build -c release --product sbx\n' >&2
        swift build -c release --product sbx --scratch-path "$scratch" >&2
        echo "$PWD/$scratch/release/sbx"
    else
        echo "$PWD/$scratch/debug/sbx"
    fi
}

# bench_tools DIR: builds the guest-side helpers of eval/mbedtls into DIR: mbt-time
# (a run's rusage) and mbt-sbxrun (the violation records of /dev/sbx).
bench_tools() {
    mkdir -p "$1"
    clang-19 -O2 -Wall -o "$1/mbt-time" eval/mbedtls/mbt-time.c
    clang-19 -O2 -Wall -I kmod/uapi -o "$1/mbt-sbxrun" eval/mbedtls/mbt-sbxrun.c
}

# bench_module MODULE: prints the module the guest loads (MODULE, or kmod/sbx_dyck.ko
# when empty); fails with a message when it is not built.
bench_module() {
    local module=${1:-$PWD/kmod/sbx_dyck.ko}
    [ -f "$module" ] || { printf '[bench] no module %s: make kmod\n' "$module" >&2; return 4; }
    echo "$module"
}
