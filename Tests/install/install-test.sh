#!/usr/bin/env bash
# `make test-install`: what a host install produces, checked.
#  1. make install DESTDIR=<temporary> PREFIX=/usr: the three tools, their man pages and
#     bash/zsh/fish completions land where the FHS and the shells expect them;
#  2. the installed tools run with the Swift toolchain hidden (a private mount namespace
#     with an empty tmpfs over it), so they need nothing of it at run time;
#  3. DKMS builds the module from the installed source tree against Debian's 6.1 headers,
#     in a private DKMS tree (nothing is installed into /lib/modules);
#  4. a guest (sbx vm) loads the module DKMS built and `sbx status` talks to it.
# Never loads anything into this machine's kernel.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
work=$(mktemp -d /tmp/sbx-install.XXXXXXXX)
trap 'rm -rf "$work"' EXIT
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

dest=$work/dest
echo "test-install: make install DESTDIR=$dest PREFIX=/usr (a release build; some minutes)" >&2
if ! make -s install DESTDIR="$dest" PREFIX=/usr >"$work/install.log" 2>&1; then
    tail -n 30 "$work/install.log"
    bad "make install DESTDIR=... PREFIX=/usr"
    echo "# test-install: $pass passed, $fail failed"
    exit 1
fi
ok "make install DESTDIR=... PREFIX=/usr"
for t in dyck-gen dyck-cc sbx; do
    check "$t installed, executable" "[ -x '$dest/usr/bin/$t' ]"
    check "$t: man page $t.1 (mdoc, naming $t)" "grep -qi '^\.Dt $t 1' '$dest/usr/share/man/man1/$t.1'"
done
# dyck-cc takes clang's command line: no completion script of its own.
for t in dyck-gen sbx; do
    check "$t: bash completion" "grep -q '_$t\|complete' '$dest/usr/share/bash-completion/completions/$t'"
    check "$t: zsh completion" "head -n1 '$dest/usr/share/zsh/site-functions/_$t' | grep -q '^#compdef $t'"
    check "$t: fish completion" "grep -q \"^complete -c '$t'\" '$dest/usr/share/fish/vendor_completions.d/$t.fish'"
done
check "sbx subcommands have their own man pages (sbx.run.1, sbx.policy.install.1)" \
    "[ -s '$dest/usr/share/man/man1/sbx.run.1' ] && [ -s '$dest/usr/share/man/man1/sbx.policy.install.1' ]"

# sbx-policies.service (sbx policy load-all at boot) and the module's modules-load.d file.
unit=$dest/usr/lib/systemd/system/sbx-policies.service
check "sbx-policies.service installed under PREFIX/lib/systemd/system" "[ -s '$unit' ]"
check "its ExecStart runs the installed sbx: /usr/bin/sbx policy load-all" \
    "grep -qx 'ExecStart=/usr/bin/sbx policy load-all' '$unit'"
check "it is ordered after systemd-modules-load.service" "grep -qx 'After=systemd-modules-load.service' '$unit'"
if command -v systemd-analyze >/dev/null; then
    # verify checks that ExecStart's binary exists: point it into DESTDIR. It exits 0
    # on most mistakes and only prints them, so any output at all fails.
    mkdir -p "$work/unit" "$work/broken"
    sed "s|^ExecStart=/usr/bin/|ExecStart=$dest/usr/bin/|" "$unit" >"$work/unit/sbx-policies.service"
    check "systemd-analyze verify: sbx-policies.service is clean" \
        "systemd-analyze verify --man=no '$work/unit/sbx-policies.service' >'$work/verify.out' 2>&1 && [ ! -s '$work/verify.out' ]"
    [ -s "$work/verify.out" ] && cat "$work/verify.out"
    sed 's/^Type=oneshot/Type=oneshoot/' "$work/unit/sbx-policies.service" >"$work/broken/sbx-policies.service"
    check "control: systemd-analyze verify reports a broken copy of it" \
        "systemd-analyze verify --man=no '$work/broken/sbx-policies.service' 2>&1 | grep -q oneshoot"
else
    bad "systemd-analyze is not installed (apt-get install systemd)"
fi
make -s install-modules-load DESTDIR="$dest" PREFIX=/usr >/dev/null
check "make install-modules-load (part of dkms-install): PREFIX/lib/modules-load.d/sbx_dyck.conf names sbx_dyck" \
    "grep -qx sbx_dyck '$dest/usr/lib/modules-load.d/sbx_dyck.conf'"

# The version and the commit the installed tools were built from.
head=$(git rev-parse --short=12 HEAD)
kversion=$(make -s --no-print-directory -C kmod dkms-version)
version_is() {  # TOOL OPTION: prints "TOOL VERSION (commit HEAD[-dirty])"
    "$dest/usr/bin/$1" "$2" | grep -Eqx "$1 $kversion \(commit $head(-dirty)?\)"
}
check "installed sbx --version names kmod/dkms.conf's version ($kversion) and the commit $head" "version_is sbx --version"
check "installed dyck-gen --version: the same" "version_is dyck-gen --version"
check "installed dyck-cc --dyck-version: the same" "version_is dyck-cc --dyck-version"

# The toolchain this machine built with: hide its whole tree.
toolchain=$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")
echo "test-install: hiding the Swift toolchain at $toolchain" >&2
hidden() { unshare -m sh -c "mount -t tmpfs none '$toolchain' && $1"; }
check "the toolchain is really hidden in the namespace (swift does not run there)" \
    "! hidden 'swift --version' >/dev/null 2>&1"
check "the build's own debug sbx needs the toolchain (control: hiding it matters)" \
    "! hidden '$root/.build/debug/sbx --help' >/dev/null 2>&1"
for t in dyck-gen dyck-cc sbx; do
    check "installed $t --help runs without the toolchain" \
        "hidden '$dest/usr/bin/$t --help' >'$work/$t.help' 2>&1 && grep -q USAGE '$work/$t.help'"
done
check "installed sbx blob works without the toolchain (a real policy -> blob)" \
    "printf 'int main(void){return 0;}\n' >'$work/p.c' && clang-19 -S -emit-llvm -O0 -o '$work/p.ll' '$work/p.c' && \
     hidden '$dest/usr/bin/dyck-gen $work/p.ll -o $work && $dest/usr/bin/sbx blob $work/p.dyck -o $work/p.blob' >'$work/blob.log' 2>&1 && [ -s '$work/p.blob' ]"

# DKMS, in a private tree.
hdr=$(ls -d /usr/src/linux-headers-6.1.*-amd64 2>/dev/null | sort -V | tail -n 1)
kver=${hdr#/usr/src/linux-headers-}
name=$(make -s --no-print-directory -C kmod dkms-name)
version=$(make -s --no-print-directory -C kmod dkms-version)
src=$work/src tree=$work/dkms
mkdir -p "$src" "$tree"
# Under a parent make, a sub-make's "Entering directory" lines once ended up in these.
[[ "$name" =~ ^[a-z0-9-]+$ && "$version" =~ ^[0-9.]+$ ]] || bad "kmod/dkms.conf's name and version read back ('$name', '$version')"
make -s --no-print-directory -C kmod dkms-source DKMS_SRC="$src/$name-$version" >/dev/null
echo "test-install: dkms build $name $version for $kver" >&2
dk() { dkms "$@" -m "$name" -v "$version" --dkmstree "$tree" --sourcetree "$src"; }
if dk add >"$work/dkms.log" 2>&1 &&
    dk build -k "$kver" --kernelsourcedir "$hdr" >>"$work/dkms.log" 2>&1; then
    ok "dkms build of $name $version against $kver"
else
    tail -n 30 "$work/dkms.log"
    bad "dkms build of $name $version against $kver"
fi
ko=$(find "$tree/$name/$version/$kver" -name 'sbx_dyck.ko*' 2>/dev/null | head -n 1)
check "DKMS produced sbx_dyck.ko ($ko)" "[ -n '$ko' ] && [ -s '$ko' ]"
if [ -n "$ko" ]; then
    "$root/.build/debug/sbx" vm --timeout 300 --module "$ko" -- "$root/.build/debug/sbx" status \
        >"$work/vm.out" 2>"$work/vm.err"
    st=$?
    check "a guest loads the DKMS-built module and sbx status reads it (status $st)" \
        "[ $st = 0 ] && grep -q 'ABI version' '$work/vm.out'"
    [ $st = 0 ] || { cat "$work/vm.out"; tail -n 20 "$work/vm.err"; }
fi
echo "# test-install: $pass passed, $fail failed"
[ $fail = 0 ]
