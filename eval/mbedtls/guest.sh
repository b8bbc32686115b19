#!/usr/bin/env bash
# Inside a `sbx vm` guest (never on the build machine): brings up the loopback
# interface, checks the sandbox module, and runs workload.sh with the arguments
# given. Written for bench.sh; the environment (SBX_RUN, MBT_TIME, MBT_SBXCTL, ...)
# comes from it through `sbx vm --env`.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ "${SBX_VM:-}" = 1 ] || { echo "guest.sh: not in a sbx vm guest" >&2; exit 2; }
ip link set lo up || { echo "guest.sh: cannot bring up lo" >&2; exit 2; }
if [ -n "${MBT_SBXCTL:-}" ]; then
    [ -e /dev/sbx ] || { echo "guest.sh: no /dev/sbx: the module is not loaded" >&2; exit 2; }
    echo "[mbedtls] guest: $(uname -r), $(nproc) cpu(s), module: $("$MBT_SBXCTL" status 2>&1)" >&2
fi
t0=$(date +%s)
bash "$here/workload.sh" "$@"
status=$?
[ -n "${MBT_SBXCTL:-}" ] && echo "[mbedtls] guest: module at the end: $("$MBT_SBXCTL" status 2>&1)" >&2
echo "[mbedtls] guest: workload took $(( $(date +%s) - t0 )) s" >&2
exit $status
