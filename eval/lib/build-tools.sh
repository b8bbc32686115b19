# shellcheck shell=bash
# Sourced by the evaluations' fetch scripts that build a program twice, with clang-19
# and with dyck-cc (eval/realworld, eval/nginx; eval/mbedtls does the same inline
# and could adopt these). Run from the repository's root.
#
#   . eval/lib/build-tools.sh
#   build_tools NAME "${SBX_BIN:-}" "$scratch"   # sets dyckcc, tools_id, clang_id
#   build_times_init "$dir/build-times.tsv"
#   build_times_row "$dir/build-times.tsv" PROGRAM VARIANT SECS PEAK_KB STAMP CPU_S

# build_tools NAME SBX_BIN SCRATCH: the compilers of the two builds. SBX_BIN (a
# directory with prebuilt dyck-cc and sbx) wins; else both are built in SCRATCH's
# debug configuration. Sets dyckcc (its path), tools_id (the first 16 hex digits of
# its SHA-256: a build is redone when its compiler changes by content) and clang_id
# (clang-19's version line). Fails (4) when there is no dyck-cc.
build_tools() {
    local name=$1 sbx_bin=$2 scratch=$3 bin
    if [ -n "$sbx_bin" ]; then
        bin=$(cd "$sbx_bin" && pwd)
    else
        printf '[%s] swift build (scratch %s)\n' "$name" "$scratch" >&2
        swift build --scratch-path "$scratch" --product dyck-cc >&2
        swift build --scratch-path "$scratch" --product sbx >&2
        bin=$PWD/$scratch/debug
    fi
    dyckcc=$bin/dyck-cc
    [ -x "$dyckcc" ] || { printf '[%s] missing %s\n' "$name" "$dyckcc" >&2; return 4; }
    # shellcheck disable=SC2034 # tools_id and clang_id are for the caller
    tools_id=$(sha256sum "$dyckcc" | cut -c1-16)
    # shellcheck disable=SC2034
    clang_id=$(clang-19 --version | head -1)
}

# build_times_init TSV: writes build-times.tsv's header unless the file exists.
build_times_init() {
    [ -f "$1" ] || printf 'program\tvariant\tseconds\tpeak_kb\tstamp\tcpu_s\tload\n' >"$1"
}

# build_times_row TSV PROGRAM VARIANT SECS PEAK_KB STAMP CPU_S: appends a finished
# build, with the host's 1-minute load average when it ended (wall times of a loaded
# host are not comparable; CPU times are).
build_times_row() {
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$2" "$3" "$4" "$5" "$6" "$7" \
        "$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo NA)" >>"$1"
}
