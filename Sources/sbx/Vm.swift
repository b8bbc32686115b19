import ArgumentParser
import Foundation
import SbxCLI
import SbxVM
#if canImport(Glibc)
import Glibc
#endif

struct Vm: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vm",
        abstract: "Run one command in a fresh guest kernel with the sandbox module loaded.",
        discussion: """
            The guest is Debian's 6.1 kernel of the same ABI as the module (its \
            vermagic; without a module, the newest /usr/src/linux-headers-6.1.*-amd64), \
            fetched with apt-get download and unpacked with dpkg -x into the cache \
            ($XDG_CACHE_HOME/sbx/vm or ~/.cache/sbx/vm), never installed. It runs under \
            QEMU with TCG (KVM only with --kvm). The guest sees the host's file system \
            at the same paths, read-only except the current directory, /tmp and each \
            --rwdir; the command runs there as root, in the current directory, with \
            the host's PATH, HOME, USER, LANG, TERM and TZ, SBX_VM=1 and each --env, \
            and stdin from /dev/null. Its stdout and stderr come back separately; the \
            guest kernel's messages go to --kernel-log (or nowhere). There is no \
            network. Preparation prints progress lines starting with 'sbx vm:' on stderr. \
            A boot that fails before the command starts is booted again, up to \
            --boot-attempts boots, with a line naming the boot and why: a kernel panic, a \
            boot that does not reach the command within --boot-timeout, QEMU or the \
            guest's /init failing. The stage is read from the guest's console; once /init \
            loads the module under test, or the command has started, nothing is retried: \
            a failure there is the module's or the command's. --timeout bounds the whole \
            run from the start of the first boot: every boot, retries included, and the \
            command (preparing the kernel, a download the first time, is not counted). \
            Under TCG the kernel boots with no_timer_check and tsc=reliable (see \
            docs/guest-boot.md).

            Exit status: the command's own (128+N if it died of signal N in the guest); \
            2 bad usage, or --module/--kernel is not a module/kernel; 3 a cache or \
            output file cannot be written; 4 a tool or package is missing (QEMU, \
            busybox-static, kernel headers, apt-get) or the default module is not \
            built, or QEMU failed to start in every boot; 124 the guest was killed at \
            --timeout (or did not reach the command within --boot-timeout in any of \
            --boot-attempts boots, or hung loading the module); 125 the guest failed \
            before the command's status was known (a kernel panic in every boot, the \
            module does not load, the command panicked the kernel). The last two come with an \
            'sbx vm: error:' line and the end of the kernel's log on stderr.
            """
    )

    @Option(
        help: ArgumentHelp("A kernel image (vmlinuz or vmlinux) to boot instead of Debian's.", valueName: "VMLINUZ"))
    var kernel: String?

    @Option(
        help: ArgumentHelp("Guest memory (MiB, or like 512M, 2G; at least 128M).", valueName: "M"),
        transform: VMConfiguration.parseMemory)
    var memory: Int = 1024

    @Option(help: "Guest CPUs (1 to 64).")
    var cpus: Int = 1

    @Option(
        help: ArgumentHelp(
            "Kill the guest after this many seconds, counted from the first boot's start: every boot, retries included, and the command.",
            valueName: "SECONDS"),
        transform: { try VMConfiguration.parseTimeout($0) })
    var timeout: Double = 600

    @Option(
        help: ArgumentHelp(
            "Kill a boot that has not reached the command after this many seconds, and boot again (within --timeout).",
            valueName: "SECONDS"),
        transform: { try VMConfiguration.parseTimeout($0, option: "--boot-timeout") })
    var bootTimeout: Double = 60

    @Option(
        help: ArgumentHelp(
            "Boots to try before giving up on a guest that fails before the command starts (panic, hang, QEMU error).",
            valueName: "N"),
        transform: VMConfiguration.parseBootAttempts)
    var bootAttempts: Int = 3

    @Flag(help: "Use KVM instead of TCG (KVM boots hang on some machines: see --boot-timeout).")
    var kvm = false

    @Flag(
        help:
            "Count instructions (QEMU -icount shift=0; not with --kvm): the guest's clocks advance 1 ns per instruction, so CPU times measured in the guest are deterministic and do not depend on the host's load."
    )
    var icount = false

    @Option(
        help: ArgumentHelp(
            "The module to load (default: kmod/sbx_dyck.ko in the package above the sbx binary or the current directory).",
            valueName: "PATH"))
    var module: String?

    @Flag(help: "Load no module.")
    var noModule = false

    @Option(help: ArgumentHelp("Write the guest kernel's console to FILE.", valueName: "FILE"))
    var kernelLog: String?

    @Option(help: ArgumentHelp("Append to the guest kernel's command line (e.g. oops=panic).", valueName: "ARGS"))
    var kernelArgs: String?

    @Flag(help: "Print /proc/sys/kernel/tainted after the command on stderr.")
    var reportTaint = false

    @Option(
        help: ArgumentHelp(
            "Write /proc/sys/kernel/tainted after the command (a decimal number) to FILE.", valueName: "FILE"))
    var taintFile: String?

    @Option(help: ArgumentHelp("Another host directory the guest may write to (repeatable).", valueName: "DIR"))
    var rwdir: [String] = []

    @Option(
        name: .customLong("env"),
        help: ArgumentHelp("Set a variable in the command's environment (repeatable).", valueName: "NAME=VALUE"))
    var env: [String] = []

    @Option(help: ArgumentHelp("The cache of kernels and initramfs images.", valueName: "DIR"))
    var cacheDir: String?

    @Flag(name: .shortAndLong, help: "Print the QEMU command line and timings on stderr.")
    var verbose = false

    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments (-- CMD [ARGS...]).")
    var command: [String] = []

    func validate() throws {
        // The command captures every argument after the options, `--help` included;
        // as the first one (no `--` before it) it asks for this help.
        if let first = command.first, first == "--help" || first == "-h" {
            throw CleanExit.helpRequest(self)
        }
        guard (1...64).contains(cpus) else { throw ValidationError("--cpus \(cpus): expected 1 to 64") }
        guard !(kvm && icount) else {
            throw ValidationError("--icount counts instructions under TCG: it cannot be used with --kvm")
        }
        guard !(noModule && module != nil) else {
            throw ValidationError("--module and --no-module contradict each other")
        }
    }

    func run() throws {
        let host = ProcessInfo.processInfo.environment
        let cwd = FileManager.default.currentDirectoryPath
        var config = VMConfiguration(
            command: try VMConfiguration.command(from: PassthroughTail.complete(command)),
            workingDirectory: cwd,
            environment: try VMConfiguration.guestEnvironment(host: host, extra: env),
            cacheDirectory: try cacheDir.map(absolute) ?? VMCache.defaultRoot(environment: host))
        config.memoryMiB = memory
        config.timeout = timeout
        config.bootTimeout = bootTimeout
        config.bootAttempts = bootAttempts
        config.cpus = cpus
        config.kvm = kvm
        config.icount = icount
        config.kernel = kernel.map(absolute)
        config.kernelLog = kernelLog.map(absolute)
        config.taintFile = taintFile.map(absolute)
        config.writableDirectories = rwdir.map(absolute)
        config.verbose = verbose
        config.kernelArguments = kernelArgs.map { $0.split(separator: " ").map(String.init) } ?? []
        if !noModule {
            config.module =
                try module.map(absolute)
                ?? PackageRoot.defaultModule(
                    executable: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
                        ?? CommandLine.arguments[0],
                    currentDirectory: cwd)
        }

        let result: VMResult
        do {
            result = try VirtualMachine.run(config) { Diagnostics.printError("sbx vm: \($0)") }
        } catch let error as VMError {
            let status: ExitStatus
            switch error.kind {
            case .timedOut: status = .guestTimedOut
            case .guestFailed: status = .guestFailed
            default: status = ExitStatus(error.category)
            }
            Diagnostics.printError("sbx vm: error: \(error.message)")
            if !error.kernelLogTail.isEmpty {
                Diagnostics.printError("sbx vm: the guest kernel's last messages:")
                for line in error.kernelLogTail { Diagnostics.printError("  " + line) }
            }
            throw CommandOutcome(status)
        }
        if reportTaint {
            Diagnostics.printError("sbx vm: kernel taint: " + (result.tainted.map(Taint.describe) ?? "unknown"))
        }
        // The command's status is any number, which `CommandOutcome` (a fixed set of
        // tool statuses) cannot carry: exit here, after flushing like the usual path.
        if result.status != 0 {
            fflush(nil)  // every stream: stdout is a C global Swift 6 will not read
            Glibc.exit(result.status)
        }
    }

    func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }
}
