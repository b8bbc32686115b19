import Foundation

/// The QEMU command line of one run.
public struct QEMUCommand: Sendable, Equatable {
    public var qemu: String = "qemu-system-x86_64"
    public var kernel: GuestKernel
    public var memoryMiB: Int
    public var cpus: Int
    public var kvm: Bool
    /// The per-run directory on the host (`conf`, the port files).
    public var runDirectory: String
    /// Where the kernel's console goes.
    public var kernelLog: String
    /// Whether the host's `/` is exported writable (a writable directory was `/`).
    public var rootWritable: Bool
    /// Host directories exported writable, as 9p tags `rw0`, `rw1`, ...
    public var writable: [String]
    /// Kernel messages below this level reach the console (the kernel log file).
    public var consoleLogLevel = 7
    /// Appended to the kernel command line (`--kernel-args`).
    public var extraKernelArguments: [String] = []
    /// QEMU's instruction counting (TCG only): the guest's clocks advance 1 ns per
    /// instruction executed, so CPU times in the guest count instructions and do not
    /// depend on the host's load.
    public var icount = false

    public static let ports = ["stdout", "stderr", "ctl"]

    public func portFile(_ name: String) -> String { runDirectory + "/" + name }

    /// The kernel command line. `SBX_RUN` and `SBX_ROOT` reach `/init` as environment
    /// variables (the kernel passes unknown `NAME=VALUE` parameters on).
    public var kernelCommandLine: String {
        ([
            "console=ttyS0", "loglevel=\(consoleLogLevel)", "panic=-1", "rdinit=/init"
        ] + (kvm ? [] : Self.tcgKernelArguments) + [
            "SBX_RUN=\(runDirectory)", "SBX_ROOT=\(rootWritable ? "rw" : "ro")"
        ]).joined(separator: " ") + extraKernelArguments.map { " " + $0 }.joined()
    }

    /// Kernel parameters for a TCG guest, which runs at a fraction of the host's speed
    /// and stops whenever the host deschedules QEMU's thread: the kernel's boot-time
    /// checks that time a device against the TSC (host time) then fail spuriously.
    /// (A KVM guest finds these by itself: it detects its hypervisor.)
    ///
    /// - `no_timer_check`: skip the IO-APIC timer check (`timer_irq_works`), which
    ///   waits a fixed number of TSC cycles and panics, "IO-APIC + timer doesn't
    ///   work!", when fewer than 4 timer interrupts came in that time. A descheduled
    ///   TCG thread misses them: we saw that panic on a loaded host, and its first
    ///   fallback ("MP-BIOS bug: 8254 timer not connected to IO-APIC") in 1 boot in 3
    ///   with QEMU stopped 40 ms in every 42. KVM guests set it themselves
    ///   (`kvm_guest_init`); the emulated PIT and HPET do work.
    /// - `tsc=reliable`: under TCG every vCPU reads the same counter (the host's TSC,
    ///   or the instruction count with `-icount`), so the TSCs cannot drift apart. It
    ///   keeps a guest with several CPUs from declaring its TSCs "unsynchronized" (the
    ///   TCG CPU does not advertise an invariant TSC) and falling back to the HPET,
    ///   every read of which is an emulated MMIO access; it skips the TSC warp test
    ///   at each secondary CPU's bring-up, a timed spin between two vCPUs that one
    ///   host thread runs in turn; and it stops the clocksource watchdog, which
    ///   compares the TSC with the HPET every 0.5 s and, when QEMU is descheduled
    ///   between the two reads, switches clocksource in the middle of a test.
    ///
    /// Not used: `lpj=` (the boot CPU already takes loops_per_jiffy from the TSC's
    /// frequency without calibrating; secondary CPUs calibrate in about 0.2 s even on
    /// a loaded host, and a preset would have to match the guest's TSC frequency,
    /// which is the host's or 1 GHz under `-icount`, or every udelay() would be off).
    public static let tcgKernelArguments = ["no_timer_check", "tsc=reliable"]

    /// The arguments after the QEMU binary.
    public var arguments: [String] {
        var args = [
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-machine", kvm ? "q35,accel=kvm" : "q35"
        ]
        if !kvm {
            // One host thread runs every vCPU in turn (not MTTCG): the kernel patches its
            // own code at run time (static keys, when the module attaches sys_enter), and
            // with parallel vCPUs a CPU was seen looping for minutes in the patched
            // syscall entry (a soft lockup) in loaded runs.
            args += ["-accel", "tcg,thread=single"]
        }
        args += [
            "-cpu", kvm ? "host" : "max",
            "-smp", String(cpus), "-m", "\(memoryMiB)M"
        ]
        if icount && !kvm {
            // sleep=on: an idle guest's clock still follows the host's, so waits end.
            args += ["-icount", "shift=0,sleep=on"]
        }
        args += [
            "-kernel", kernel.image, "-initrd", kernel.initramfs,
            "-append", kernelCommandLine,
            "-chardev", "file,id=klog,path=\(Self.escape(kernelLog))", "-serial", "chardev:klog",
            // ioeventfd=off: a port's data reaches its file before the guest's next
            // I/O, so nothing written before the `status` line can be lost at exit.
            "-device", "virtio-serial-pci,id=vser0,ioeventfd=off"
        ]
        for (i, name) in Self.ports.enumerated() {
            args += [
                "-chardev", "file,id=\(name),path=\(Self.escape(portFile(name)))",
                "-device", "virtserialport,bus=vser0.0,nr=\(i + 1),chardev=\(name),name=sbx.\(name)"
            ]
        }
        args += [
            "-virtfs",
            "local,path=/,mount_tag=host,security_model=none,multidevs=remap" + (rootWritable ? "" : ",readonly=on")
        ]
        for (i, dir) in writable.enumerated() {
            args += ["-virtfs", "local,path=\(Self.escape(dir)),mount_tag=rw\(i),security_model=none,multidevs=remap"]
        }
        args += ["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
        return args
    }

    /// A value inside a QEMU option list, where a comma is written twice.
    public static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: ",", with: ",,")
    }
}
