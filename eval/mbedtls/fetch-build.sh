#!/usr/bin/env bash
# Fetch mbed TLS 2.28.3 from Debian's sources and build it twice:
#   $MBEDTLS_DIR/dyck   with dyck-cc (whole program: every program gets its .dyck)
#   $MBEDTLS_DIR/plain  with clang-19 at the same flags (the baseline)
# then measure the analysis of every program (analysis.tsv) and compile each policy
# into the kernel blobs of both modes (for the stand-in runner, and their cost).
# Idempotent: the deb-src line, the source and each finished build are reused; a
# build is redone when its compiler (by content) or its configuration changes.
#
#   eval/mbedtls/fetch-build.sh [SUITES...]     # test suites to build: names without
#                                                # test_suite_, "all", or none
# Environment:
#   MBEDTLS_DIR  where everything goes (default build/mbedtls, ignored by git)
#   SBX_BIN      a directory with prebuilt dyck-cc, dyck-gen and sbx (no swift build);
#                otherwise they are built with `swift build --scratch-path $SCRATCH`
#   SCRATCH      swift scratch path (default .build)
#   JOBS         make -j (default 2)
#   CFLAGS       (default -O2 -g)
#   MBT_PROGRAMS the programs to build with dyck-cc and measure, as paths under
#                programs/ without extension (default: all); the plain build has all
#   MBT_BLOBS    1 (default): compile the kernel blobs of both modes next to each
#                policy (for the stand-in runner, and their cost; `sbx run`'s blob
#                cache is seeded by bench.sh with `sbx blob --cache`, pins included)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
dir=${MBEDTLS_DIR:-$root/build/mbedtls}
jobs=${JOBS:-2}
scratch=${SCRATCH:-.build}
cflags=${CFLAGS:--O2 -g}
version=2.28.3

say() { printf '[mbedtls] %s\n' "$*" >&2; }
t_start=$SECONDS

# 1. A deb-src line for bookworm (written once; apt-get update only when added).
# shellcheck source=eval/lib/deb-src.sh
. eval/lib/deb-src.sh
deb_src_setup dpkg-source:dpkg-dev python3:python3 perl:perl

# 2. The source, unpacked once into $dir/src (Debian's patches applied).
src=$dir/src
if [ ! -f "$src/include/mbedtls/version.h" ]; then
    say "apt-get source mbedtls -> $src"
    t0=$SECONDS
    rm -rf "$dir/dl" && mkdir -p "$dir/dl"
    (cd "$dir/dl" && apt-get source -qq mbedtls >&2)
    rm -rf "$src" && mv "$(find "$dir/dl" -maxdepth 1 -mindepth 1 -type d -name 'mbedtls-*' | head -1)" "$src"
    say "fetched in $((SECONDS - t0)) s"
fi
grep -q "\"$version\"" "$src/include/mbedtls/version.h" || { say "not mbed TLS $version: $src"; exit 2; }

# 3. The tools.
if [ -n "${SBX_BIN:-}" ]; then
    bin=$(cd "$SBX_BIN" && pwd)
else
    say "swift build (scratch $scratch)"
    swift build --scratch-path "$scratch" --product dyck-cc >&2
    swift build --scratch-path "$scratch" --product dyck-gen >&2
    swift build --scratch-path "$scratch" --product sbx >&2
    bin=$root/$scratch/debug
fi
dyckcc=$bin/dyck-cc dyckgen=$bin/dyck-gen sbx=$bin/sbx
for t in "$dyckcc" "$dyckgen" "$sbx"; do [ -x "$t" ] || { say "missing $t"; exit 4; }; done
mkdir -p "$dir"
# The tools' identity, for the stamps and the report.
tools_id=$(sha256sum "$dyckcc" | cut -c1-16)

# 4. Two builds from clean copies of the source, at the same flags.
#    The configuration is Debian's: upstream's default config.h plus the options that
#    debian/rules sets (threading with pthreads, HAVEGE, MD2, MD4, CMAC, DTLS-SRTP).
#    PTHREAD=1 adds ssl_pthread_server. Static libraries (SHARED unset), so every
#    program links the library code it uses: whole-program bitcode for dyck-cc.
debian_options="MBEDTLS_DEPRECATED_WARNING MBEDTLS_HAVEGE_C MBEDTLS_MD2_C MBEDTLS_MD4_C MBEDTLS_THREADING_C MBEDTLS_THREADING_PTHREAD MBEDTLS_CMAC_C MBEDTLS_SSL_DTLS_SRTP"
make_flags=(CFLAGS="$cflags" PTHREAD=1)

# dyck-cc links the whole program's bitcode with llvm-link-19 (found on PATH) before
# it analyses it: a wrapper keeps a copy, $dir/dyck-bc/PROGRAM.bc, so that the
# analysis can be timed on its own afterwards (analysis.tsv).
wrap=$dir/wrap
mkdir -p "$wrap" "$dir/dyck-bc"
real_link=$(command -v llvm-link-19 || echo /usr/lib/llvm-19/bin/llvm-link)
cat >"$wrap/llvm-link-19" <<EOF
#!/bin/sh
# written by eval/mbedtls/fetch-build.sh: llvm-link-19 that keeps a copy of its output
"$real_link" "\$@" || exit \$?
out=
while [ \$# -gt 0 ]; do [ "\$1" = -o ] && out=\$2; shift; done
[ -n "\$out" ] && [ -n "\$MBT_BC_DIR" ] && cp "\$out" "\$MBT_BC_DIR/\$(basename "\$out").bc"
exit 0
EOF
chmod +x "$wrap/llvm-link-19"

build_variant() {   # name CC stamp
    local name=$1 cc=$2 stamp=$3 out=$dir/$1
    if [ -f "$out/.built" ] && [ "$(cat "$out/.built")" = "$stamp" ]; then
        say "$name: up to date"; return
    fi
    say "$name: copying source"
    rm -rf "$out" && cp -a "$src" "$out"
    for o in $debian_options; do (cd "$out" && perl scripts/config.pl set "$o"); done
    say "$name: make CC=$cc ${make_flags[*]} lib (-j$jobs)"
    local t0=$SECONDS
    [ "$name" = dyck ] && rm -f "$dir"/dyck-bc/*.bc
    make -C "$out" -j"$jobs" CC="$cc" "${make_flags[@]}" lib >"$out/build.log" 2>&1 \
        || { say "$name: make failed, see $out/build.log"; tail -20 "$out/build.log" >&2; exit 1; }
    echo "$((SECONDS - t0))" >"$out/.lib-seconds"
    say "$name: library built in $((SECONDS - t0)) s"
    echo "$stamp" >"$out/.built"
}
build_programs() {   # name CC [targets]: make is incremental, only what is missing is built
    local name=$1 cc=$2 out=$dir/$1 t0=$SECONDS
    shift 2
    local targets=("$@")
    [ ${#targets[@]} -gt 0 ] || targets=(programs)
    say "$name: make CC=$cc ${make_flags[*]} ${targets[*]} (-j$jobs)"
    if [ "${targets[0]}" = programs ]; then
        make -C "$out" -j"$jobs" CC="$cc" "${make_flags[@]}" programs >>"$out/build.log" 2>&1
    else
        make -C "$out/programs" -j"$jobs" CC="$cc" "${make_flags[@]}" "${targets[@]}" >>"$out/build.log" 2>&1
    fi || { say "$name: make failed, see $out/build.log"; tail -20 "$out/build.log" >&2; exit 1; }
    say "$name: programs built in $((SECONDS - t0)) s"
    echo "$name ${targets[*]} $((SECONDS - t0))" >>"$dir/.program-build-seconds"
}
export MBT_BC_DIR=$dir/dyck-bc
build_variant plain clang-19 "clang-19 $(clang-19 --version | head -1) ${make_flags[*]} $debian_options"
PATH=$wrap:$PATH build_variant dyck "$dyckcc" "dyck-cc $tools_id ${make_flags[*]} $debian_options"
build_programs plain clang-19
# shellcheck disable=SC2086
PATH=$wrap:$PATH build_programs dyck "$dyckcc" ${MBT_PROGRAMS:-}
# Blobs are compiled here, on the host, for the stand-in runner and the compile times
# of the report (an nfa blob takes seconds here, minutes under TCG); `sbx run`'s cache
# holds its own entries (with the program's pinned sites), seeded by bench.sh.
MBT_BLOBS=${MBT_BLOBS:-1}

# 5. mbed TLS's own test suites (tests/test_suite_*), generated with Python 3.
#    Arguments (or SUITES) name them without test_suite_; "all" builds all of them.
suites=${*:-${SUITES-}}
if [ -n "$suites" ]; then
    targets=()
    if [ "$suites" = all ]; then
        for data in "$src"/tests/suites/test_suite_*.data; do targets+=("$(basename "$data" .data)"); done
    else
        for suite in $suites; do targets+=("test_suite_$suite"); done
    fi
    for name in plain dyck; do
        cc=clang-19; [ $name = dyck ] && cc=$dyckcc
        missing=()
        for t in "${targets[@]}"; do [ -x "$dir/$name/tests/$t" ] || missing+=("$t"); done
        [ ${#missing[@]} -gt 0 ] || { say "$name: ${#targets[@]} test suites up to date"; continue; }
        say "$name: building ${#missing[@]} test suites"
        t0=$SECONDS
        PATH=$wrap:$PATH MBT_BC_DIR= make -C "$dir/$name/tests" -j"$jobs" CC="$cc" "${make_flags[@]}" "${missing[@]}" \
            >>"$dir/$name/build.log" 2>&1 \
            || { say "$name: test suites failed, see $dir/$name/build.log"; tail -20 "$dir/$name/build.log" >&2; exit 1; }
        echo "$name ${#missing[@]} $((SECONDS - t0))" >>"$dir/.suite-build-seconds"
        say "$name: ${#missing[@]} test suites built in $((SECONDS - t0)) s"
    done
fi

# 6. Per program: analysis time (dyck-gen on the whole-program bitcode dyck-cc
#    analysed, without and with instrumentation), policy size (sbx stats), and the
#    kernel blobs of both modes (sbx blob, timed), written next to the policy as
#    PROGRAM.dyck.dyck.blob and PROGRAM.dyck.nfa.blob. Redone when the policy changes.
tsv=$dir/analysis.tsv
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
stamp_of() { sha256sum "$1" | cut -c1-16; }
declare -A have=()
if [ -f "$tsv" ]; then
    while IFS=$'\t' read -r prog digest rest; do have[$prog]="$digest	$rest"; done < <(tail -n +2 "$tsv")
fi
out_tsv=$tmp/analysis.tsv
printf 'program\tpolicy_sha\tbc_bytes\tanalysis_s\tinstrument_s\tpolicy_bytes\tfunctions\tdyck_states\tdyck_edges\tsites\tabf_dyck\tnfa_states\tnfa_edges\tabf_nfa\tmarkers\tlibc_markers\tinstrumented_sites\tprogram_calls\tblob_dyck_s\tblob_nfa_s\tblob_dyck_bytes\tblob_nfa_bytes\n' >"$out_tsv"
secs() { local t0 t1; t0=$(date +%s.%N); "$@" >"$tmp/cmd.out" 2>&1 || { cat "$tmp/cmd.out" >&2; return 1; }; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }
count=0
while IFS= read -r policy; do
    prog=${policy#"$dir/dyck/"}; prog=${prog%.dyck}
    digest=$(stamp_of "$policy")
    if [ -n "${have[$prog]:-}" ] && [ "${have[$prog]%%	*}" = "$digest" ] &&
       { [ "$MBT_BLOBS" != 1 ] || { [ -f "$policy.dyck.blob" ] && [ -f "$policy.nfa.blob" ]; }; }; then
        printf '%s\t%s\n' "$prog" "${have[$prog]}" >>"$out_tsv"
        continue
    fi
    count=$((count + 1))
    base=$(basename "$prog")
    bc=$dir/dyck-bc/$base.bc
    analysis=NA instrument=NA bcbytes=NA markers=NA libcm=NA isites=NA pcalls=NA
    if [ -f "$bc" ]; then
        bcbytes=$(stat -c %s "$bc")
        mkdir -p "$tmp/a" "$tmp/i"
        analysis=$(secs "$dyckgen" "$bc" -o "$tmp/a" -q)
        instrument=$(secs "$dyckgen" "$bc" -o "$tmp/i" --instrument)
        # "wrote X: M markers, L before libc calls, S of C program calls instrumented as sites, ..."
        read -r markers libcm isites pcalls < <(sed -nE 's/.*: ([0-9]+) markers, ([0-9]+) before libc calls, ([0-9]+) of ([0-9]+) program calls.*/\1 \2 \3 \4/p' "$tmp/cmd.out" | head -1) || true
        rm -rf "$tmp/a" "$tmp/i"
    fi
    "$sbx" stats "$policy" >"$tmp/stats"
    # functions: N  libc symbols: S  callbacks: C / mode states edges call-sites abf
    functions=$(sed -nE 's/^functions: ([0-9]+).*/\1/p' "$tmp/stats")
    read -r ds de dsites dabf < <(awk '$1 == "dyck" { print $2, $3, $4, $5 }' "$tmp/stats")
    # nfa-machine: the kernel's nfa machine (specs/checking.md); "nfa" for an nfa policy.
    read -r ns ne nabf < <(awk '$1 == "nfa" || $1 == "nfa-machine" { print $2, $3, $5 }' "$tmp/stats")
    bd=NA bn=NA
    if [ "$MBT_BLOBS" = 1 ]; then
        bd=$(secs "$sbx" blob "$policy" -o "$policy.dyck.blob" --mode dyck)
        # nfa blobs (slow: flattening) are compiled below, two at a time
        rm -f "$policy.nfa.blob"
        echo "$policy" >>"$tmp/nfa-todo"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$prog" "$digest" "$bcbytes" "$analysis" "$instrument" "$(stat -c %s "$policy")" "$functions" \
        "$ds" "$de" "$dsites" "$dabf" "$ns" "$ne" "$nabf" "$markers" "$libcm" "$isites" "$pcalls" \
        "$bd" "$bn" "$(stat -c %s "$policy.dyck.blob" 2>/dev/null || echo NA)" \
        "$(stat -c %s "$policy.nfa.blob" 2>/dev/null || echo NA)" >>"$out_tsv"
    say "$prog: analysis ${analysis} s, dyck blob ${bd} s"
done < <(find "$dir/dyck/programs" -name '*.dyck' -type f | sort)
if [ -s "$tmp/nfa-todo" ]; then
    say "compiling $(wc -l <"$tmp/nfa-todo") nfa blobs (-P$jobs)"
    # shellcheck disable=SC2016
    xargs -P "$jobs" -I{} sh -c 't0=$(date +%s.%N); "$1" blob "$2" -o "$2.nfa.blob" --mode nfa >/dev/null 2>&1 || exit 255;
        echo "$2 $(echo "$(date +%s.%N) - $t0" | bc)"' sh "$sbx" {} <"$tmp/nfa-todo" >"$tmp/nfa-times" \
        || { say "sbx blob --mode nfa failed"; exit 1; }
    # fill in blob_nfa_s and blob_nfa_bytes (columns 20 and 22)
    awk -F'\t' -v OFS='\t' -v dir="$dir/dyck/" '
        FNR == NR { t[$1] = $2; next }
        FNR > 1 { p = dir $1 ".dyck"; if (p in t) { $20 = t[p]; cmd = "stat -c %s \"" p ".nfa.blob\""; cmd | getline $22; close(cmd) } }
        { print }' <(tr ' ' '\t' <"$tmp/nfa-times") "$out_tsv" >"$out_tsv.new" && mv "$out_tsv.new" "$out_tsv"
fi
mv "$out_tsv" "$tsv"
[ "$count" = 0 ] || say "measured $count policies: $tsv"
# The test suites run in dyck mode only: their dyck blobs.
for policy in "$dir"/dyck/tests/test_suite_*.dyck; do
    [ -f "$policy" ] && [ "$MBT_BLOBS" = 1 ] || continue
    [ "$policy.dyck.blob" -nt "$policy" ] || "$sbx" blob "$policy" -o "$policy.dyck.blob" --mode dyck >/dev/null 2>&1 || { say "sbx blob $policy failed"; exit 1; }
done

# 7. What was built, with which configuration.
{
    echo "mbed TLS $version (Debian source package: $(cd "$dir/dl" 2>/dev/null && ls ./*.dsc 2>/dev/null | head -1 | sed 's#^\./##'))"
    echo "make:     make CC=<cc> ${make_flags[*]} lib; make CC=<cc> ${make_flags[*]} programs;"
    echo "          make -C tests CC=<cc> ${make_flags[*]} test_suite_..."
    echo "          (mbed TLS's own flags added by its Makefiles: $(sed -n 's/^LOCAL_CFLAGS *= *//p' "$src/programs/Makefile" | head -1);"
    echo "           WARNING_CFLAGS = $(sed -n 's/^WARNING_CFLAGS *?= *//p' "$src/programs/Makefile" | head -1))"
    echo "plain CC: clang-19: $(clang-19 --version | head -1)"
    echo "dyck CC:  $dyckcc (sha256 $(sha256sum "$dyckcc" | cut -c1-16)..., clang-19 underneath)"
    echo "sbx:      $sbx (sha256 $(sha256sum "$sbx" | cut -c1-16)...)"
    echo "config:   upstream include/mbedtls/config.h + debian/rules: scripts/config.pl set $debian_options"
    echo "enabled options (include/mbedtls/config.h of the builds):"
    grep -E '^#define MBEDTLS_' "$dir/plain/include/mbedtls/config.h" | awk '{print "  " $2}'
} >"$dir/build-config.txt"
progs=$(find "$dir/dyck/programs" -type f -name '*.dyck' | wc -l)
say "done in $((SECONDS - t_start)) s: $progs programs with a policy; configuration in $dir/build-config.txt"
