#!/usr/bin/env bash
# The nginx workload, run inside a `sbx vm` guest by bench.sh (never on the build
# machine: it brings up the guest's loopback and serves on it). For each server
# configuration and each mode in turn:
#   plain  the clang-19 build, no sandbox
#   nfa    the dyck-cc build under  $SBX_RUN --mode=nfa  --json-report F --
#   dyck   the dyck-cc build under  $SBX_RUN --mode=dyck --json-report F --
#   native the dyck-cc build without a runner: its markers fail with ENOSYS (the
#          module does not see a process it does not enforce), so this is the cost
#          of the instrumented program and its bare markers, without the monitor
# it starts nginx in the foreground on 127.0.0.1:$PORT, fetches every file of the
# site and two error cases with curl (bodies and status lines kept for report.py),
# then runs the load: `ab -n N -c 1` per file, with keep-alive (-k) and without (a
# new connection per request), and stops nginx with SIGTERM.
#
#   workload.sh -o OUT [-m 'plain native nfa dyck'] [-c 'single master'] [-n N]
#
# Configurations: single (`master_process off`: one process accepts and serves) and
# master (a master forks one worker, which serves: the sandbox follows the fork).
#
# Per configuration and mode, OUT/CONF-MODE/ holds: server.{out,err,status,time}
# (mbt-time: wall user sys status of the whole server), server.json (the runner's
# report), server.records (violation records the module still held, if any),
# serving.pid, sched.{before,after} (the serving process's /proc/PID/schedstat
# around the load: its own CPU nanoseconds, instructions under `sbx vm --icount`),
# markers.{before,after} (its threads' marker counters from `sbx status --json`
# around the load, sandboxed modes), ab-FILE-{ka,close}.txt (ab's output),
# get-NAME.{head,body} (curl), access.log (nginx's, one line per request served).
#
# Environment: NGX_PLAIN, NGX_DYCK (the two builds' directories: nginx in each),
# SBX_RUN (the runner, words), SBX_STATUS (words: `sbx status`), NGX_TIME (mbt-time),
# NGX_SBXCTL (optional: a /dev/sbx client whose `read` prints violation records),
# NGX_WORK (where the site and nginx's files go; default /dev/shm/nginx-work),
# NGX_PORT (default 18080).
set -uo pipefail
out= modes=plain confs=single n=20
while getopts o:m:c:n: opt; do
    case $opt in
    o) out=$OPTARG ;;
    m) modes=$OPTARG ;;
    c) confs=$OPTARG ;;
    n) n=$OPTARG ;;
    *) exit 2 ;;
    esac
done
[ -n "$out" ] || { echo "usage: $0 -o OUT [-m MODES] [-c CONFS] [-n N]" >&2; exit 2; }
[ "${SBX_VM:-}" = 1 ] || { echo "workload.sh: not in a sbx vm guest" >&2; exit 2; }
ip link set lo up || { echo "workload.sh: cannot bring up lo" >&2; exit 2; }
mkdir -p "$out" && out=$(cd "$out" && pwd)
read -r -a sbx_run <<<"${SBX_RUN:-sbx run}"
read -r -a sbx_status <<<"${SBX_STATUS:-sbx status}"
timer=${NGX_TIME:-mbt-time}
ctl=${NGX_SBXCTL:-}
work=${NGX_WORK:-/dev/shm/nginx-work}
port=${NGX_PORT:-18080}
say() { printf '[nginx] %s\n' "$*" >&2; }

# The site: four files from 1 KB to 64 KB, the same bytes at every boot (report.py
# checks every body served against these files, copied into OUT/site).
site=$work/site
rm -rf "$work" && mkdir -p "$site"
gen() {   # FILE BYTES HEADER: HEADER, then numbered lines, cut to BYTES
    { printf '%s\n' "$3"; seq -f 'line %06g of the static test site, served by nginx' 1 100000; } |
        head -c "$2" >"$site/$1" || true   # seq ends on SIGPIPE once head has its bytes
}
gen index.html 1024 '<!doctype html><title>sbx nginx test site</title>'
gen style.css 4096 '/* sbx nginx test site */'
gen page.html 16384 '<!doctype html><title>a 16 KB page</title>'
gen data.bin 65536 'binary-ish 64 KB'
files="index.html style.css page.html data.bin"
rm -rf "$out/site" && cp -a "$site" "$out/site"

# The serving process: below mbt-time and the runner (the leaf); in the master
# configuration, the master's one child (the worker).
leaf_pid() {
    local pid=$1 kids
    while kids=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null) && [ -n "$kids" ]; do
        case $(cat "/proc/$pid/comm" 2>/dev/null) in
        mbt-time | sbx) pid=${kids%% *} ;;
        *) break ;;
        esac
    done
    echo "$pid"
}
listening() {   # the port in LISTEN state (0A) in /proc/net/tcp
    local hex
    hex=$(printf '%04X' "$port")
    grep -q "^ *[0-9]*: 0100007F:$hex 00000000:0000 0A" /proc/net/tcp 2>/dev/null
}
markers_of() {   # PID: the sum of its threads' marker counters (sbx status --json)
    "${sbx_status[@]}" --json 2>/dev/null | python3 -c '
import json, sys
pid = int(sys.argv[1])
d = json.load(sys.stdin)
print(sum(t.get("markers", 0) for t in d.get("threads", []) if t.get("pid") == pid))' "$1"
}

failures=0
for conf in $confs; do
    case $conf in
    single) master=off ;;
    master) master=on ;;
    *) say "unknown configuration $conf"; exit 2 ;;
    esac
    for m in $modes; do
        dest=$out/$conf-$m
        rm -rf "$dest" && mkdir -p "$dest"
        case $m in
        plain) build=${NGX_PLAIN:?}; prefix=() ;;
        native) build=${NGX_DYCK:?}; prefix=() ;;   # the markers alone: ENOSYS, no monitor
        nfa | dyck) build=${NGX_DYCK:?}; prefix=("${sbx_run[@]}" --mode="$m" --json-report "$dest/server.json" --) ;;
        *) say "unknown mode $m"; exit 2 ;;
        esac
        nwork=$work/run-$conf-$m
        rm -rf "$nwork" && mkdir -p "$nwork"
        cat >"$nwork/nginx.conf" <<CONF
daemon off;
master_process $master;
worker_processes 1;
error_log stderr notice;
pid $nwork/nginx.pid;
events {
    worker_connections 64;
    use epoll;
}
http {
    types {
        text/html html;
        text/css css;
    }
    default_type application/octet-stream;
    access_log $nwork/access.log;
    client_body_temp_path $nwork/body;
    keepalive_requests 100000;
    server {
        listen 127.0.0.1:$port;
        root $site;
    }
}
CONF
        cat "$build/nginx" >/dev/null   # into the page cache: not read over 9p while measured
        "$timer" "$dest/server.time" -- "${prefix[@]}" "$build/nginx" -p "$nwork" -c "$nwork/nginx.conf" -e stderr \
            </dev/null >"$dest/server.out" 2>"$dest/server.err" &
        top=$!
        i=0
        until listening; do
            i=$((i + 1))
            if [ $i -gt 600 ] || ! kill -0 "$top" 2>/dev/null; then break; fi
            sleep 0.1
        done
        if ! listening; then
            say "FAIL $conf-$m: nginx does not listen on 127.0.0.1:$port"
            failures=$((failures + 1))
            kill -TERM "$(leaf_pid "$top")" 2>/dev/null
            wait "$top"
            continue
        fi
        server=$(leaf_pid "$top")
        serving=$server
        if [ "$master" = on ]; then
            # The worker: the master's child, once it is there.
            for i in $(seq 300); do
                kids=$(cat "/proc/$server/task/$server/children" 2>/dev/null)
                [ -n "$kids" ] && break
                sleep 0.1
            done
            serving=${kids%% *}
        fi
        echo "$server $serving" >"$dest/serving.pid"
        # The responses: every file, a missing one (404) and a HEAD.
        for f in $files; do
            curl -s -D "$dest/get-$f.head" -o "$dest/get-$f.body" "http://127.0.0.1:$port/$f"
        done
        curl -s -D "$dest/get-missing.head" -o "$dest/get-missing.body" "http://127.0.0.1:$port/no-such-file"
        curl -s -I -o "$dest/get-head.head" "http://127.0.0.1:$port/index.html"
        # The load, measured on the serving process only.
        cat "/proc/$serving/schedstat" >"$dest/sched.before"
        [ "$m" = plain ] || [ "$m" = native ] || markers_of "$serving" >"$dest/markers.before"
        for f in $files; do
            ab -n "$n" -c 1 -k "http://127.0.0.1:$port/$f" >"$dest/ab-$f-ka.txt" 2>&1
            ab -n "$n" -c 1 "http://127.0.0.1:$port/$f" >"$dest/ab-$f-close.txt" 2>&1
        done
        cat "/proc/$serving/schedstat" >"$dest/sched.after"
        [ "$m" = plain ] || [ "$m" = native ] || markers_of "$serving" >"$dest/markers.after"
        kill -TERM "$server"
        wait "$top"
        read -r wall user sys status <"$dest/server.time" || status=255
        echo "$status" >"$dest/server.status"
        cp "$nwork/access.log" "$dest/access.log" 2>/dev/null
        if [ -n "$ctl" ] && [ "$m" != plain ] && [ "$m" != native ]; then
            "$ctl" read 2>&1 | grep -v '^records 0 ' >"$dest/server.records"
            [ -s "$dest/server.records" ] || rm -f "$dest/server.records"
        fi
        verdict=ok
        if [ "$status" != 0 ] || [ -f "$dest/server.records" ]; then verdict=FAIL; failures=$((failures + 1)); fi
        printf '%-4s %-6s %-5s status=%s server cpu %.2fs wall %.2fs\n' "$verdict" "$conf" "$m" "$status" \
            "$(echo "$user + $sys" | bc)" "$wall"
    done
done
rm -rf "$work"
say "workload: $failures run(s) with an unexpected status or violation records"
[ "$failures" = 0 ]
