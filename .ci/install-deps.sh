#!/usr/bin/env bash
# Installs the Debian packages the project needs. Idempotent: does nothing when
# everything is present, so `make test` can call it every time.
set -euo pipefail

packages=(llvm-19-dev clang-19 llvm-19 clang-format-19 libelf-dev graphviz time python3 make cmake qemu-system-x86 busybox-static linux-headers-amd64 cpio kmod xz-utils libcapstone-dev strace dkms libseccomp-dev "$@")

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then SUDO=sudo; else
        echo "install-deps: need root to install: ${missing[*]}" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
