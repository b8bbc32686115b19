# SPDX-License-Identifier: GPL-2.0
# The per-executable registry (SBX_IOC_INSTALL, _REMOVE,
# _LIST) and SBX_IOC_TASKS.
#
# Sourced by guest-tests.sh (in the guest) from the state of area_setup: the
# module not loaded, the example blobs in a fresh $W (guest-lib.sh).

module_load || return 0
D=$($CTL load "$W/dyck.blob")
N=$($CTL load "$W/nfa.blob")
cp "$MK" "$W/mkB"
$CTL read >/dev/null
cp "$MK" "$W/mk"
dev=$(stat -c %d "$W/mk"); ino=$(stat -c %i "$W/mk")
$CTL install "$D" --exe "$W/mk" >"$W/o" 2>&1; show "$W/o"
check "install: ok, reports the file's st_dev and st_ino" 'has "$W/o" "^install 0 policy $D dev $dev ino $ino$"'
$CTL status >"$W/st"
check "status counts the entry" 'has "$W/st" "installed 1$"'
"$W/mk" $VALID say:done >"$W/o" 2>&1; echo "rc $?" >>"$W/o"; show "$W/o"
check "installed: an allowed sequence exec'd from plain sh runs to completion" 'has "$W/o" "^done" && has "$W/o" "^rc 0"'
rm -f "$W/canary"
"$W/mk" 1:1 "touch:$W/canary" >"$W/o" 2>&1; echo "rc $?" >>"$W/o"; show "$W/o"
$CTL read >"$W/r"; show "$W/r"
check "installed: an out-of-order sequence is killed (canary not written)" 'has "$W/o" "^rc 137" && [ ! -e "$W/canary" ]'
check "installed: record of the entry's policy at the root" 'has "$W/r" "comm mk policy $D reason $R_NOT_ALLOWED action $KILL nr $MARKER_NR kind $K_LIBC id 1 tag 0 mstate 1 depth 1 flags $F_MARKER_KILLED stack 0$"'
rm -f "$W/go"
"$W/mk" $VALID "wait:$W/go" say:finished >"$W/obg" 2>&1 &
bg=$!
until_true 60 '$CTL tasks >"$W/t"; has "$W/t" "markers 12 "'
show "$W/t"
check "tasks: the enforced process with its pid, mode, markers and the installed flag" 'has "$W/t" "^tasks 1$" && has "$W/t" "^pid $bg tid $bg policy $D state enforced mode dyck action kill markers 12 violations 0 flags $TASK_F_INSTALLED comm mk$"'
$CTL list >"$W/l"; show "$W/l"
check "list: the entry, 1 process, 3 execs" 'has "$W/l" "^entries 1$" && has "$W/l" "^dev $dev ino $ino policy $D mode dyck action kill processes 1 execs 3 exec registry refused 0$"'
chmod 0666 /dev/sbx
setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" list >"$W/o" 2>&1; show "$W/o"
check "list is allowed to any opener" 'has "$W/o" "^entries 1$" && has "$W/o" "processes 1 execs 3 "'
setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" tasks >"$W/o" 2>&1; show "$W/o"
check "tasks is allowed to any opener" 'has "$W/o" "^tasks 1$" && has "$W/o" "^pid $bg "'
setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" status >"$W/o" 2>&1
check "status is allowed to any opener, and counts the entry" 'has "$W/o" "^abi $ABI_VERSION " && has "$W/o" "installed 1$"'
setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" install "$D" --exe "$W/mkB" >"$W/o" 2>&1; show "$W/o"
check "descriptor opened without CAP_SYS_ADMIN cannot install (EPERM)" 'has "$W/o" "^install 1 "'
setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" remove --exe "$W/mk" >"$W/o" 2>&1; show "$W/o"
check "descriptor opened without CAP_SYS_ADMIN cannot remove (EPERM)" 'has "$W/o" "^remove 1 "'
chmod 0600 /dev/sbx
touch "$W/go"
wait $bg; rc=$?
check "the installed process finished" '[ $rc -eq 0 ] && has "$W/obg" "^finished"'
$CTL run -p "$N" -m nfa -- "$MK" 1:1 exec "$W/mk" 1:1 "touch:$W/canary" >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"; show "$W/r"
check "an enforced process that execs an installed file takes the entry's policy" 'has "$W/o" "^signal 9" && [ ! -e "$W/canary" ] && has "$W/r" "comm mk policy $D reason $R_NOT_ALLOWED "'
$CTL run -p "$N" -m nfa -- "$W/mk" 2:0 2:2 1:1 3:3 1:2 say:nfa >"$W/o" 2>&1; show "$W/o"
check "an armed process keeps its arm when it execs an installed file" 'has "$W/o" "^nfa" && has "$W/o" "^exit 0"'
$CTL run -p "$D" -- "$MK" ioctl >"$W/o" 2>&1; show "$W/o"
check "enforced process cannot install or remove (EPERM), may list and see tasks" 'has "$W/o" "install 1 remove 1 list 0 tasks 0$"'
$CTL unload "$D" >"$W/o" 2>&1
check "a policy held by an entry cannot be unloaded (EBUSY)" 'has "$W/o" "^unload 16"'
$CTL install "$D" --exe "$W/mk" >"$W/o" 2>&1
check "install twice: EEXIST" 'has "$W/o" "^install 17 "'
$CTL install "$D" --exe "$W" >"$W/o" 2>&1
check "install of a directory: EINVAL" 'has "$W/o" "^install 22 "'
$CTL install "$D" --exe-fd 99 >"$W/o" 2>&1
check "install with a bad descriptor: EBADF" 'has "$W/o" "^install 9 "'
$CTL install 999999 --exe "$W/mkB" >"$W/o" 2>&1
check "install of an unknown policy: ENOENT" 'has "$W/o" "^install 2 "'
$CTL install "$N" --exe "$W/mkB" >"$W/o" 2>&1
check "install of an nfa blob in dyck mode: EINVAL" 'has "$W/o" "^install 22 "'
$CTL remove --exe "$W/mk" >"$W/o" 2>&1; show "$W/o"
check "remove: ok, names the policy" 'has "$W/o" "^remove 0 policy $D$"'
$CTL status >"$W/st"
check "status: no entry left" 'has "$W/st" "installed 0$"'
"$W/mk" 1:1 "touch:$W/canary" >"$W/o" 2>&1; echo "rc $?" >>"$W/o"
check "after remove the file runs unenforced (the out-of-order sequence completes)" 'has "$W/o" "^rc 0" && [ -e "$W/canary" ]'
rm -f "$W/canary"
$CTL remove --exe "$W/mk" >"$W/o" 2>&1
check "remove of a file that is not installed: ENOENT" 'has "$W/o" "^remove 2 "'
$CTL install "$D" -a log --exe "$W/mkB" >"$W/o" 2>&1
devB=$(stat -c %d "$W/mkB"); inoB=$(stat -c %i "$W/mkB")
rm -f "$W/mkB"
$CTL list >"$W/l"
$CTL remove --inode "$devB" "$inoB" >"$W/o" 2>&1; show "$W/o"
check "an entry of a deleted file is removed by dev and ino" 'has "$W/l" "^dev $devB ino $inoB policy $D mode dyck action log processes 0 execs 0 exec registry refused 0$" && has "$W/o" "^remove 0 policy $D$"'
$CTL read >"$W/r"
check "no violation left over from the registry tests" 'has "$W/r" "^records 0 "'
