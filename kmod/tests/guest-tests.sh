#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Tests of the sbx_dyck module. Runs INSIDE a guest (sbx vm), as root; never on
# the build machine. Prints KTAP-style lines; the exit status is the number of
# failures (at most 100).
#
#   sbx vm --module kmod/sbx_dyck.ko -- kmod/tests/guest-tests.sh [AREA...]
#
# The checks are grouped by area, one file each (kmod/tests/guest-AREA.sh), as
# the kernel's landlock selftests are grouped by fixture. Every area starts from
# the same state, whatever the areas before it did or failed to do: the module
# not loaded, no test program running, a fresh directory with the example blobs
# (area_setup, guest-lib.sh); it loads the module and the policies it uses
# itself, and area_cleanup undoes what it left. So an area runs alone
# (kmod/tests/vm-test.sh SBX AREA...) as it runs among the others.
set -u

here=$(cd "$(dirname "$0")" && pwd)
KO=${SBX_KO:-$here/../sbx_dyck.ko}
BIN=$(cd "${SBX_TEST_BIN:-$here/../../build/kmod-tests}" 2>/dev/null && pwd -P)
CTL=$BIN/sbxctl
MK=$BIN/sbx_markers

# In this order (the order of the former single script). Add a new area here.
AREAS="load kill log stack bound exe fork registry compat device nfa concurrency cost exec unload budget records
	never sj flag resync answer names comm buffer"

echo "KTAP version 1"
[ -x "$CTL" ] && [ -x "$MK" ] || { echo "Bail out! build the helpers: make -C kmod tests"; exit 100; }
. "$here/guest-lib.sh"
[ $# -gt 0 ] && for area in "$@"; do
	case " $(echo $AREAS) " in
	*" $area "*) ;;
	*) echo "Bail out! no area $area (areas: $(echo $AREAS))"; exit 100 ;;
	esac
done
# Watchdog: if the run hangs, dump blocked tasks and CPU backtraces to the
# kernel log (sbx vm --kernel-log FILE). The suite takes 5 to 9 minutes of a
# guest on two loaded cores (each area reloads the module): vm-test.sh gives it 15.
( sleep "${SBX_TEST_WATCHDOG:-840}"; echo 1 >/proc/sys/kernel/sysrq
  echo w >/proc/sysrq-trigger; echo l >/proc/sysrq-trigger; echo t >/proc/sysrq-trigger ) &
watchdog=$!
lsmod | grep -q '^sbx_dyck' || { echo "Bail out! sbx_dyck is not loaded"; exit 100; }
# The module sbx vm loaded: the first area loads its own.
W=$(mktemp -d /tmp/sbxk.XXXXXXXX) && AREA=boot && area_cleanup

[ $# -gt 0 ] && AREAS="$*"
for area in $AREAS; do
	echo "# area $area"
	start=$(date +%s)
	area_setup "$area"
	. "$here/guest-$area.sh"
	area_cleanup
	echo "# area $area: $(($(date +%s) - start)) s"
done

t=$(cat /proc/sys/kernel/tainted)
echo "# tainted $t"
check "no warning, oops or lockup taint (W, D, L)" '[ $((t & (512 | 128 | 16384))) -eq 0 ]'
dmesg 2>/dev/null | grep -E "sbx|WARNING|BUG|RCU" | tail -40 | sed 's/^/# dmesg: /'

kill $watchdog 2>/dev/null
echo "1..$n"
[ $fails -gt 100 ] && fails=100
exit $fails
