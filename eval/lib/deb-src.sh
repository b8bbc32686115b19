# shellcheck shell=bash
# Sourced by the evaluations' fetch scripts (eval/mbedtls, eval/realworld): makes
# `apt-get source` work on a Debian 12 machine. Writes a deb-src line for bookworm
# once (and runs apt-get update only then), and installs the Debian packages named
# as TOOL:PACKAGE arguments when TOOL is not on PATH. Idempotent.
#
#   . eval/lib/deb-src.sh; deb_src_setup dpkg-source:dpkg-dev tclsh:tcl
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
deb_src_setup() {
    local src_list=/etc/apt/sources.list.d/sbx-deb-src.sources tool
    if ! grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src ' /etc/apt/sources.list; then
        printf '[deb-src] adding %s\n' "$src_list" >&2
        as_root tee "$src_list" >/dev/null <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
        as_root apt-get update -qq
    fi
    for tool in "$@"; do
        command -v "${tool%%:*}" >/dev/null || as_root apt-get install -y -qq "${tool#*:}" >&2
    done
}
# deb_source PACKAGE DIR: `apt-get source PACKAGE` into DIR (Debian's patches
# applied), unless DIR already has it; prints the unpacked tree's path. On a
# failure to fetch (stale package lists), updates them once and tries again.
deb_source() {
    local pkg=$1 dl=$2 tree
    mkdir -p "$dl"
    tree=$(find "$dl" -maxdepth 1 -mindepth 1 -type d -name "$pkg-*" | head -1)
    if [ -z "$tree" ]; then
        (cd "$dl" && apt-get source -qq "$pkg" >&2) ||
            { as_root apt-get update -qq && (cd "$dl" && apt-get source -qq "$pkg" >&2); } || return 1
        tree=$(find "$dl" -maxdepth 1 -mindepth 1 -type d -name "$pkg-*" | head -1)
    fi
    [ -n "$tree" ] && echo "$tree"
}
