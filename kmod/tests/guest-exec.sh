# SPDX-License-Identifier: GPL-2.0
# Exec transitions and the registry's content binding (specs/kernel-abi.md,
# "Exec transitions", "Content binding"). Sourced by guest-tests.sh (in the
# guest) from the state of area_setup (guest-lib.sh): loads the module with its
# defaults and the policies $D (dyck) and $N (nfa), both unbound (no
# system-call windows, so any exec reaches the transition).
#
# Each refusal is paired with its control: the same exec under
# --exec unconfined (or natively), where the canary appears.

module_load || return 0
D=$($CTL load "$W/dyck.blob")
N=$($CTL load "$W/nfa.blob")

# --- exec transitions -----------------------------------------------------------------
cp "$MK" "$W/xa"	# installed with $D below
cp "$MK" "$W/xb"	# never installed
$CTL read >/dev/null
rm -f "$W/canary"
$CTL run -p "$D" --exec unconfined -- "$MK" 2:0 2:2 1:1 exec "$W/xb" "touch:$W/canary" say:ran >"$W/o" 2>&1; show "$W/o"
check "exec control (--exec unconfined): the unregistered program runs, canary written" 'has "$W/o" "^ran" && has "$W/o" "^exit 0" && [ -e "$W/canary" ]'
$CTL read >"$W/r"
check "exec control: an unconfined exec is no violation" 'has "$W/r" "^records 0 "'
rm -f "$W/canary"
$CTL run -p "$D" -- "$MK" 2:0 2:2 1:1 exec "$W/xb" "touch:$W/canary" say:ran >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"; show "$W/r"
check "exec registry (default): an unregistered program is killed before it runs (no canary)" 'has "$W/o" "^signal 9" && hasnt "$W/o" "^ran" && [ ! -e "$W/canary" ]'
check "record: reason 25, execve (59), the window (libc 1) and frame that execed, killed, the path" 'has "$W/r" "comm xb policy $D reason $R_EXEC_DENIED action $KILL nr 59 kind 0 id 1 tag 0x40000002 mstate [0-9]* depth 3 flags $F_KILLED path $W/xb$"'
$CTL install "$D" --exe "$W/xa" >"$W/o" 2>&1; show "$W/o"
check "install the registered program" 'has "$W/o" "^install 0 "'
$CTL run -p "$N" -m nfa -- "$MK" exec "$W/xa" $VALID say:done >"$W/o" 2>&1; show "$W/o"
$CTL list >"$W/l"; show "$W/l"
check "exec registry: an installed program runs under its own policy (allowed sequence, exec counted)" 'has "$W/o" "^done" && has "$W/o" "^exit 0" && has "$W/l" "policy $D mode dyck action kill processes 0 execs 1 exec registry refused 0$"'
rm -f "$W/canary"
$CTL run -p "$N" -m nfa -- "$MK" exec "$W/xa" 1:1 "touch:$W/canary" >"$W/o" 2>&1
$CTL read >"$W/r"
check "exec registry: ... and is killed by its own policy, not the caller's" 'has "$W/o" "^signal 9" && [ ! -e "$W/canary" ] && has "$W/r" "comm xa policy $D reason $R_NOT_ALLOWED "'
$CTL run -p "$N" -m nfa --exec deny -- "$MK" exec "$W/xa" $VALID say:done >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"; show "$W/r"
check "exec deny: even an installed program is refused (killed, reason 25, policy of the caller)" 'has "$W/o" "^signal 9" && hasnt "$W/o" "^done" && has "$W/r" "comm xa policy $N reason $R_EXEC_DENIED action $KILL nr 59 .* path $W/xa$"'
$CTL run -p "$N" -m nfa --exec unconfined -- "$MK" exec "$W/xb" exec "$W/xa" 1:1 "touch:$W/canary" >"$W/o" 2>&1
$CTL read >"$W/r"
check "exec unconfined, then an installed program: enforced again under its policy" 'has "$W/o" "^signal 9" && [ ! -e "$W/canary" ] && has "$W/r" "comm xa policy $D reason $R_NOT_ALLOWED "'
$CTL run -p "$D" -- "$MK" exec /nonexistent/sbx-none say:after >"$W/o" 2>&1; show "$W/o"
printf 'not a program\n' >"$W/noexec"; chmod 644 "$W/noexec"
$CTL run -p "$D" -- "$MK" exec "$W/noexec" say:after2 >>"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"
check "a failed exec (ENOENT, EACCES) stays what it is: an error, no violation" 'has "$W/o" "No such file" && has "$W/o" "Permission denied" && has "$W/o" "^exit 70" && hasnt "$W/o" "^signal" && has "$W/r" "^records 0 "'
rm -f "$W/canary"
$CTL run -p "$D" -a log -- "$MK" exec "$W/xb" "touch:$W/canary" ioctl >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"; show "$W/r"
check "exec registry, log mode: recorded (not killed), the image runs unconfined" 'has "$W/o" "^exit 0" && [ -e "$W/canary" ] && has "$W/r" "reason $R_EXEC_DENIED action $LOG nr 59 .* flags 0 path $W/xb$"'
check "exec registry, log mode: the unconfined image is not privileged" 'has "$W/o" "^ioctl open 0 load 1 arm 1 unload 1 install 1 remove 1 "'

# --- unconfined images are never privileged ------------------------------------------------
"$W/xb" ioctl >"$W/o" 2>&1; show "$W/o"
check "control: natively, the program may use /dev/sbx (LOAD reaches the validator: EINVAL)" 'has "$W/o" "^ioctl open 0 load 22 "'
$CTL run -p "$D" --exec unconfined -- "$MK" exec "$W/xb" fork exec "$W/xb" ioctl >"$W/o" 2>&1; show "$W/o"
check "exec unconfined: the image, its child and the child's exec are refused LOAD, ARM, UNLOAD, INSTALL, REMOVE" '[ "$(grep -c "^ioctl open 0 load 1 arm 1 unload 1 install 1 remove 1 list 0 tasks 0" "$W/o")" = 2 ] && has "$W/o" "^child exit 0"'
rm -f "$W/go"
$CTL run -p "$D" --exec unconfined -- "$MK" exec "$W/xb" "wait:$W/go" >"$W/o" 2>&1 &
bg=$!
until_true 60 '$CTL status >"$W/st"; has "$W/st" "unconfined 1 "'
$CTL tasks >"$W/t"; show "$W/st"; show "$W/t"
check "status and tasks show the unconfined process (no policy)" 'has "$W/st" "enforced 0 armed 0 unconfined 1 " && has "$W/t" "^pid [0-9]* tid [0-9]* policy 0 state unconfined mode ? action ? markers 0 violations 0 flags 0 comm xb$"'
touch "$W/go"
wait $bg
$CTL status >"$W/st"
check "the unconfined state is released at exit" 'has "$W/st" "unconfined 0 "'
$CTL run -p "$D" --exec 3 -- "$MK" >"$W/o" 2>&1
check "arm with an unknown exec transition: EINVAL" 'has "$W/o" "arm: Invalid argument"'

# --- the transition of an installed program (install --exec) ----------------------------
rm -f "$W/canary"
"$W/xa" $VALID exec "$W/xb" "touch:$W/canary" >"$W/o" 2>&1; echo "rc $?" >>"$W/o"; show "$W/o"
$CTL read >"$W/r"; show "$W/r"
check "installed (exec registry): its exec of an unregistered program is killed, no canary" 'has "$W/o" "^rc 137" && [ ! -e "$W/canary" ] && has "$W/r" "comm xb policy $D reason $R_EXEC_DENIED action $KILL "'
$CTL install "$D" --exe "$W/xa" --exec unconfined >"$W/o" 2>&1
check "installing again without --replace: EEXIST" 'has "$W/o" "^install 17 "'
$CTL install "$D" --exe "$W/xa" --exec unconfined --replace >"$W/o" 2>&1; show "$W/o"
$CTL list >"$W/l"; show "$W/l"
check "install --replace: the entry is replaced (names the old policy), transition unconfined" 'has "$W/o" "^install 0 policy $D .* replaced $D$" && has "$W/l" "^entries 1$" && has "$W/l" "execs 0 exec unconfined refused 0$"'
"$W/xa" $VALID exec "$W/xb" "touch:$W/canary" ioctl >"$W/o" 2>&1; echo "rc $?" >>"$W/o"; show "$W/o"
check "installed with --exec unconfined: the exec runs (canary), unprivileged" 'has "$W/o" "^rc 0" && [ -e "$W/canary" ] && has "$W/o" "^ioctl open 0 load 1 "'
rm -f "$W/canary"
$CTL remove --exe "$W/xa" >/dev/null
$CTL read >/dev/null

# --- content binding: a binary rebuilt in place --------------------------------------------
# On tmpfs (the guest's own file system: its inodes' stamps are the kernel's).
T=$(mktemp -d /dev/shm/sbxc.XXXXXXXX)
cp "$MK" "$T/app"
cp "$MK" "$T/fixed" && printf 'rebuilt' >>"$T/fixed"	# another content, still a valid ELF
ino=$(stat -c %i "$T/app")
$CTL install "$D" --exe "$T/app" >"$W/o" 2>&1; show "$W/o"
check "install on tmpfs" 'has "$W/o" "^install 0 "'
"$T/app" $VALID say:done >"$W/o" 2>&1; echo "rc $?" >>"$W/o"
check "content unchanged: enforced as installed" 'has "$W/o" "^done" && has "$W/o" "^rc 0"'
chmod 700 "$T/app"; chmod 755 "$T/app"
"$T/app" $VALID say:done >"$W/o" 2>&1; echo "rc $?" >>"$W/o"; show "$W/o"
$CTL read >"$W/r"
check "chmod (new ctime, same content): verified by hashing, runs" 'has "$W/o" "^done" && has "$W/o" "^rc 0" && has "$W/r" "^records 0 "'
"$T/fixed" say:CANARY >"$W/o" 2>&1
check "control: the rebuilt binary runs natively (canary)" 'has "$W/o" "^CANARY"'
# (cp rewrites an existing file in place. install(1) unlinks it first: on tmpfs the
# new file gets a new inode, which no entry names; on ext4 it often gets the freed
# inode's number again, which this check covers as well.)
cp "$T/fixed" "$T/app"
check "cp over the installed file keeps its inode" '[ "$(stat -c %i "$T/app")" = "$ino" ]'
"$T/app" say:CANARY >"$W/o" 2>&1; echo "rc $?" >>"$W/o"; show "$W/o"
$CTL read >"$W/r"; show "$W/r"
$CTL list >"$W/l"; show "$W/l"
check "rebuilt in place: killed before it runs (no canary)" 'has "$W/o" "^rc 137" && hasnt "$W/o" "CANARY"'
check "record: reason 26 (rebuilt), the entry's policy, killed, the path" 'has "$W/r" "comm app policy $D reason $R_EXE_REBUILT action $KILL nr 0 kind 0 id 0 tag 0 mstate 0 depth 0 flags $F_KILLED path $T/app$"'
check "list counts the refused exec" 'has "$W/l" "execs 3 exec registry refused 1$"'
$CTL run -p "$N" -m nfa --exec unconfined -- "$MK" exec "$T/app" say:CANARY >"$W/o" 2>&1; show "$W/o"
$CTL read >"$W/r"; show "$W/r"
check "rebuilt, exec'd by an enforced process: killed, the record names the caller's policy" 'has "$W/o" "^signal 9" && hasnt "$W/o" "CANARY" && has "$W/r" "policy $N reason $R_EXE_REBUILT .* path $T/app$"'
exec 3>>"$T/app"
$CTL install "$D" --exe "$T/app" --replace >"$W/o" 2>&1; show "$W/o"
exec 3>&-
check "install while the file is open for writing: ETXTBSY" 'has "$W/o" "^install 26 "'
$CTL install "$D" --exe "$T/app" --replace >"$W/o" 2>&1; show "$W/o"
"$T/app" $VALID say:done >"$W/o2" 2>&1; echo "rc $?" >>"$W/o2"; show "$W/o2"
check "install --replace: the rebuilt binary runs under the new entry" 'has "$W/o" "^install 0 .* replaced $D$" && has "$W/o2" "^done" && has "$W/o2" "^rc 0"'
$CTL remove --exe "$T/app" >/dev/null
rm -rf "$T"
$CTL read >"$W/r"
check "no violation left over from the exec tests" 'has "$W/r" "^records 0 "'
