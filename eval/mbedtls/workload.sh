#!/usr/bin/env bash
# The mbed TLS workload: every program of programs/ with a real workload, and mbed
# TLS's own test suites, each run in several MODES (runs inside a `sbx vm` guest,
# see guest.sh; it also runs on a host for the plain mode):
#
#   plain  the clang-19 build, no sandbox
#   inst   the dyck-cc build, no sandbox (markers fail with ENOSYS): the cost of
#          the instrumentation alone
#   nfa    the dyck-cc build under  $SBX_RUN --mode=nfa  --json-report F --
#   dyck   the dyck-cc build under  $SBX_RUN --mode=dyck --json-report F --
#   record the dyck-cc build under  $SBX record -o OUT/record/NAME.trace --  (no
#          kernel needed: for record-check.sh on the host)
#
#   workload.sh -o OUT [-m 'plain nfa dyck'] [-s 'plain dyck'] [-r REGEX] [-l full|reduced]
#
# The workload is a list of *units*; a unit (one run, or a server with its clients,
# or a chain of runs that use each other's files) is run in each mode in turn before
# the next unit starts, so that slow drifts of the machine hit every mode alike.
# Every mode has its own work directory (OUT/MODE/work), seeded with the same
# inputs (OUT/inputs: generated files and keys, made once with the plain build).
# Per run, OUT/MODE/ holds NAME.out (stdout and stderr), NAME.status, NAME.time
# (mbt-time: wall user sys status), NAME.prog (the program, relative to the build),
# NAME.json (the sandbox runner's report) and NAME.records (violation records read
# from the module after the unit) and, for a run that overlapped another run of the
# unit (a server and the clients run while it listens), NAME.peers: the names of
# those runs, one line. The module's marker counter is global, so such a run's
# report counts the markers of its peers too (report.py leaves these runs out of the
# cost per marker); OUT/peers-recorded says that this workload wrote the files.
# Each run prints one line: verdict (ok: the exit
# status is the expected one), mode, name, status, CPU and wall time. Programs that
# cannot do anything meaningful are listed as "skip" with the reason (OUT/skipped).
#
# Options: -o OUT; -m MODES for programs (default plain); -s MODES for the test
# suites (default: none; suites run whole, in tests/ of the build); -r REGEX: only
# units whose runs match; -l reduced: the handful of programs and suites of
# `make test-mbedtls`.
# Environment: MBT_PLAIN, MBT_DYCK (the two builds, default build/mbedtls/{plain,dyck}),
# SBX_RUN (the runner, words; default `sbx run`), MBT_TIME (mbt-time),
# MBT_SBXCTL (optional: a /dev/sbx client whose `read` prints violation records),
# MBT_SUITES (the suites, names without test_suite_; default: all that were built).
# Exit status: 0 if every run got its expected status.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out= modes=plain suite_modes= only=. level=full
while getopts o:m:s:r:l: opt; do
    case $opt in
    o) out=$OPTARG ;;
    m) modes=$OPTARG ;;
    s) suite_modes=$OPTARG ;;
    r) only=$OPTARG ;;
    l) level=$OPTARG ;;
    *) exit 2 ;;
    esac
done
[ -n "$out" ] || { echo "usage: $0 -o OUT [-m MODES] [-s MODES] [-r REGEX] [-l full|reduced]" >&2; exit 2; }
mkdir -p "$out" && out=$(cd "$out" && pwd)
plain_build=${MBT_PLAIN:-$root/build/mbedtls/plain}
dyck_build=${MBT_DYCK:-$root/build/mbedtls/dyck}
read -r -a sbx_run <<<"${SBX_RUN:-sbx run}"
timer=${MBT_TIME:-mbt-time}
ctl=${MBT_SBXCTL:-}

say() { printf '[mbedtls] %s\n' "$*" >&2; }
now() { date +%s.%N; }

failures=0
: >"$out/skipped"
: >"$out/peers-recorded"
declare -A server_pid=() server_peers=()

# ---------------------------------------------------------------------------
# Modes.
mode= build= progs= data= work= dest= prefix=()
enter_mode() {   # mode
    mode=$1
    case $mode in
    plain) build=$plain_build ;;
    inst | nfa | dyck | record) build=$dyck_build ;;
    *) echo "unknown mode $mode" >&2; exit 2 ;;
    esac
    progs=$build/programs data=$build/tests/data_files
    dest=$out/$mode work=$out/$mode/work
    if [ ! -d "$work" ]; then
        mkdir -p "$work" && cp -a "$out/inputs/." "$work/"
    fi
    cd "$work" || exit 2
}
prefix_for() {   # name: sets prefix=(...) for the current mode
    prefix=()
    case $mode in
    nfa | dyck) prefix=("${sbx_run[@]}" --mode="$mode" --json-report "$dest/$1.json" --) ;;
    record) prefix=("${SBX:-sbx}" record -o "$dest/$1.trace" --) ;;
    esac
}

# unit FUNCTION ARGS...: FUNCTION ARGS in each mode, then the violation records.
unit() {
    local m
    for m in $modes; do
        enter_mode "$m"
        "$@"
        collect_records
    done
}
current_unit_runs=()
collect_records() {
    [ -n "$ctl" ] && [ "$mode" != plain ] && [ "$mode" != inst ] || return 0
    local records
    records=$("$ctl" read 2>&1 | grep -v '^records 0 ')
    [ -n "$records" ] || return 0
    echo "$records" >>"$dest/unit.records"
    echo "FAIL $mode: violation records after a unit:" >&2
    echo "$records" | sed 's/^/     /' >&2
}

# Outcome of one finished run.
finish() {   # name expected
    local name=$1 expected=$2 verdict=ok status wall user sys
    read -r wall user sys status <"$dest/$name.time" || { wall=0 user=0 sys=0 status=255; }
    echo "$status" >"$dest/$name.status"
    # "same": the plain run's status (the suites: some of 2.28.3's tests depend on the
    # date, its test certificates have expired); report.py compares every mode with plain.
    if [ "$expected" = same ]; then expected=$(cat "$out/plain/$name.status" 2>/dev/null || echo "$status"); fi
    if [ "$status" != "$expected" ]; then verdict=FAIL; failures=$((failures + 1)); fi
    printf '%-4s %-5s %-34s status=%-3s (expected %3s) cpu %7.2fs wall %7.2fs\n' \
        "$verdict" "$mode" "$name" "$status" "$expected" "$(echo "$user + $sys" | bc)" "$wall"
}

# run NAME [-s STATUS] [-C DIR] -- PROG ARGS...
# PROG is relative to the build's programs/ (or tests/ with -C tests); DIR is where it
# runs (default: the mode's work directory).
run() {
    local name=$1 expected=0 cwd=$work
    shift
    while [ "$1" != -- ]; do
        case $1 in
        -s) expected=$2; shift 2 ;;
        -C) cwd=$2; shift 2 ;;
        *) echo "run: bad option $1" >&2; exit 2 ;;
        esac
    done
    shift
    [[ $name =~ $only ]] || return 0
    local prog=$1
    shift
    [[ $prog = /* ]] || prog=$progs/$prog
    echo "${prog#"$build"/}" >"$dest/$name.prog"
    prefix_for "$name"
    rm -f "$dest/$name".json* "$dest/$name".time*
    note_peers "$name"
    warm "$prog"
    (cd "$cwd" && "$timer" "$dest/$name.time" -- "${prefix[@]}" "$prog" "$@" </dev/null >"$dest/$name.out" 2>&1)
    # Repetitions (MBT_REPEAT, default 1) for the cost: the output of the first is
    # kept; the cost is the run with the median CPU time; a repetition whose status
    # or runner report differs from the first is kept instead (so it is seen).
    # Not while a server is running or for runs marked -1 (their peer serves once).
    local reps=${MBT_REPEAT:-1} k
    if [ "$reps" -gt 1 ] && [ ${#server_pid[@]} = 0 ] && [ -z "$once" ]; then
        mv "$dest/$name.time" "$dest/$name.time.1"
        [ -f "$dest/$name.json" ] && mv "$dest/$name.json" "$dest/$name.json.1"
        for k in $(seq 2 "$reps"); do
            prefix_for "$name.rep"
            (cd "$cwd" && "$timer" "$dest/$name.time.$k" -- "${prefix[@]}" "$prog" "$@" </dev/null >"$dest/$name.out.$k" 2>&1)
            [ -f "$dest/$name.rep.json" ] && mv "$dest/$name.rep.json" "$dest/$name.json.$k"
        done
        pick_median "$dest/$name" "$reps"
    fi
    once=
    finish "$name" "$expected"
}
once=
# The program's file into the page cache before it is timed: the two builds are
# different files, and the first mode to run each (plain; inst or nfa) would
# otherwise pay for reading it over 9p where the later modes do not.
warm() {
    cat "$1" >/dev/null 2>&1 || true
}
# pick_median BASE N: BASE.time and BASE.json from the repetitions BASE.*.k.
pick_median() {
    local base=$1 n=$2 k pick= status0
    status0=$(awk '{ print $4 }' "$base.time.1")
    for k in $(seq 2 "$n"); do
        if [ "$(awk '{ print $4 }' "$base.time.$k")" != "$status0" ] ||
           grep -qsE '"killed": *true|"violations": *\[ *\{' "$base.json.$k"; then
            pick=$k
        fi
    done
    if [ -z "$pick" ]; then
        pick=$(for k in $(seq "$n"); do awk -v k="$k" '{ printf "%.6f %d\n", $2 + $3, k }' "$base.time.$k"; done |
            sort -n | awk -v n="$n" 'NR == int((n + 1) / 2) { print $2 }')
    fi
    cp "$base.time.$pick" "$base.time"
    [ -f "$base.json.$pick" ] && cp "$base.json.$pick" "$base.json"
    # A repetition whose output differs from the first: kept as the output (seen).
    for k in $(seq 2 "$n"); do
        cmp -s "$base.out" "$base.out.$k" || echo "$k" >>"$base.outdiff"
    done
    return 0
}

# start NAME tcp|udp PORT -- PROG ARGS...: a server in the background, waited for
# until it listens on PORT (at most 60 s); stop NAME [STATUS] ends it with SIGTERM
# (passed on by mbt-time and the runner) unless it has exited by itself.
start() {
    local name=$1 proto=$2 ready=$3
    shift 4
    [[ $name =~ $only ]] || return 0
    local prog=$progs/$1
    shift
    echo "${prog#"$build"/}" >"$dest/$name.prog"
    prefix_for "$name"
    rm -f "$dest/$name.json"
    note_peers "$name"
    warm "$prog"
    "$timer" "$dest/$name.time" -- "${prefix[@]}" "$prog" "$@" </dev/null >"$dest/$name.out" 2>&1 &
    server_pid[$name]=$!
    local i
    for i in $(seq 600); do
        port_free "$ready" "$proto" || return 0
        kill -0 "${server_pid[$name]}" 2>/dev/null || break
        sleep 0.1
    done
    echo "FAIL $mode: $name is not listening on $proto port $ready" >&2
}
stop() {   # name [expected status, default 143 = SIGTERM]
    local name=$1 expected=${2:-143}
    [ -n "${server_pid[$name]:-}" ] || return 0
    local pid=${server_pid[$name]} i
    for i in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    # SIGTERM to the program itself, below mbt-time and the runner (which then
    # report its status as for any other run).
    kill -TERM "$(leaf_pid "$pid")" 2>/dev/null
    wait "$pid"
    finish "$name" "$expected"
    unset "server_pid[$name]"
    if [ -n "${server_peers[$name]:-}" ]; then   # after the servers it started beside, if any
        echo "$(cat "$dest/$name.peers" 2>/dev/null)${server_peers[$name]}" | sed 's/^ //' >"$dest/$name.peers.new"
        mv "$dest/$name.peers.new" "$dest/$name.peers"
    fi
    unset "server_peers[$name]"
}
# note_peers NAME: NAME starts while the servers in server_pid run: it and they are
# each other's peers (NAME.peers written now for NAME, at stop for a server).
note_peers() {
    local s list=
    rm -f "$dest/$1.peers"
    for s in "${!server_pid[@]}"; do
        list="$list $s"
        server_peers[$s]="${server_peers[$s]:-} $1"
    done
    [ -z "$list" ] || echo "${list# }" >"$dest/$1.peers"
}
# The program behind the wrappers mbt-time, sbx (run) and mbt-sbxrun started as pid.
leaf_pid() {
    local pid=$1 kids
    while kids=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null) && [ -n "$kids" ]; do
        case $(cat "/proc/$pid/comm" 2>/dev/null) in
        mbt-time | sbx | mbt-sbxrun) pid=${kids%% *} ;;
        *) break ;;
        esac
    done
    echo "$pid"
}
skip() {   # name reason
    [[ $1 =~ $only ]] || return 0
    printf 'skip %-34s %s\n' "$1" "$2"
    printf '%s\t%s\n' "$1" "$2" >>"$out/skipped"
}
port_free() {   # port [tcp|udp]
    ! ss -Htuln | awk -v proto="${2:-}" 'proto == "" || $1 == proto { print $5 }' | grep -q ":$1\$"
}
# A check of a run's product, not a run: prints FAIL and counts it.
expect_same() {   # what file1 file2
    cmp -s "$2" "$3" && return 0
    echo "FAIL $mode: $1: $2 and $3 differ" >&2
    failures=$((failures + 1))
}

# ---------------------------------------------------------------------------
# Inputs, made once with the plain build (not measured, not compared).
make_inputs() {
    local in=$out/inputs p=$plain_build/programs
    rm -rf "$in" && mkdir -p "$in" && cd "$in" || exit 2
    head -c 1000000 /dev/zero | tr '\0' 'a' >zeros.txt
    awk 'BEGIN { srand(7); for (i = 0; i < 20000; i++) printf "%08x line %d\n", int(rand() * 4294967295), i }' >input.txt
    echo "Here is some input. See it wrapped." >short.txt
    cp "$p/pkey/dh_prime.txt" dh_prime.txt
    sha1sum input.txt zeros.txt >sums.txt
    {
        "$p/pkey/gen_key" type=rsa rsa_keysize=1024 filename=rsa.key &&
        "$p/pkey/gen_key" type=ec ec_curve=secp256r1 filename=ec.key &&
        "$p/pkey/key_app_writer" mode=private filename=rsa.key output_mode=public output_file=rsa.pub &&
        "$p/pkey/key_app_writer" mode=private filename=ec.key output_mode=public output_file=ec.pub &&
        "$p/x509/cert_req" filename=ec.key output_file=ec.csr subject_name="CN=Test,O=sbx,C=UK" &&
        "$p/x509/cert_write" selfsign=1 issuer_key=rsa.key issuer_name="CN=CA,O=sbx,C=UK" is_ca=1 \
            output_file=ca.crt serial=7 not_before=20230101000000 not_after=20331231235959 &&
        "$p/psa/key_ladder_demo" generate master=master.key &&
        "$p/pkey/rsa_genkey" &&   # rsa_pub.txt, rsa_priv.txt for the rsa_* programs
        "$p/aes/crypt_and_hash" 0 input.txt input.aes AES-128-CBC SHA256 "$key"
    } >inputs.log 2>&1 || { echo "cannot make the inputs, see $in/inputs.log" >&2; exit 2; }
}
key=hex:000102030405060708090a0b0c0d0e0f

# ---------------------------------------------------------------------------
# The units.

# Self tests, benchmark, configuration queries.
u_selftest() { run selftest -- test/selftest; }
u_benchmark() {
    # About 1 s per algorithm (TCG): symmetric ones and the DRBGs; public-key ones
    # with their smallest sizes (BENCHMARK_ALGS overrides; empty means all).
    # shellcheck disable=SC2086
    run benchmark -- test/benchmark ${BENCHMARK_ALGS-md5 sha256 sha512 aes_cbc aes_gcm chachapoly ctr_drbg hmac_drbg}
}
u_misc_test() {
    run selftest-some -- test/selftest md5 aes rsa x509 ecp
    run query_compile_time_config -- test/query_compile_time_config MBEDTLS_SSL_TLS_C
    run query_compile_time_config-unset -s 1 -- test/query_compile_time_config MBEDTLS_MEMORY_BUFFER_ALLOC_C
    run zeroize -- test/zeroize short.txt
}

# Hashes and ciphers on generated files; the decryptions must give the input back.
u_hash() {
    run hello -- hash/hello
    run generic_sum-sha256 -- hash/generic_sum SHA256 input.txt zeros.txt
    run generic_sum-md5 -- hash/generic_sum MD5 input.txt
    run generic_sum-check -s 1 -- hash/generic_sum SHA1 -c sums.txt   # 2.28.3's -c always exits 1
}
u_aes() {
    run crypt_and_hash-enc -- aes/crypt_and_hash 0 input.txt input.enc AES-128-CBC SHA256 $key
    run crypt_and_hash-dec -- aes/crypt_and_hash 1 input.enc input.dec AES-128-CBC SHA256 $key
    run crypt_and_hash-dec-given -- aes/crypt_and_hash 1 input.aes input.dec2 AES-128-CBC SHA256 $key
    run crypt_and_hash-gcm -- aes/crypt_and_hash 0 zeros.txt zeros.gcm AES-256-GCM SHA512 $key
    run crypt_and_hash-gcm-dec -- aes/crypt_and_hash 1 zeros.gcm zeros.dec AES-256-GCM SHA512 $key
    [[ crypt_and_hash-dec =~ $only ]] || return 0
    expect_same crypt_and_hash-dec input.txt input.dec
    expect_same crypt_and_hash-dec-given input.txt input.dec2
    expect_same crypt_and_hash-gcm-dec zeros.txt zeros.dec
}

# Randomness.
u_random() {
    run gen_entropy -- random/gen_entropy entropy.bin
    run gen_random_ctr_drbg -- random/gen_random_ctr_drbg ctr_drbg.bin
    run gen_random_havege -- random/gen_random_havege havege.bin
}

# Keys: generation (small), sign/verify and encrypt/decrypt pairs.
u_gen_key() {
    run gen_key-rsa -- pkey/gen_key type=rsa rsa_keysize=1024 filename=new-rsa.key
    run gen_key-ec -- pkey/gen_key type=ec ec_curve=secp256r1 filename=new-ec.key
    run gen_key-ec-der -- pkey/gen_key type=ec ec_curve=secp384r1 format=der filename=new-ec384.der
    run key_app-new -- pkey/key_app mode=private filename=new-ec.key
}
u_key_app() {
    run key_app-rsa -- pkey/key_app mode=private filename=rsa.key
    run key_app-ec -- pkey/key_app mode=private filename=ec.key
    run key_app-pub -- pkey/key_app mode=public filename=rsa.pub
    run key_app-data -- pkey/key_app mode=private filename="$data/server2.key"
    run key_app_writer-pub -- pkey/key_app_writer mode=private filename=rsa.key output_mode=public output_file=out-rsa.pub
    run key_app_writer-der -- pkey/key_app_writer mode=private filename=ec.key output_mode=private output_format=der output_file=out-ec.der
    [[ key_app_writer-pub =~ $only ]] && expect_same key_app_writer-pub rsa.pub out-rsa.pub
}
u_pk() {
    run pk_sign -- pkey/pk_sign rsa.key input.txt
    run pk_verify -- pkey/pk_verify rsa.pub input.txt
    run pk_sign-ec -- pkey/pk_sign ec.key short.txt
    run pk_verify-ec -- pkey/pk_verify ec.pub short.txt
    run pk_encrypt -- pkey/pk_encrypt rsa.pub "attack at dawn"
    run pk_decrypt -- pkey/pk_decrypt rsa.key
}
u_rsa() {
    run rsa_encrypt -- pkey/rsa_encrypt "attack at dusk"
    run rsa_decrypt -- pkey/rsa_decrypt
    run rsa_sign -- pkey/rsa_sign input.txt
    run rsa_verify -- pkey/rsa_verify input.txt
    run rsa_sign_pss -- pkey/rsa_sign_pss rsa.key short.txt
    run rsa_verify_pss -- pkey/rsa_verify_pss rsa.pub short.txt
}
u_rsa_genkey() { run rsa_genkey -- pkey/rsa_genkey; }
u_pkey_demos() {
    run ecdsa -- pkey/ecdsa
    run ecdh_curve25519 -- pkey/ecdh_curve25519
    run mpi_demo -- pkey/mpi_demo
    run dh_genprime -- pkey/dh_genprime bits=512
    cp "$out/inputs/dh_prime.txt" dh_prime.txt   # the server's 2048-bit group, not the 512-bit one
}
u_dh() {
    start dh_server tcp 11999 -- pkey/dh_server
    run dh_client -- pkey/dh_client
    stop dh_server 0
}

# PSA.
u_psa() {
    run crypto_examples -- psa/crypto_examples
    run key_ladder-wrap -- psa/key_ladder_demo wrap master=master.key label=hello label=world input=short.txt output=hello.wrap
    run key_ladder-unwrap -- psa/key_ladder_demo unwrap master=master.key label=hello label=world input=hello.wrap output=hello.txt
    run key_ladder-bad -s 1 -- psa/key_ladder_demo unwrap master=master.key label=hellow label=orld input=hello.wrap output=bad.txt
    run key_ladder-save -- psa/key_ladder_demo save master=master.key label=hello input=hello.wrap output=hello.key
    run key_ladder-generate -- psa/key_ladder_demo generate master=new-master.key
    run psa_constant_names-status -- psa/psa_constant_names status -133
    run psa_constant_names-alg -- psa/psa_constant_names alg 0x06000609
    run psa_constant_names-type -- psa/psa_constant_names type 0x7112
    [[ key_ladder-unwrap =~ $only ]] && expect_same key_ladder-unwrap short.txt hello.txt
}

# Utilities.
u_util() {
    run pem2der -- util/pem2der filename="$data/server5.crt" output_file=server5.der
    run pem2der-key -- util/pem2der filename="$data/server2.key" output_file=server2.key.der
    [[ pem2der =~ $only ]] && expect_same pem2der server5.der "$data/server5.crt.der"
    run strerror -s 128 -- util/strerror -0x4080     # it exits with the error code
    run strerror-ssl -s 128 -- util/strerror 0x7780
}

# X.509 on the source tree's certificates and on the inputs.
u_x509() {
    run cert_app-file -- x509/cert_app mode=file filename="$data/server5.crt"
    run cert_app-chain -- x509/cert_app mode=file filename="$data/server2.crt" ca_file="$data/test-ca.crt" crl_file="$data/crl.pem"
    run crl_app -- x509/crl_app filename="$data/crl.pem"
    run crl_app-ec -- x509/crl_app filename="$data/crl-ec-sha256.pem"
    run req_app -- x509/req_app filename="$data/server1.req.sha256"
    run req_app-own -- x509/req_app filename=ec.csr
    run load_roots -- x509/load_roots "$data/test-ca.crt" "$data/test-ca2.crt" "$data/test-ca_cat12.crt"
    run cert_req -- x509/cert_req filename=ec.key output_file=out-ec.csr subject_name="CN=Test,O=sbx,C=UK"
    run cert_write-self -- x509/cert_write selfsign=1 issuer_key=rsa.key issuer_name="CN=CA,O=sbx,C=UK" is_ca=1 \
        output_file=out-ca.crt serial=7 not_before=20230101000000 not_after=20331231235959
    run cert_write-req -- x509/cert_write request_file=ec.csr issuer_crt=ca.crt issuer_key=rsa.key output_file=leaf.crt \
        serial=8 not_before=20230101000000 not_after=20331231235959
    run cert_app-own -- x509/cert_app mode=file filename=leaf.crt ca_file=ca.crt
    [[ cert_write-self =~ $only ]] && expect_same cert_write-self ca.crt out-ca.crt
}

# Fuzz programs (built with their own main, onefile.c) on a few inputs each.
u_fuzz() {
    run fuzz_x509crt-1 -- fuzz/fuzz_x509crt "$data/server5.crt.der"
    run fuzz_x509crt-2 -- fuzz/fuzz_x509crt "$data/test-ca.der"
    run fuzz_x509crt-junk -- fuzz/fuzz_x509crt input.txt
    run fuzz_x509crl -- fuzz/fuzz_x509crl "$data/crl.pem"
    run fuzz_x509csr -- fuzz/fuzz_x509csr "$data/server1.req.sha256"
    run fuzz_privkey-1 -- fuzz/fuzz_privkey "$data/server5.key"
    run fuzz_privkey-2 -- fuzz/fuzz_privkey "$data/server2.key"
    run fuzz_pubkey-1 -- fuzz/fuzz_pubkey "$data/ec_256_pub.pem"
    run fuzz_pubkey-2 -- fuzz/fuzz_pubkey rsa.pub
    run fuzz_client -- fuzz/fuzz_client "$progs/fuzz/corpuses/client"
    run fuzz_server -- fuzz/fuzz_server "$progs/fuzz/corpuses/server"
    run fuzz_dtlsclient -- fuzz/fuzz_dtlsclient "$progs/fuzz/corpuses/dtlsclient"
    run fuzz_dtlsserver -- fuzz/fuzz_dtlsserver "$progs/fuzz/corpuses/dtlsserver"
}

# TLS over the guest's loopback: ssl_server2 with several ssl_client2 handshakes.
p=24433
u_ssl_main() {
    start ssl_server2 tcp $p -- ssl/ssl_server2 server_port=$p renegotiation=1 psk=73776f726466697368 tickets=1
    run ssl_client2 -- ssl/ssl_client2 server_port=$p
    run ssl_client2-ecdsa -- ssl/ssl_client2 server_port=$p force_ciphersuite=TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256 \
        auth_mode=optional   # the test EC certificates have expired
    run ssl_client2-dhe -- ssl/ssl_client2 server_port=$p force_ciphersuite=TLS-DHE-RSA-WITH-AES-256-CBC-SHA256
    run ssl_client2-psk -- ssl/ssl_client2 server_port=$p psk=73776f726466697368 force_ciphersuite=TLS-PSK-WITH-AES-128-CCM-8
    run ssl_client2-resume -- ssl/ssl_client2 server_port=$p reconnect=1 tickets=1
    run ssl_client2-renego -- ssl/ssl_client2 server_port=$p renegotiation=1 renegotiate=1
    run ssl_client2-tls11 -- ssl/ssl_client2 server_port=$p force_version=tls1_1 auth_mode=optional
    run cert_app-ssl -- x509/cert_app mode=ssl server_name=localhost server_port=$p ca_file="$data/test-ca_cat12.crt"
    stop ssl_server2 0
}

# ssl_mail_client needs an SMTP server: smtp_server.py (Python's ssl, never under the
# sandbox), SMTPS (mode=0) and STARTTLS (mode=1) with authentication.
u_mail() {
    local m=$1 smtp_mode=tls smtp
    [[ ssl_mail_client-$m =~ $only ]] || return 0
    [ "$m" = 1 ] && smtp_mode=starttls
    python3 "$here/smtp_server.py" $((p + 3)) "$data/server2-sha256.crt" "$data/server2.key" $smtp_mode \
        >"$dest/smtp_server-$m.log" 2>&1 &
    smtp=$!
    for _ in $(seq 300); do port_free $((p + 3)) tcp || break; sleep 0.1; done
    once=1
    run ssl_mail_client-$m -- ssl/ssl_mail_client server_name=localhost server_port=$((p + 3)) mode=$m \
        ca_file="$data/test-ca.crt" mail_from=a@b.c mail_to=d@e.f authentication=$m user_name=u user_pwd=p
    wait $smtp || echo "FAIL $mode: smtp_server.py: $(tail -1 "$dest/smtp_server-$m.log")" >&2
}

# Features of ssl_server2 and ssl_client2, one server per pair: most of them go
# through callbacks (debug, I/O, SNI, certificate verification, export keys,
# cookies, tickets, session cache). Options that need a non-default configuration
# are not used (async private keys, opaque PSA keys, CA callback, EC J-PAKE, DTLS
# connection ids). pair NAME 'SERVER ARGS' 'CLIENT ARGS' [CLIENT STATUS].
# DTLS handshakes get long retransmission timeouts: a slow (sandboxed, emulated)
# peer must not cause retransmissions that the plain run would not have. No DTLS
# cookies with ssl_server2 (cookies=0; dtls_server and fuzz_dtlsserver have them):
# after a HelloVerifyRequest ssl_server2 closes its connected socket and accepts
# again, and the client's second ClientHello, when it comes quickly, is lost with
# that socket (in every mode, plain included): a 20 s retransmission, and sometimes
# a stale ClientHello processed later, which changes the server's output by timing.
# DTLS clients skip their close_notify ($dc), as mbed TLS's ssl-opt.sh does: the server
# sends its own after its last exchange and goes back to accept, and a client
# close_notify that arrives after that is taken for a new connection (a failed
# handshake in the server's log, or not, by timing).
hs=hs_timeout=20000-60000
dc="$hs skip_close_notify=1"
pair() {
    local name=$1 server_args=$2 client_args=$3 expected=${4:-0} proto=tcp
    [[ " $server_args " == *" dtls=1 "* ]] && proto=udp
    # shellcheck disable=SC2086
    start ssl_server2-$name $proto $((p + 4)) -- ssl/ssl_server2 server_port=$((p + 4)) $server_args
    # shellcheck disable=SC2086
    run ssl_client2-$name -s "$expected" -- ssl/ssl_client2 server_port=$((p + 4)) $client_args
    stop ssl_server2-$name 0
}
u_pairs() {
    pair debug "debug_level=3" "debug_level=3"
    pair nbio "nbio=2 event=1" "nbio=2 event=1 read_timeout=20000"
    pair nbio1 "nbio=1" "nbio=1"
    pair sni "sni=localhost,$data/server2-sha256.crt,$data/server2.key,-,-,-,polarssl.example,$data/server1-nospace.crt,$data/server1.key,-,-,-" \
        "server_name=polarssl.example server_addr=127.0.0.1 auth_mode=optional"
    pair client-auth "auth_mode=required ca_file=$data/test-ca_cat12.crt" \
        "crt_file=$data/cli-rsa-sha256.crt key_file=$data/cli-rsa.key context_crt_cb=1"
    pair key-export "nss_keylog=1" "eap_tls=1 reproducible=1"
    pair psk-variants "psk=abc123 psk_list=id1,0a0b0c,id2,0d0e0f" \
        "psk=0d0e0f psk_identity=id2 force_ciphersuite=TLS-ECDHE-PSK-WITH-AES-128-CBC-SHA256"
    pair extensions "alpn=abc,1234 max_frag_len=512 trunc_hmac=1 cert_req_ca_list=0 curves=secp256r1,x25519" \
        "alpn=1234 max_frag_len=512 trunc_hmac=1 force_ciphersuite=TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA256 recsplit=1 etm=0"
    pair renego-server "renegotiation=1 renegotiate=1 exchanges=2" "renegotiation=1 exchanges=2"
    pair cache "tickets=0 cache_max=10 cache_timeout=60" "reconnect=2 tickets=0 reco_mode=1"
    pair big-response "response_size=16000" "request_size=5000 exchanges=2"
}
u_dtls_pairs() {
    pair dtls-features "dtls=1 $hs use_srtp=1 cookies=0 mtu=512 dgram_packing=0 anti_replay=1" \
        "dtls=1 $dc use_srtp=1 mtu=512 dgram_packing=0"
    pair dtls-renego "dtls=1 $hs cookies=0 renegotiation=1 exchanges=2" "dtls=1 $dc renegotiation=1 renegotiate=1 exchanges=2"
}
u_ssl_query() {
    run ssl_server2-query_config -- ssl/ssl_server2 query_config=MBEDTLS_SSL_TLS_C
    run ssl_client2-query_config -s 1 -- ssl/ssl_client2 query_config=MBEDTLS_NO_SUCH_OPTION
}
# DTLS: ssl_server2 dtls=1 behind udp_proxy; a serialized connection for
# ssl_context_info.
u_dtls_proxy() {
    start ssl_server2-dtls udp $((p + 1)) -- ssl/ssl_server2 dtls=1 server_port=$((p + 1)) $hs cookies=0
    start udp_proxy udp $((p + 2)) -- test/udp_proxy server_port=$((p + 1)) listen_port=$((p + 2))
    run ssl_client2-dtls -- ssl/ssl_client2 dtls=1 server_port=$((p + 2)) $dc
    run ssl_client2-serialize -- ssl/ssl_client2 dtls=1 server_port=$((p + 1)) serialize=1 context_file=context.txt $dc
    stop udp_proxy
    stop ssl_server2-dtls 0
    run ssl_context_info -- ssl/ssl_context_info -f context.txt
    run ssl_context_info-data -- ssl/ssl_context_info -f "$data/base64/cli_def.txt"
}
# The programs with the fixed port 4433: ssl_server, mini_client, the fork and
# pthread servers, the DTLS pair.
u_ssl_server() {
    start ssl_server tcp 4433 -- ssl/ssl_server
    run ssl_client1 -- ssl/ssl_client1
    stop ssl_server
}
u_mini_client() {
    # mini_client: PSK 000102..0f for Client_identity.
    start ssl_server2-mini tcp 4433 -- ssl/ssl_server2 psk=000102030405060708090a0b0c0d0e0f \
        force_ciphersuite=TLS-PSK-WITH-AES-128-CBC-SHA256
    run mini_client -- ssl/mini_client
    stop ssl_server2-mini 0
}
u_fork_server() {
    # The fork server's children write every second, 100 times, until the peer
    # leaves: ssl_client2 leaves after one exchange (ssl_client1 would stay 100 s).
    start ssl_fork_server tcp 4433 -- ssl/ssl_fork_server
    run ssl_client2-fork-1 -- ssl/ssl_client2 server_port=4433
    run ssl_client2-fork-2 -- ssl/ssl_client2 server_port=4433 force_ciphersuite=TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256
    sleep 2   # the children notice that their peer has gone
    stop ssl_fork_server
}
u_pthread_server() {
    start ssl_pthread_server tcp 4433 -- ssl/ssl_pthread_server
    run ssl_client1-pthread-1 -- ssl/ssl_client1
    run ssl_client1-pthread-2 -- ssl/ssl_client1
    run ssl_client2-pthread -- ssl/ssl_client2 server_port=4433
    stop ssl_pthread_server
}
u_dtls_server() {
    start dtls_server udp 4433 -- ssl/dtls_server
    run dtls_client -- ssl/dtls_client
    stop dtls_server
}

# mbed TLS's own test suites, each run whole in tests/ (where its .datax and
# data_files/ are).
suite_names() {
    local suite name
    for suite in "$dyck_build"/tests/test_suite_*; do
        [ -x "$suite" ] && [ -f "$suite.datax" ] || continue
        name=$(basename "$suite")
        [ -x "$plain_build/tests/$name" ] || continue
        if [ -n "${MBT_SUITES:-}" ] && [[ " $MBT_SUITES " != *" ${name#test_suite_} "* ]]; then continue; fi
        echo "$name"
    done
}
u_suite() { run "$1" -s same -C "$build/tests" -- "$build/tests/$1"; }

# ---------------------------------------------------------------------------
say "workload ($level): modes '$modes', suites '$suite_modes', in $out"
make_inputs
# Warm the guest's page cache with every executable, policy and blob of both builds
# (9p reads): otherwise the first run of each binary pays them, and the dyck-cc
# build's binary is always first read by a sandboxed run.
# Also the test data, read by the programs of every mode (each build has its own copy).
find "$plain_build/programs" "$dyck_build/programs" "$plain_build/tests" "$dyck_build/tests" -maxdepth 2 -type f \
    \( -perm -u+x -o -name '*.dyck' -o -name '*.blob' -o -name '*.datax' \) -exec cat {} + >/dev/null 2>&1
find "$plain_build/tests/data_files" "$dyck_build/tests/data_files" "${SBX_BLOB_CACHE:-/nonexistent}" -type f \
    -exec cat {} + >/dev/null 2>&1
if [ "$level" = reduced ]; then
    unit u_selftest
    unit u_hash
    unit u_aes
    unit u_pk
    unit u_x509
    unit u_ssl_main
    unit u_pthread_server
else
    for u in u_selftest u_benchmark u_misc_test u_hash u_aes u_random u_gen_key u_key_app u_pk u_rsa u_rsa_genkey \
             u_pkey_demos u_dh u_psa u_util u_x509 u_fuzz u_ssl_main u_pairs u_dtls_pairs u_ssl_query u_dtls_proxy \
             u_ssl_server u_mini_client u_fork_server u_pthread_server u_dtls_server; do
        unit $u
    done
    unit u_mail 0
    unit u_mail 1
fi
if [ -n "$suite_modes" ]; then
    saved_modes=$modes modes=$suite_modes
    for s in $(suite_names); do unit u_suite "$s"; done
    modes=$saved_modes
fi

echo "workload: $failures run(s) with an unexpected exit status or product"
[ "$failures" = 0 ]
