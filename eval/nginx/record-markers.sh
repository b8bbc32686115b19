#!/usr/bin/env bash
# Where nginx's markers go, on the host (no module, no guest): the dyck-cc build of
# nginx runs twice under `sbx record` (ptrace: every marker of every process),
# once started and stopped with no request, once serving the load of the guest
# workload (ab, -k and not, on each file of the same site; REQUESTS each); the
# difference of the two, divided by the requests, is the markers per request, by
# kind and by marker (eval/mbedtls/marker-profile.py names them from the policy:
# libc symbol, call site as caller -> callee). Also checks each recording with
# `sbx check --trace` in dyck mode (the recorded run is in the policy's language;
# SBX_RECORD_CHECK_NFA=1 also in nfa mode, which flattens nginx's policy first:
# more than 12 minutes of CPU with a debug sbx on a loaded host).
# Serves on the host's loopback only (127.0.0.1:$NGX_PORT).
#
#   eval/nginx/record-markers.sh [REQUESTS]     # default 20
#
# Writes $NGINX_DIR/record/{idle,load}.trace, profile-*.txt and markers.txt (the
# table printed). Environment: NGINX_DIR, SBX_BIN (a directory with sbx; default
# .build/release when it has one, else .build/debug),
# NGX_PORT (default 18180), NGX_RECORD_NGINX (another dyck-cc build of nginx, with
# its .dyck beside it; default $NGINX_DIR/dyck/nginx), NGX_RECORD_OUT (default
# $NGINX_DIR/record).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
dir=${NGINX_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sbx-nginx}
n=${1:-20}
bin=${SBX_BIN:-$root/.build/debug}
[ -n "${SBX_BIN:-}" ] || [ ! -x "$root/.build/release/sbx" ] || bin=$root/.build/release
port=${NGX_PORT:-18180}
nginx=${NGX_RECORD_NGINX:-$dir/dyck/nginx}
[ -x "$nginx" ] && [ -f "$nginx.dyck" ] || { echo "no $nginx: make nginx first" >&2; exit 2; }
out=${NGX_RECORD_OUT:-$dir/record}
rm -rf "$out" && mkdir -p "$out/site"
gen() {   # as workload.sh
    { printf '%s\n' "$3"; seq -f 'line %06g of the static test site, served by nginx' 1 100000; } |
        head -c "$2" >"$out/site/$1" || true   # seq ends on SIGPIPE once head has its bytes
}
gen index.html 1024 '<!doctype html><title>sbx nginx test site</title>'
gen style.css 4096 '/* sbx nginx test site */'
gen page.html 16384 '<!doctype html><title>a 16 KB page</title>'
gen data.bin 65536 'binary-ish 64 KB'
files="index.html style.css page.html data.bin"
listening() {
    grep -q "^ *[0-9]*: 0100007F:$(printf '%04X' "$port") 00000000:0000 0A" /proc/net/tcp 2>/dev/null
}
record() {   # NAME REQUESTS
    local name=$1 reqs=$2 w=$out/$1 pid i f
    mkdir -p "$w"
    cat >"$w/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
error_log stderr notice;
pid $w/nginx.pid;
events { worker_connections 64; use epoll; }
http {
    types { text/html html; text/css css; }
    default_type application/octet-stream;
    access_log $w/access.log;
    client_body_temp_path $w/body;
    keepalive_requests 100000;
    server { listen 127.0.0.1:$port; root $out/site; }
}
CONF
    "$bin/sbx" record -o "$out/$name.trace" -- "$nginx" -p "$w" -c "$w/nginx.conf" -e stderr \
        </dev/null >"$w/out" 2>"$w/err" &
    pid=$!
    for i in $(seq 600); do listening && break; sleep 0.1; done
    listening || { echo "nginx does not listen (see $w/err)" >&2; kill "$pid"; exit 1; }
    if [ "$reqs" -gt 0 ]; then
        for f in $files; do
            ab -q -n "$reqs" -c 1 -k "http://127.0.0.1:$port/$f" >"$w/ab-$f-ka.txt" 2>&1
            ab -q -n "$reqs" -c 1 "http://127.0.0.1:$port/$f" >"$w/ab-$f-close.txt" 2>&1
            grep -q "^Complete requests: *$reqs\$" "$w/ab-$f-ka.txt" "$w/ab-$f-close.txt" ||
                { echo "ab did not complete $reqs requests of /$f" >&2; exit 1; }
        done
    fi
    # SIGTERM to nginx itself (the recorder's child), which exits 0.
    kill -TERM "$(cat "/proc/$pid/task/$pid/children" | cut -d' ' -f1)"
    wait "$pid" || { echo "sbx record ended with status $?" >&2; exit 1; }
    python3 eval/mbedtls/marker-profile.py "$nginx.dyck" "$out/$name.trace" 40 >"$out/profile-$name.txt"
    for mode in dyck ${SBX_RECORD_CHECK_NFA:+nfa}; do
        "$bin/sbx" check "$nginx.dyck" --trace "$out/$name.trace" --mode "$mode" >"$out/check-$name-$mode.txt" 2>&1 ||
            { echo "sbx check --mode $mode refuses $name.trace: $out/check-$name-$mode.txt" >&2; exit 1; }
    done
}
record idle 0
record load "$n"
requests=$((n * 8))
python3 - "$out/idle.trace" "$out/load.trace" "$nginx.dyck" "$requests" <<'PY' | tee "$out/markers.txt"
import collections, sys
idle, load, policy, requests = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
syms, sites = {}, {}
funcs = {}
for line in open(policy):
    w = line.split()
    if w and w[0] == "sym":
        syms[int(w[1])] = w[2]
    elif w and w[0] == "func":
        funcs[int(w[1])] = w[2]
    elif w and w[0] == "site":
        sites[int(w[1])] = (funcs.get(int(w[3]), w[3]), "indirect" if "indirect" in w else "direct")
def count(path):
    kinds, names = collections.Counter(), collections.Counter()
    for line in open(path):
        w = line.split()
        if len(w) == 5 and w[0] == "m":
            kind, ident = w[3], int(w[4])
            kinds[kind] += 1
            if kind == "libc":
                names["libc " + syms.get(ident, str(ident))] += 1
            elif kind in ("call", "ret", "tail"):
                caller, how = sites.get(ident, ("?", "?"))
                kinds[f"{kind} ({how} site)"] += 1
                names[f"site {ident} in {caller} ({how})"] += 1
            else:
                names[f"{kind} {ident}"] += 1
    return kinds, names
ki, ni = count(idle)
kl, nl = count(load)
total = sum(v for k, v in kl.items() if "(" not in k) - sum(v for k, v in ki.items() if "(" not in k)
print(f"nginx markers per request (dyck-cc build, sbx record on the host, {requests} requests "
      f"minus an idle start and stop): {total / requests:.1f}")
for k in sorted(set(kl) | set(ki)):
    d = kl[k] - ki[k]
    print(f"  {k:28} {d / requests:8.1f}")
print("top markers per request (a site's CALL and RET together):")
for name, _ in sorted(((k, nl[k] - ni[k]) for k in nl), key=lambda kv: -kv[1])[:15]:
    d = nl[name] - ni[name]
    print(f"  {d / requests:8.2f}  {name}")
PY
