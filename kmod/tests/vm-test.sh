#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Host side: build the module and the helpers, then run guest-tests.sh in a
# QEMU guest with `sbx vm` (never loads anything into the host's kernel).
#   kmod/tests/vm-test.sh [SBX_BINARY [AREA...]]
# AREA: run only these areas of the suite (kmod/tests/guest-AREA.sh), e.g.
#   kmod/tests/vm-test.sh .build/debug/sbx records
# Environment: SBX_VM_CPUS (default 2), SBX_VM_KLOG (kernel log file).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
sbx=${1:-$root/.build/debug/sbx}
[ $# -gt 0 ] && shift
make -C "$root/kmod" >/dev/null
make -C "$here" >/dev/null
cd "$root"
exec "$sbx" vm --cpus "${SBX_VM_CPUS:-2}" --timeout 900 \
	${SBX_VM_KLOG:+--kernel-log "$SBX_VM_KLOG"} \
	--module "$root/kmod/sbx_dyck.ko" -- "$here/guest-tests.sh" "$@"
