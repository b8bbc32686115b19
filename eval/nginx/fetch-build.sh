#!/usr/bin/env bash
# Fetch nginx 1.22 from Debian's sources (`apt-get source nginx`) and build it twice,
# at the same flags, with a minimal set of modules (static files over HTTP only):
#   $NGINX_DIR/plain/nginx   clang-19 (the baseline)
#   $NGINX_DIR/dyck/nginx    dyck-cc (whole program at the link; nginx.dyck beside it)
# Each build is nginx's own ./configure and make, in its own copy of the source
# (configure writes into the tree), with --with-cc=clang-19 or --with-cc=dyck-cc:
# dyck-cc compiles each file as clang-19 -c does and analyses the whole program
# when make links objs/nginx.
# Also installs what the guest workload runs from the host's file system: ab
# (apache2-utils) and curl.
# Idempotent: the deb-src line, the source and each finished build are reused; a
# build is redone when its compiler (by content) or its flags change. Build times
# (wall and CPU seconds, peak memory of the slowest command) go to build-times.tsv.
#
# Environment:
#   NGINX_DIR  where everything goes (default ~/.cache/sbx-nginx: outside the
#              repository, kept across clones; nothing of nginx is committed)
#   SBX_BIN    a directory with prebuilt dyck-cc and sbx (no swift build);
#              otherwise `swift build --scratch-path $SCRATCH`
#   SCRATCH    swift scratch path (default .build)
#   CFLAGS     (default -O2 -g)
#   JOBS       make -j (default 2)
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${NGINX_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sbx-nginx}
scratch=${SCRATCH:-.build}
cflags=${CFLAGS:--O2 -g}
jobs=${JOBS:-2}
say() { printf '[nginx] %s\n' "$*" >&2; }
t_start=$SECONDS

# 1. deb-src, and what the builds and the guest workload need.
# shellcheck source=eval/lib/deb-src.sh
. eval/lib/deb-src.sh
deb_src_setup dpkg-source:dpkg-dev clang-19:clang-19 ab:apache2-utils curl:curl size:binutils

# 2. The source (Debian's patches applied), in $dir.
mkdir -p "$dir"
src=$(deb_source nginx "$dir/dl") || { say "apt-get source nginx failed"; exit 2; }
grep -qE '#define NGINX_VERSION +"1\.22\.' "$src/src/core/nginx.h" || { say "not nginx 1.22: $src"; exit 2; }
version=$(sed -nE 's/#define NGINX_VERSION +"([^"]+)"/\1/p' "$src/src/core/nginx.h")

# 3. The tools: dyckcc, tools_id, clang_id.
# shellcheck source=eval/lib/build-tools.sh
. eval/lib/build-tools.sh
build_tools nginx "${SBX_BIN:-}" "$scratch"

# 4. The configuration: HTTP and static files only. No PCRE (no rewrite module, no
# regex locations), no SSL, no zlib (no gzip), no upstream/proxy modules, epoll
# only; every path nginx would use by default points to /nonexistent, so a run
# must name its prefix (-p), configuration (-c) and error log (-e).
configure_flags="--prefix=/nonexistent --conf-path=/nonexistent/nginx.conf --error-log-path=stderr
 --http-log-path=/dev/null --pid-path=/nonexistent/nginx.pid --lock-path=/nonexistent/nginx.lock
 --http-client-body-temp-path=/nonexistent/body --without-select_module --without-poll_module
 --without-pcre --without-http-cache --without-http_charset_module --without-http_gzip_module
 --without-http_ssi_module --without-http_userid_module --without-http_access_module
 --without-http_auth_basic_module --without-http_mirror_module --without-http_autoindex_module
 --without-http_geo_module --without-http_map_module --without-http_split_clients_module
 --without-http_referer_module --without-http_rewrite_module --without-http_proxy_module
 --without-http_fastcgi_module --without-http_uwsgi_module --without-http_scgi_module
 --without-http_grpc_module --without-http_memcached_module --without-http_limit_conn_module
 --without-http_limit_req_module --without-http_empty_gif_module --without-http_browser_module
 --without-http_upstream_hash_module --without-http_upstream_ip_hash_module
 --without-http_upstream_least_conn_module --without-http_upstream_random_module
 --without-http_upstream_keepalive_module --without-http_upstream_zone_module"

times=$dir/build-times.tsv
build_times_init "$times"
build() {   # variant CC stamp-of-compiler
    local variant=$1 cc=$2 id=$3 out=$dir/$1 tree=$dir/$1-src stamp t0 rc
    stamp=$(printf '%s\n' "$id" "$cflags" "$configure_flags" "$version" | sha256sum | cut -c1-16)
    if [ -x "$out/nginx" ] && [ "$(cat "$out/nginx.built" 2>/dev/null)" = "$stamp" ]; then
        say "$variant/nginx: up to date"; return
    fi
    rm -rf "$tree" "$out" && mkdir -p "$out"
    cp -a "$src" "$tree"
    say "$variant/nginx: configure --with-cc=$(basename "$cc") --with-cc-opt='$cflags'; make -j$jobs"
    t0=$SECONDS
    set +e
    # shellcheck disable=SC2086
    (cd "$tree" && ./configure --with-cc="$cc" --with-cc-opt="$cflags" $configure_flags >configure.log 2>&1)
    rc=$?
    [ $rc = 0 ] || { set -e; say "$variant/nginx: configure failed, see $tree/configure.log"; tail -20 "$tree/configure.log" >&2; exit 1; }
    if [ -x /usr/bin/time ]; then
        (cd "$tree" && /usr/bin/time -f '%e %M %U %S' -o "$out/make.time" make -j"$jobs" >make.log 2>&1)
    else
        (cd "$tree" && make -j"$jobs" >make.log 2>&1)
    fi
    rc=$?
    set -e
    [ $rc = 0 ] || { say "$variant/nginx: make failed, see $tree/make.log"; tail -20 "$tree/make.log" >&2; exit 1; }
    cp "$tree/objs/nginx" "$out/nginx"
    if [ "$variant" = dyck ]; then
        [ -f "$tree/objs/nginx.dyck" ] || { say "dyck-cc wrote no policy $tree/objs/nginx.dyck"; exit 1; }
        cp "$tree/objs/nginx.dyck" "$out/nginx.dyck"
    fi
    local secs=$((SECONDS - t0)) peak=NA user=NA sys=0 cpu=NA
    [ -f "$out/make.time" ] && read -r _ peak user sys <"$out/make.time"
    [ "$user" = NA ] || cpu=$(echo "$user + $sys" | bc)
    build_times_row "$times" nginx "$variant" "$secs" "$peak" "$stamp" "$cpu"
    say "$variant/nginx: built in $secs s wall (configure and make), $cpu s CPU (make)"
    echo "$stamp" >"$out/nginx.built"
}
build plain clang-19 "$clang_id"
build dyck "$dyckcc" "dyck-cc $tools_id"
{
    echo "nginx:    $version (Debian: $(cd "$dir/dl" && ls nginx_*.dsc | head -1))"
    echo "          ./configure --with-cc=CC --with-cc-opt='$cflags' $(echo $configure_flags)"
    echo "plain CC: clang-19: $clang_id"
    echo "dyck CC:  dyck-cc (sha256 $tools_id..., clang-19 underneath)"
} >"$dir/build-config.txt"
say "fetch and build done in $((SECONDS - t_start)) s"
