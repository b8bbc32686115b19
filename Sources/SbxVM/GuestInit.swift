import Foundation

/// What runs inside the guest: `/init` in the initramfs (busybox sh), and the
/// per-run configuration it reads from the host.
///
/// `/init` loads the guest kernel's virtio, virtio-serial and 9p modules, finds the
/// three serial ports by name (`sbx.stdout`, `sbx.stderr`, `sbx.ctl`), mounts the
/// host's `/` over 9p at `/host` (read-only unless `SBX_ROOT=rw`), sources the run's
/// `conf` from the host (`SBX_RUN` on the kernel command line), mounts proc, sysfs,
/// devtmpfs, devpts, /dev/shm and /run inside it and the writable directories over
/// it, loads the sandbox module, and runs the command chrooted into `/host` with
/// stdout and stderr on their ports. On the control port it writes
///
///     booted UPTIME          the command is about to start
///     status N               its exit status (128+N: killed by signal N)
///     tainted T              /proc/sys/kernel/tainted afterwards
///     error MESSAGE          the setup failed; no command ran
///
/// and then ends QEMU through `isa-debug-exit`. The kernel's console (ttyS0) is a
/// separate file, so kernel messages never mix with the command's output.
/// `/init` also writes `sbx-init: ...` lines on the console, among them
/// `sbx-init: stage module` just before it loads the module, which tells the host's
/// boot-stage detector (`BootConsole`) that a failure is no longer the boot's own.
public enum GuestInit {
    public static let script = #"""
        #!/bin/busybox sh
        # /init of the sbx vm guest; written by Sources/SbxVM/GuestInit.swift.
        /bin/busybox --install -s /bin
        export PATH=/bin
        mount -t proc proc /proc
        mount -t sysfs sysfs /sys
        mount -t devtmpfs devtmpfs /dev
        exec </dev/null

        ctl=
        say() {
            echo "sbx-init: $*"
            if [ -n "$ctl" ]; then echo "$*" >"$ctl"; fi
        }
        finish() {
            sync
            # isa-debug-exit (I/O port 0xf4) ends QEMU at once; power off otherwise.
            printf '\000' | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
            poweroff -f
            sleep 60
        }
        fail() {
            say "error $(echo "$*" | tr '\n' ' ')"
            finish
        }
        p9="trans=virtio,version=9p2000.L,cache=loose,msize=512000"

        for m in $(cat /modules.list); do
            msg=$(insmod "/lib/modules/$m.ko" 2>&1) || fail "cannot load the guest kernel's module $m: $msg"
        done

        n=0
        out=; err=
        while :; do
            for p in /sys/class/virtio-ports/*; do
                [ -r "$p/name" ] || continue
                d=/dev/${p##*/}
                [ -c "$d" ] || continue
                case "$(cat "$p/name")" in
                sbx.ctl) ctl=$d ;;
                sbx.stdout) out=$d ;;
                sbx.stderr) err=$d ;;
                esac
            done
            [ -n "$ctl" ] && [ -n "$out" ] && [ -n "$err" ] && break
            n=$((n + 1))
            [ $n -lt 1000 ] || fail "the virtio serial ports sbx.ctl, sbx.stdout, sbx.stderr did not appear"
            usleep 10000
        done

        mount -t 9p -o "$p9,${SBX_ROOT:-ro}" host /host || fail "cannot mount the host's file system over 9p"
        [ -n "$SBX_RUN" ] && [ -r "/host$SBX_RUN/conf" ] || fail "no run configuration at $SBX_RUN/conf"
        . "/host$SBX_RUN/conf"
        mount -t proc proc /host/proc || fail "cannot mount /proc"
        mount -t sysfs sysfs /host/sys || fail "cannot mount /sys"
        mount -t devtmpfs devtmpfs /host/dev || fail "cannot mount /dev"
        mkdir -p /host/dev/pts /host/dev/shm
        mount -t devpts -o newinstance,ptmxmode=0666 devpts /host/dev/pts
        mount -t tmpfs tmpfs /host/dev/shm
        mount -t tmpfs tmpfs /host/run 2>/dev/null

        sbx_mount_rw() {
            [ -d "/host$2" ] || mkdir -p "/host$2" 2>/dev/null
            mount -t 9p -o "$p9" "$1" "/host$2" || fail "cannot mount $2 writable"
        }
        sbx_rw

        if [ -n "$SBX_MODULE" ]; then
            # From here on, what runs is under test: the host no longer boots again
            # after a failure (BootConsole.swift).
            echo "sbx-init: stage module"
            msg=$(insmod "/host$SBX_MODULE" 2>&1) || fail "cannot load $SBX_MODULE: $msg"
        fi

        say "booted $(cut -d' ' -f1 /proc/uptime)"
        env -i /bin/chroot /host /bin/sh -c "$SBX_SCRIPT" >"$out" 2>"$err"
        status=$?
        say "status $status"
        say "tainted $(cat /proc/sys/kernel/tainted)"
        finish
        """#

    /// The run's configuration, sourced by `/init` (busybox sh): the module to load,
    /// the writable directories (9p tags `rw0`, `rw1`, ... in `tags` order), and the
    /// script the host's `/bin/sh` runs in the chroot: environment, directory, command.
    public static func configuration(
        command: [String], workingDirectory: String, environment: [String: String],
        module: String?, writable: [(tag: String, path: String)]
    ) -> String {
        var script = ""
        for name in environment.keys.sorted() {
            script += "export \(name)=\(shellQuote(environment[name]!))\n"
        }
        script += "cd \(shellQuote(workingDirectory)) || exit 125\n"
        script += "exec " + command.map(shellQuote).joined(separator: " ") + "\n"

        var conf = "# sbx vm run configuration\n"
        conf += "SBX_MODULE=\(shellQuote(module ?? ""))\n"
        conf += "sbx_rw() {\n    :\n"
        for (tag, path) in writable {
            conf += "    sbx_mount_rw \(tag) \(shellQuote(path))\n"
        }
        conf += "}\n"
        conf += "SBX_SCRIPT=\(shellQuote(script))\n"
        return conf
    }

    /// The writable directories to export: the ones given, made absolute and
    /// standardized, without those inside another; empty when `/` is among them (then
    /// the root itself is exported writable).
    public static func writableExports(_ directories: [String]) -> (rootWritable: Bool, exports: [String]) {
        let paths = Set(directories.map { URL(fileURLWithPath: $0).standardizedFileURL.path })
        if paths.contains("/") { return (true, []) }
        let sorted = paths.sorted { ($0.split(separator: "/").count, $0) < ($1.split(separator: "/").count, $1) }
        var kept: [String] = []
        for path in sorted where !kept.contains(where: { path.hasPrefix($0 + "/") }) {
            kept.append(path)
        }
        return (false, kept)
    }
}
