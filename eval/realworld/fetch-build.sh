#!/usr/bin/env bash
# Fetch Lua 5.4 and SQLite 3 from Debian's sources and build each twice, at the
# same flags:
#   $REALWORLD_DIR/plain/{lua,sqlite3}   clang-19 (the baseline)
#   $REALWORLD_DIR/dyck/{lua,sqlite3}    dyck-cc (whole program; PROG.dyck beside it)
#   $REALWORLD_DIR/dyckbuf/{lua,sqlite3} dyck-cc --dyck-buffer (only with RW_BUFFER=1)
# Lua: the interpreter (src/*.c but luac.c; Debian's flags: LUA_COMPAT_5_3,
# LUA_USE_LINUX, no readline). SQLite: the shell (shell.c + the sqlite3.c
# amalgamation, generated from Debian's source tree with tclsh; Debian's
# -DSQLITE_* options of debian/rules, no readline).
# Idempotent: the deb-src line, the sources, the amalgamation and each finished
# build are reused; a build is redone when its compiler (by content) or its flags
# change. Build times (wall and CPU seconds, peak memory) go to build-times.tsv:
# the CPU time is the figure to compare on a loaded machine.
#
# Environment:
#   REALWORLD_DIR  where everything goes (default build/realworld, ignored by git)
#   SBX_BIN        a directory with prebuilt dyck-cc and sbx (no swift build);
#                  otherwise `swift build --scratch-path $SCRATCH`
#   SCRATCH        swift scratch path (default .build)
#   CFLAGS         (default -O2 -g)
#   PROGRAMS       (default 'lua sqlite3')
#   JOBS           builds at once: 1, or 2 (default)
#   RW_BUFFER      1: also the dyckbuf builds (buffered events); default 0
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
dir=${REALWORLD_DIR:-$root/build/realworld}
scratch=${SCRATCH:-.build}
cflags=${CFLAGS:--O2 -g}
programs=${PROGRAMS:-lua sqlite3}
say() { printf '[realworld] %s\n' "$*" >&2; }
t_start=$SECONDS

# 1. deb-src, and what the builds need (tclsh generates SQLite's amalgamation).
# shellcheck source=eval/lib/deb-src.sh
. eval/lib/deb-src.sh
deb_src_setup dpkg-source:dpkg-dev tclsh:tcl clang-19:clang-19

# 2. The sources (Debian's patches applied), in $dir/dl.
mkdir -p "$dir"
lua_src=$(deb_source lua5.4 "$dir/dl") || { say "apt-get source lua5.4 failed"; exit 2; }
sqlite_src=$(deb_source sqlite3 "$dir/dl") || { say "apt-get source sqlite3 failed"; exit 2; }
grep -qE 'define LUA_VERSION_NUM[[:space:]]+504' "$lua_src/src/lua.h" || { say "not Lua 5.4: $lua_src"; exit 2; }
sqlite_version=$(cat "$sqlite_src/VERSION")
case $sqlite_version in 3.*) ;; *) say "not SQLite 3: $sqlite_src"; exit 2 ;; esac

# The amalgamation (sqlite3.c, sqlite3.h) and the shell's shell.c, generated once
# out of tree: Debian's tree has only the separate sources.
amalg=$dir/sqlite-amalgamation
if [ ! -f "$amalg/.done" ]; then
    say "SQLite $sqlite_version: generating the amalgamation (configure; make sqlite3.c shell.c)"
    rm -rf "$amalg" && mkdir -p "$amalg"
    (cd "$amalg" && "$sqlite_src/configure" --disable-tcl --disable-readline >configure.log 2>&1 &&
        make sqlite3.c shell.c >make.log 2>&1) || { say "amalgamation failed: see $amalg"; exit 1; }
    touch "$amalg/.done"
fi

# Debian's luaconf.h includes a header that debian/rules writes (the multiarch
# triplet in the C module search path).
lua_inc=$dir/lua-include
mkdir -p "$lua_inc"
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
printf '#define DEB_HOST_MULTIARCH "%s"\n' "$multiarch" >"$lua_inc/lua5.4-deb-multiarch.h.new"
cmp -s "$lua_inc/lua5.4-deb-multiarch.h.new" "$lua_inc/lua5.4-deb-multiarch.h" ||
    mv "$lua_inc/lua5.4-deb-multiarch.h.new" "$lua_inc/lua5.4-deb-multiarch.h"
rm -f "$lua_inc/lua5.4-deb-multiarch.h.new"

# 3. The tools: dyckcc, tools_id, clang_id.
# shellcheck source=eval/lib/build-tools.sh
. eval/lib/build-tools.sh
build_tools realworld "${SBX_BIN:-}" "$scratch"

# 4. The builds. Each is one compiler command over the program's sources (dyck-cc
# sees the whole program at once), timed with /usr/bin/time when it is there.
lua_flags="-Wall -DLUA_COMPAT_5_3 -DLUA_USE_LINUX"
sqlite_flags="-fno-strict-aliasing -DSQLITE_SECURE_DELETE -DSQLITE_ENABLE_COLUMN_METADATA
 -DSQLITE_ENABLE_FTS3 -DSQLITE_ENABLE_FTS3_PARENTHESIS -DSQLITE_ENABLE_RTREE=1 -DSQLITE_SOUNDEX=1
 -DSQLITE_ENABLE_UNLOCK_NOTIFY -DSQLITE_OMIT_LOOKASIDE=1 -DSQLITE_ENABLE_DBSTAT_VTAB
 -DSQLITE_ALLOW_ROWID_IN_VIEW -DSQLITE_ENABLE_UPDATE_DELETE_LIMIT=1 -DSQLITE_ENABLE_LOAD_EXTENSION
 -DSQLITE_ENABLE_JSON1 -DSQLITE_LIKE_DOESNT_MATCH_BLOBS -DSQLITE_THREADSAFE=1
 -DSQLITE_ENABLE_FTS3_TOKENIZER=1 -DSQLITE_USE_URI=1 -DSQLITE_MAX_SCHEMA_RETRY=25
 -DSQLITE_ENABLE_PREUPDATE_HOOK -DSQLITE_ENABLE_SESSION -DSQLITE_ENABLE_STMTVTAB
 -DSQLITE_MAX_VARIABLE_NUMBER=250000"
sources_of() {   # program: its compile arguments after the flags
    case $1 in
    lua)
        # shellcheck disable=SC2046
        echo $lua_flags -I"$lua_inc" $(find "$lua_src/src" -maxdepth 1 -name '*.c' ! -name luac.c | sort) -lm -ldl
        ;;
    sqlite3)
        echo $sqlite_flags -I"$amalg" "$amalg/shell.c" "$amalg/sqlite3.c" -lm -ldl -lpthread
        ;;
    esac
}
times=$dir/build-times.tsv
build_times_init "$times"
build() {   # variant program CC stamp-of-compiler
    local variant=$1 prog=$2 cc=$3 id=$4 out=$dir/$1/$2 args stamp t0 rc extra=()
    args=$(sources_of "$prog")
    [ "$variant" = dyckbuf ] && extra=(--dyck-buffer) && id="$id --dyck-buffer"
    stamp=$(printf '%s\n' "$id" "$cflags" "$args" | sha256sum | cut -c1-16)
    if [ -x "$out" ] && [ "$(cat "$out.built" 2>/dev/null)" = "$stamp" ]; then
        say "$variant/$prog: up to date"; return
    fi
    mkdir -p "$dir/$variant"
    rm -f "$out" "$out.dyck" "$out.built"
    say "$variant/$prog: $(basename "$cc") $cflags ... -o $out"
    t0=$SECONDS
    set +e
    # shellcheck disable=SC2086
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f '%e %M %U %S' -o "$out.time" "$cc" "${extra[@]}" $cflags $args -o "$out" >"$out.log" 2>&1
    else
        "$cc" "${extra[@]}" $cflags $args -o "$out" >"$out.log" 2>&1
    fi
    rc=$?
    set -e
    [ $rc = 0 ] || { say "$variant/$prog: build failed, see $out.log"; tail -20 "$out.log" >&2; exit 1; }
    local secs=$((SECONDS - t0)) peak=NA user=NA sys=0 cpu=NA
    [ -f "$out.time" ] && read -r secs peak user sys <"$out.time"
    [ "$user" = NA ] || cpu=$(echo "$user + $sys" | bc)
    build_times_row "$times" "$prog" "$variant" "$secs" "$peak" "$stamp" "$cpu"
    say "$variant/$prog: built in $secs s wall, $cpu s CPU (peak ${peak} kB)"
    echo "$stamp" >"$out.built"
}
# Two lanes when JOBS >= 2 (the default): the longest build (dyck-cc of SQLite's
# shell) alone in one, every other build in the other, so that the wall time is
# about the longest build's. Each build is one single-threaded compiler command.
lane_long=() lane_rest=()
for prog in $programs; do
    lane_rest+=("plain $prog")
    if [ "$prog" = sqlite3 ]; then lane_long+=("dyck $prog"); else lane_rest+=("dyck $prog"); fi
done
# RW_BUFFER=1: the dyckbuf builds last in the second lane (SQLite's after Lua's).
buffered=${RW_BUFFER:-0}
if [ "$buffered" = 1 ]; then
    for prog in $programs; do lane_rest+=("dyckbuf $prog"); done
fi
run_lane() {
    local item
    for item in "$@"; do
        set -- $item
        if [ "$1" = plain ]; then build plain "$2" clang-19 "$clang_id"; else build "$1" "$2" "$dyckcc" "dyck-cc $tools_id"; fi
    done
}
if [ "${JOBS:-2}" -ge 2 ] && [ ${#lane_long[@]} -gt 0 ]; then
    run_lane "${lane_long[@]}" &
    long_pid=$!
    rest_status=0
    run_lane "${lane_rest[@]}" || rest_status=$?
    wait "$long_pid" || { say "a build failed"; exit 1; }
    [ "$rest_status" = 0 ] || { say "a build failed"; exit 1; }
else
    run_lane "${lane_rest[@]}" "${lane_long[@]}"
fi
for prog in $programs; do
    [ -f "$dir/dyck/$prog.dyck" ] || { say "dyck-cc wrote no policy $dir/dyck/$prog.dyck"; exit 1; }
    [ "$buffered" != 1 ] || [ -f "$dir/dyckbuf/$prog.dyck" ] || { say "dyck-cc wrote no policy $dir/dyckbuf/$prog.dyck"; exit 1; }
done
{
    echo "lua:     $(basename "$lua_src") (Debian: $(cd "$dir/dl" && ls lua5.4_*.dsc | head -1))"
    echo "         cc $cflags $lua_flags src/*.c (not luac.c) -lm -ldl"
    echo "sqlite3: $sqlite_version (Debian: $(cd "$dir/dl" && ls sqlite3_*.dsc | head -1)), the shell"
    echo "         cc $cflags $(echo $sqlite_flags) shell.c sqlite3.c -lm -ldl -lpthread"
    echo "plain CC: clang-19: $clang_id"
    echo "dyck CC:  $dyckcc (sha256 $tools_id..., clang-19 underneath)"
    [ "$buffered" != 1 ] || echo "dyckbuf CC: the dyck CC with --dyck-buffer"
} >"$dir/build-config.txt"
say "fetch and build done in $((SECONDS - t_start)) s"
