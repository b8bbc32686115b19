#!/usr/bin/env bash
# The real-program workload (Lua 5.4 and the SQLite shell), run inside a `sbx vm`
# guest by bench.sh (the plain mode also runs on a host). Every run is made in
# each mode in turn before the next run starts:
#   plain  the clang-19 build, no sandbox
#   nfa    the dyck-cc build under  $SBX_RUN --mode=nfa  --json-report F --
#   dyck   the dyck-cc build under  $SBX_RUN --mode=dyck --json-report F --
#   dyckbuf-nfa, dyckbuf-dyck  the dyck-cc --dyck-buffer build ($RW_DYCKBUF) under
#          $SBX_RUN --mode=nfa or dyck (only when named in -m; bench.sh RW_BUFFER=1)
#
#   workload.sh -o OUT [-m 'plain nfa dyck'] [-l reduced|full] [-r REGEX]
#
# Per run and mode, OUT/MODE/ holds NAME.out (stdout), NAME.err (stderr),
# NAME.status, NAME.time (mbt-time: wall user sys status), NAME.json (the
# runner's report) and NAME.records (violation records the module still held
# after the run). OUT/expect/NAME says what the plain run must show for the
# comparison to mean anything: "status N" and "marker REGEX" lines (report.py
# checks them; a run whose plain output lacks a marker fails the test).
# Every run starts in a fresh work directory of its mode (under /dev/shm when
# the guest has it, so that SQLite's fsyncs do not cross 9p), seeded with the
# workload's files; a run of a chain (-c) keeps the previous run's directory.
#
# Environment: RW_PLAIN, RW_DYCK, RW_DYCKBUF (the builds' directories), SBX_RUN (the
# runner, words), RW_TIME (mbt-time), RW_SBXCTL (optional: a /dev/sbx client
# whose `read` prints violation records), RW_WORK (where work directories go).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out= modes=plain level=reduced only=.
while getopts o:m:l:r: opt; do
    case $opt in
    o) out=$OPTARG ;;
    m) modes=$OPTARG ;;
    l) level=$OPTARG ;;
    r) only=$OPTARG ;;
    *) exit 2 ;;
    esac
done
[ -n "$out" ] || { echo "usage: $0 -o OUT [-m MODES] [-l reduced|full] [-r REGEX]" >&2; exit 2; }
mkdir -p "$out" && out=$(cd "$out" && pwd)
read -r -a sbx_run <<<"${SBX_RUN:-sbx run}"
timer=${RW_TIME:-mbt-time}
ctl=${RW_SBXCTL:-}
if [ -z "${RW_WORK:-}" ]; then
    if [ -d /dev/shm ] && [ -w /dev/shm ]; then RW_WORK=/dev/shm/realworld-work; else RW_WORK=$out/work; fi
fi
say() { printf '[realworld] %s\n' "$*" >&2; }

# Scales: Lua's scripts take a factor, SQLite's workload a number of rows. The
# reduced level (make test) is small: a dyck run of Lua costs ~15x the
# instructions of a plain one, and the guest is TCG.
if [ "$level" = full ]; then lua_n=4 sqlite_rows=1000; else lua_n=1 sqlite_rows=100; fi

mkdir -p "$out/expect"
failures=0
# run NAME [-c] [-s STATUS] [-m REGEX]... [-i STDIN] -- PROG ARGS...
#   PROG is lua or sqlite3 (the build of the mode is chosen here); -c: continue in
#   the work directory of the previous run (a chain); -s: the plain run's expected
#   exit status (default 0); -m: a marker the plain run's stdout+stderr must match.
run() {
    local name=$1 expected=0 chain= stdin=/dev/null markers=()
    shift
    while [ "$1" != -- ]; do
        case $1 in
        -c) chain=1; shift ;;
        -s) expected=$2; shift 2 ;;
        -m) markers+=("$2"); shift 2 ;;
        -i) stdin=$2; shift 2 ;;
        *) echo "run: bad option $1" >&2; exit 2 ;;
        esac
    done
    shift
    [[ $name =~ $only ]] || return 0
    local prog=$1 m
    shift
    {
        echo "status $expected"
        for m in "${markers[@]}"; do echo "marker $m"; done
    } >"$out/expect/$name"
    for m in $modes; do
        local build prefix=() dest=$out/$m work=$RW_WORK/$m
        case $m in
        plain) build=${RW_PLAIN:?} ;;
        nfa | dyck) build=${RW_DYCK:?}; prefix=("${sbx_run[@]}" --mode="$m" --json-report "$dest/$name.json" --) ;;
        dyckbuf-nfa | dyckbuf-dyck)
            build=${RW_DYCKBUF:?}
            prefix=("${sbx_run[@]}" --mode="${m#dyckbuf-}" --json-report "$dest/$name.json" --)
            ;;
        *) echo "unknown mode $m" >&2; exit 2 ;;
        esac
        mkdir -p "$dest"
        if [ -z "$chain" ]; then
            rm -rf "$work" && mkdir -p "$work" && cp -a "$here/lua/." "$here/sqlite/." "$work/"
        fi
        rm -f "$dest/$name".*
        # The program's file into the page cache first: the first mode to run each
        # build would otherwise pay for reading it over 9p.
        cat "$build/$prog" >/dev/null
        (cd "$work" && "$timer" "$dest/$name.time" -- "${prefix[@]}" "$build/$prog" "$@" <"$stdin" \
            >"$dest/$name.out" 2>"$dest/$name.err")
        local status wall user sys
        read -r wall user sys status <"$dest/$name.time" || status=255
        echo "$status" >"$dest/$name.status"
        if [ -n "$ctl" ] && [ "$m" != plain ]; then
            "$ctl" read 2>&1 | grep -v '^records 0 ' >"$dest/$name.records"
            [ -s "$dest/$name.records" ] || rm -f "$dest/$name.records"
        fi
        local verdict=ok want=$expected
        [ "$m" = plain ] || want=$(cat "$out/plain/$name.status" 2>/dev/null || echo "$expected")
        if [ "$status" != "$want" ] || [ -f "$dest/$name.records" ]; then verdict=FAIL; failures=$((failures + 1)); fi
        printf '%-4s %-5s %-22s status=%-3s (expected %3s) cpu %7.2fs wall %7.2fs\n' \
            "$verdict" "$m" "$name" "$status" "$want" "$(echo "$user + $sys" | bc)" "$wall"
    done
}

# Lua 5.4: our scripts in the style of Lua's test suite (assertions, "OK NAME"
# last; eval/realworld/README.md says why Lua's own suite is not used), each run
# as `lua SCRIPT SCALE`, and Lua's error exits.
for s in basics errors coroutines gc files compute; do
    run "lua-$s" -m "^OK $s\$" -- lua "$s.lua" "$lua_n"
done
run lua-error-exit -s 1 -m 'lua: \(command line\):1: boom' -m 'stack traceback' -- lua -e "error('boom')"
run lua-no-script -s 1 -m 'cannot open no-such-script.lua' -- lua no-such-script.lua
run lua-stdin -m '^from stdin 42$' -i "$here/lua/stdin.lua" -- lua -

# SQLite 3: the workload on a database file (errors on purpose: status 1), then
# the database dumped and reloaded into a new one (a chain), then -bail.
run sqlite-workload -s 1 -m '^done\|' -m '^customers\|'"$sqlite_rows"'$' -m 'UNIQUE constraint failed: customer.name' \
    -m 'credit exhausted' -m '^json depth 1990\|1$' -m '^json depth 2010\|0$' -m '^CREATE TABLE customer' \
    -m '^fts large\|[1-9]' -m '^rtree\|[1-9]' -m '^integrity_check$' \
    -- sqlite3 work.db ".parameter set \$n $sqlite_rows" '.read workload.sql'
run sqlite-reload -c -m '^INSERT INTO orders VALUES\(20,' -m '^ok$' -m '^orders\|20$' \
    -- sqlite3 work.db '.output dump.sql' '.dump' '.output stdout' '.open copy.db' '.read dump.sql' \
    'PRAGMA integrity_check;' "SELECT 'orders', count(*) FROM orders;" '.dump orders'
run sqlite-bail -s 1 -m '^1$' -m 'no such table: nosuch' -- sqlite3 -bail :memory: 'SELECT 1;' 'SELECT * FROM nosuch;' 'SELECT 2;'

rm -rf "$RW_WORK"
say "workload ($level): $failures run(s) with an unexpected status or violation records"
[ "$failures" = 0 ]
