import DyckModel
import SbxSystem
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// How a command ended in the guest.
public struct VMResult: Sendable, Equatable {
    /// The command's exit status as a shell reports it (128+N: killed by signal N).
    public var status: Int32
    /// `/proc/sys/kernel/tainted` after the command.
    public var tainted: UInt64?
    /// Seconds from QEMU's start until the command started.
    public var bootSeconds: Double?
    /// Seconds from QEMU's start until it ended.
    public var totalSeconds: Double
}

/// `/proc/sys/kernel/tainted`, decoded.
public enum Taint {
    /// The flag letters of Documentation/admin-guide/tainted-kernels.rst, by bit.
    static let letters: [Character] = [
        "P", "F", "S", "R", "M", "B", "U", "D", "A", "W", "C", "I", "O", "E", "L", "K", "X", "T"
    ]

    /// Bit 7: the kernel oopsed.
    public static let oops: UInt64 = 1 << 7
    /// Bit 9: the kernel warned (`WARN()`).
    public static let warning: UInt64 = 1 << 9

    /// "12288 (O E)", or "0 (not tainted)".
    public static func describe(_ value: UInt64) -> String {
        let flags = letters.enumerated().filter { value & (1 << UInt64($0.offset)) != 0 }.map { String($0.element) }
        return "\(value) (\(flags.isEmpty ? "not tainted" : flags.joined(separator: " ")))"
    }
}

/// Runs one command in a guest (`sbx vm`).
public enum VirtualMachine {
    /// Prepares the kernel (downloading it the first time), boots it under QEMU with
    /// the module loaded, runs `configuration.command`, and copies the command's
    /// stdout and stderr to this process's as they come. Throws `VMError` when the
    /// guest cannot be prepared, fails before the command's status is known, or is
    /// killed at the timeout.
    public static func run(_ configuration: VMConfiguration, progress: @escaping (String) -> Void) throws -> VMResult {
        let (kernel, qemu) = try prepareKernel(configuration, progress: progress)
        let runDirectory = try makeRunDirectory()
        defer { try? FileManager.default.removeItem(atPath: runDirectory) }
        let command = try qemuCommand(configuration, kernel: kernel, qemu: qemu, runDirectory: runDirectory)
        if configuration.verbose {
            progress(
                "booting Linux \(kernel.release) under \(configuration.kvm ? "KVM" : "TCG"): "
                    + ([qemu] + command.arguments).map(shellQuote).joined(separator: " "))
        }
        return try boot(command, configuration: configuration, progress: progress)
    }

    /// The kernel to boot (downloaded the first time) for the module's release, and
    /// QEMU.
    static func prepareKernel(_ configuration: VMConfiguration, progress: @escaping (String) -> Void) throws -> (
        kernel: GuestKernel, qemu: String
    ) {
        let cache = VMCache(root: configuration.cacheDirectory, progress: progress)
        var release: String? = nil
        if let module = configuration.module {
            guard FileManager.default.isReadableFile(atPath: module) else {
                throw VMError(.badInput, "\(module): the module does not exist or cannot be read")
            }
            release = try KernelImage.vermagicRelease(ofModule: module)
        } else if configuration.kernel == nil {
            release = KernelImage.headersRelease()
        }
        let qemu = try HostTools.require("qemu-system-x86_64", package: "qemu-system-x86")
        if configuration.kvm, access("/dev/kvm", R_OK | W_OK) != 0 {
            throw VMError(.environment, "--kvm: /dev/kvm: \(String(cString: strerror(errno)))")
        }
        return (try cache.prepare(release: release, kernel: configuration.kernel), qemu)
    }

    /// QEMU's command line and the guest's configuration file in `runDirectory`; the
    /// directories exported writable must exist.
    static func qemuCommand(
        _ configuration: VMConfiguration, kernel: GuestKernel, qemu: String, runDirectory: String
    ) throws -> QEMUCommand {
        let (rootWritable, writable) = GuestInit.writableExports(
            [configuration.workingDirectory] + VMConfiguration.alwaysWritable + configuration.writableDirectories)
        for dir in writable {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
                throw VMError(.badInput, "\(dir): not a directory, cannot be made writable in the guest")
            }
        }
        var command = QEMUCommand(
            qemu: qemu, kernel: kernel, memoryMiB: configuration.memoryMiB, cpus: configuration.cpus,
            kvm: configuration.kvm, runDirectory: runDirectory,
            kernelLog: configuration.kernelLog ?? runDirectory + "/kernel.log",
            rootWritable: rootWritable, writable: writable)
        command.extraKernelArguments = configuration.kernelArguments
        command.icount = configuration.icount
        let conf = GuestInit.configuration(
            command: configuration.command, workingDirectory: configuration.workingDirectory,
            environment: configuration.environment, module: configuration.module,
            writable: writable.enumerated().map { ("rw\($0.offset)", $0.element) })
        try writeRunFile(runDirectory + "/conf", conf)
        // A taint file from an earlier run must not pass for this one's.
        if let taintFile = configuration.taintFile, unlink(taintFile) != 0, errno != ENOENT {
            throw VMError(.outputFailed, "\(taintFile): cannot replace: \(String(cString: strerror(errno)))")
        }
        return command
    }

    /// Boots until a boot reaches the command, or the boots that failed before it are
    /// not to be retried. --timeout bounds every boot of this run, retries included,
    /// and the command: one deadline from the first boot's start (the kernel's
    /// preparation, a download the first time, is not counted).
    static func boot(_ command: QEMUCommand, configuration: VMConfiguration, progress: @escaping (String) -> Void)
        throws -> VMResult
    {
        let deadline = Session.now() + configuration.timeout
        var failures: [BootFailure] = []
        while true {
            for port in QEMUCommand.ports { try writeRunFile(command.portFile(port), "") }
            if !FileManager.default.createFile(atPath: command.kernelLog, contents: nil) {
                throw VMError(.outputFailed, "\(command.kernelLog): cannot write the kernel log")
            }
            let attempt = failures.count + 1
            do {
                return try Session(
                    configuration: configuration, command: command, deadline: deadline,
                    attempt: attempt, failures: failures, progress: progress
                ).run()
            } catch let failure as BootFailure {
                failures.append(failure)
                let left = deadline - Session.now()
                guard failure.retryable, attempt < configuration.bootAttempts, left > 0 else {
                    throw giveUp(failures, configuration: configuration, deadlinePassed: left <= 0)
                }
                progress(
                    "boot \(attempt) of \(configuration.bootAttempts) failed before the command started: \(failure.reason); "
                        + "booting again (boot \(attempt + 1) of \(configuration.bootAttempts), "
                        + "\(Session.seconds(left.rounded(.down))) left of --timeout)")
            }
        }
    }

    /// The error after the last boot that failed before its command: the kind of the
    /// last failure, with every boot's reason when they differ.
    static func giveUp(_ failures: [BootFailure], configuration: VMConfiguration, deadlinePassed: Bool) -> VMError {
        let last = failures[failures.count - 1]
        let kvmHint = configuration.kvm ? " (KVM boots hang on some machines: try without --kvm)" : ""
        var message: String
        if failures.count == 1 {
            message = last.reason
        } else if failures.allSatisfy({ if case .hang = $0.kind { return true } else { return false } }) {
            message =
                "the guest did not reach the command within \(Session.seconds(configuration.bootTimeout)) in any of \(failures.count) boots"
                + (last.lastMessage.map { "; the last boot's kernel's last message was \"\($0)\"" } ?? "")
        } else {
            message =
                "no boot reached the command in \(failures.count) boots: "
                + failures.enumerated().map { "boot \($0.offset + 1): \($0.element.reason)" }.joined(separator: "; ")
        }
        if !last.retryable {
            message += " (not retried: the module under test had started loading)"
        } else if deadlinePassed {
            message += "; --timeout (\(Session.seconds(configuration.timeout)), which counts every boot) ran out"
        }
        switch last.kind {
        case .hang:
            return VMError(.timedOut, message + "; killed it" + kvmHint, kernelLogTail: last.kernelLogTail)
        case .qemuEnded where last.stage == .firmware:
            return VMError(
                .environment,
                message + (configuration.kvm ? " (KVM does not work on every machine: try without --kvm)" : ""),
                kernelLogTail: last.kernelLogTail)
        default:
            return VMError(.guestFailed, message, kernelLogTail: last.kernelLogTail)
        }
    }

    /// A private directory for the run, with a path the kernel command line can carry.
    static func makeRunDirectory() throws -> String {
        var candidates = ["/tmp"]
        if let tmp = ProcessInfo.processInfo.environment["TMPDIR"], tmp.hasPrefix("/") { candidates.insert(tmp, at: 0) }
        for base in candidates {
            var template =
                Array((base.hasSuffix("/") ? base : base + "/").utf8CString.dropLast())
                + Array("sbx-vm-XXXXXX".utf8CString)
            guard let made = mkdtemp(&template) else { continue }
            let path = String(cString: made)
            if path.unicodeScalars.allSatisfy({
                $0.isASCII
                    && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "/._-+".unicodeScalars.contains($0))
            }) {
                return path
            }
            rmdir(path)
        }
        throw VMError(
            .outputFailed,
            "cannot create a run directory in $TMPDIR or /tmp (it must exist, be writable, and have a path without spaces)"
        )
    }

    static func writeRunFile(_ path: String, _ text: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else {
            throw VMError(.outputFailed, "\(path): cannot write")
        }
    }
}

/// Signals that end `sbx vm` early; the guest is killed first.
private nonisolated(unsafe) var pendingSignal: Int32 = 0

/// One QEMU process, watched until it ends.
private struct Session {
    let configuration: VMConfiguration
    let command: QEMUCommand
    /// When --timeout runs out (`now()`'s clock), counted from the first boot.
    let deadline: Double
    /// This boot's number, from 1.
    let attempt: Int
    /// The earlier boots of this run, for messages.
    let failures: [BootFailure]
    let progress: (String) -> Void

    /// Runs the guest to its end. Throws `BootFailure` when it ended before its
    /// command started (the caller decides whether to boot again), `VMError` for
    /// everything else.
    func run() throws -> VMResult {
        let ports = try Ports(
            open(command.portFile("stdout")), open(command.portFile("stderr")), open(command.portFile("ctl")))
        defer { ports.close() }
        let handlers = SignalHandlers.install()
        defer { handlers.restore() }

        let start = Self.now()
        let child = try spawn()
        let watched = try watch(child, ports: ports, start: start)
        if pendingSignal != 0 {
            // Interrupted (QEMU may have died of the same ^C first): end as the
            // signal says, after removing the run's files.
            let sig = pendingSignal
            try? FileManager.default.removeItem(atPath: command.runDirectory)
            signal(sig, SIG_DFL)
            raise(sig)
            exit(128 + sig)
        }
        let total = Self.now() - start
        if configuration.verbose {
            progress(
                String(
                    format: "guest %@%@ after %.2f s (command started at %@)",
                    watched.timedOut == nil ? "ended" : "killed", attempt > 1 ? " (boot \(attempt))" : "", total,
                    watched.bootedAt.map { String(format: "%.2f s", $0) } ?? "never"))
        }
        let report = ControlReport(watched.control)
        if let path = configuration.taintFile, let tainted = report.tainted {
            do { try AtomicFile.write(Array("\(tainted)\n".utf8), to: path) } catch {
                throw VMError(.outputFailed, error.description)
            }
        }
        if let timedOut = watched.timedOut {
            throw VMError(.timedOut, timedOut, kernelLogTail: kernelLogTail())
        }
        return try result(watched, report: report, total: total)
    }

    /// The three output ports of the guest (files QEMU appends to), read as they grow.
    struct Ports {
        let stdout: Int32
        let stderr: Int32
        let control: Int32

        init(_ stdout: Int32, _ stderr: Int32, _ control: Int32) {
            self.stdout = stdout
            self.stderr = stderr
            self.control = control
        }

        func close() {
            for fd in [stdout, stderr, control] { Glibc.close(fd) }
        }
    }

    /// SIGINT, SIGTERM and SIGHUP recorded in `pendingSignal` while the guest runs (it
    /// is killed first), and SIGPIPE ignored: a reader of our stdout that goes away
    /// must not kill sbx before the guest.
    struct SignalHandlers {
        static let handled = [SIGINT, SIGTERM, SIGHUP]
        var previous: [Int32: sigaction] = [:]
        var previousPipe: sighandler_t?

        static func install() -> SignalHandlers {
            var handlers = SignalHandlers()
            for sig in handled {
                var action = sigaction()
                action.__sigaction_handler.sa_handler = { pendingSignal = $0 }
                sigemptyset(&action.sa_mask)
                var old = sigaction()
                sigaction(sig, &action, &old)
                handlers.previous[sig] = old
            }
            handlers.previousPipe = signal(SIGPIPE, SIG_IGN)
            return handlers
        }

        func restore() {
            for (sig, old) in previous {
                var old = old
                sigaction(sig, &old, nil)
            }
            signal(SIGPIPE, previousPipe)
        }
    }

    /// What watching QEMU saw until it ended or was killed.
    struct Watched {
        /// Everything the guest wrote to its control port.
        var control = ""
        /// Seconds from QEMU's start until the command started (the control port said
        /// "booted").
        var bootedAt: Double? = nil
        /// How QEMU ended.
        var status: WaitStatus = .exited(0)
        /// Why it was killed, if it was (after the command started).
        var timedOut: String? = nil
    }

    /// Copies the guest's output until QEMU ends; kills it at a signal, at this boot's
    /// limit before the command started (`BootFailure`, or `VMError` when the run's
    /// deadline passed), or at the run's deadline.
    func watch(_ child: Subprocess.Child, ports: Ports, start: Double) throws -> Watched {
        // This boot's own limit, within the run's deadline.
        let bootLimit = min(start + configuration.bootTimeout, deadline)
        var watched = Watched()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)

        func pump() {
            copy(ports.stdout, to: 1, &buffer)
            copy(ports.stderr, to: 2, &buffer)
            while true {
                let n = read(ports.control, &buffer, buffer.count)
                if n <= 0 { break }
                watched.control += String(decoding: buffer[0..<n], as: UTF8.self)
            }
            if watched.bootedAt == nil, watched.control.contains("booted ") { watched.bootedAt = Self.now() - start }
        }
        func killChild() throws {
            kill(child.pid, SIGKILL)
            watched.status = try wait(child)
            pump()
        }

        while true {
            pump()
            if let status = try? child.poll() {
                watched.status = status
                break
            }
            let time = Self.now()
            if pendingSignal != 0 {
                try killChild()
                watched.timedOut = "signal"
                break
            }
            if watched.bootedAt == nil, time >= bootLimit {
                try killChild()
                if watched.bootedAt == nil { throw bootTimeout(at: time) }
                // It reached the command as it was killed: the command was cut short,
                // so booting again would run it twice.
                watched.timedOut =
                    "the guest reached the command only as it was killed at \(Self.seconds(time - start))"
                break
            }
            if time >= deadline {
                try killChild()
                watched.timedOut =
                    "the guest did not finish within \(Self.seconds(configuration.timeout)) (--timeout"
                    + (attempt > 1
                        ? ", which counted \(attempt - 1) failed boot\(attempt > 2 ? "s" : "") before this one" : "")
                    + "); killed it"
                break
            }
            usleep(20_000)
        }
        pump()
        return watched
    }

    func wait(_ child: Subprocess.Child) throws -> WaitStatus {
        do { return try child.wait() } catch { throw VMError(.environment, error.description) }
    }

    /// The error for a boot killed at its limit before the command started: a
    /// `BootFailure` to retry, or the end when the run's deadline has passed.
    func bootTimeout(at time: Double) -> Error {
        let lines = kernelLogLines()
        let stage = BootConsole.stage(lines)
        let last = BootConsole.lastMessage(lines)
        if time >= deadline {
            return VMError(
                .timedOut,
                "the guest did not reach the command before --timeout (\(Self.seconds(configuration.timeout)), which counts every boot) ran out: boot \(attempt) was stuck \(stage)"
                    + (last.map { "; the kernel's last message was \"\($0)\"" } ?? "")
                    + failures.enumerated().map { "; boot \($0.offset + 1): \($0.element.reason)" }.joined()
                    + "; killed it", kernelLogTail: kernelLogTail(5))
        }
        return BootFailure(
            .hang(configuration.bootTimeout), stage: stage, lastMessage: last, kernelLogTail: kernelLogTail(5))
    }

    /// The guest's control port: "key value" lines, and an "error" line when the
    /// guest's init failed before the command.
    struct ControlReport {
        var fields: [String: String] = [:]
        var errorLine: String? = nil

        init(_ control: String) {
            for line in control.split(separator: "\n") {
                let parts = line.split(separator: " ", maxSplits: 1)
                guard let key = parts.first else { continue }
                let value = parts.count > 1 ? String(parts[1]) : ""
                if key == "error" { errorLine = value } else { fields[String(key)] = value }
            }
        }

        var tainted: UInt64? { fields["tainted"].flatMap { UInt64($0.trimmingCharacters(in: .whitespaces)) } }
        var status: Int32? { fields["status"].flatMap { Int32($0.trimmingCharacters(in: .whitespaces)) } }
    }

    /// The command's result, or why the guest ended without one (a `BootFailure`
    /// when nothing under test ran and booting again may get past it).
    func result(_ watched: Watched, report: ControlReport, total: Double) throws -> VMResult {
        let lines = kernelLogLines()
        let stage = BootConsole.stage(lines, controlBooted: watched.bootedAt != nil)
        if let errorLine = report.errorLine {
            if stage.retryable {
                throw BootFailure(
                    .initFailed(errorLine), stage: stage, lastMessage: BootConsole.lastMessage(lines),
                    kernelLogTail: kernelLogTail())
            }
            throw VMError(
                .guestFailed, "the guest failed before running the command: \(errorLine)",
                kernelLogTail: kernelLogTail())
        }
        guard let status = report.status else {
            let log = kernelLogTail()
            let qemuLog =
                (try? String(contentsOfFile: command.runDirectory + "/qemu.log", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            let qemuExit = watched.status.description
            if stage.retryable {
                // Nothing under test has run: the boot's own failure (a panic of a slow
                // guest, a QEMU that died), which booting again may get past.
                let kind: BootFailure.Kind =
                    BootConsole.panic(lines).map { .panic($0) }
                    ?? .qemuEnded(
                        exit: qemuExit, message: qemuLog.split(separator: "\n").prefix(3).joined(separator: "; "))
                throw BootFailure(kind, stage: stage, lastMessage: BootConsole.lastMessage(lines), kernelLogTail: log)
            }
            if let panic = lines.last(where: { $0.contains("Kernel panic") }) {
                throw VMError(
                    .guestFailed, "the guest kernel panicked: \(Self.stripTimestamp(panic))", kernelLogTail: log)
            }
            throw VMError(
                .guestFailed,
                "the guest ended without reporting the command's status (QEMU \(qemuExit)\(watched.bootedAt == nil ? ", before the command started" : ""))\(qemuLog.isEmpty ? "" : ": " + qemuLog)",
                kernelLogTail: log)
        }
        return VMResult(status: status, tainted: report.tainted, bootSeconds: watched.bootedAt, totalSeconds: total)
    }

    func open(_ path: String) throws -> Int32 {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw VMError(.outputFailed, "\(path): cannot open: \(String(cString: strerror(errno)))") }
        return fd
    }

    /// Copies what was appended to `from` since the last call to the descriptor `to`.
    func copy(_ from: Int32, to: Int32, _ buffer: inout [UInt8]) {
        while true {
            let n = read(from, &buffer, buffer.count)
            if n <= 0 { return }
            var done = 0
            while done < n {
                let w = buffer.withUnsafeBytes { write(to, $0.baseAddress! + done, n - done) }
                if w < 0 { if errno == EINTR { continue }; return }
                done += w
            }
        }
    }

    /// QEMU, its stdout and stderr in qemu.log, with the default actions of the
    /// signals `sbx vm` handles itself.
    func spawn() throws -> Subprocess.Child {
        var process = Subprocess([command.qemu] + command.arguments)
        process.stdin = .null
        process.stdout = .file(command.runDirectory + "/qemu.log")
        process.stderr = .standardOutput
        process.defaultSignals = [SIGINT, SIGTERM, SIGHUP, SIGPIPE]
        do { return try process.spawn() } catch {
            throw VMError(.environment, "cannot run \(command.qemu): \(error.reason)")
        }
    }

    /// The lines at the end of the kernel's console (its last 256 KiB).
    func kernelLogLines() -> [String] {
        guard let data = FileManager.default.contents(atPath: command.kernelLog) else { return [] }
        return BootConsole.lines(String(decoding: data.suffix(256 * 1024), as: UTF8.self))
    }

    /// What to show of the kernel's console when the guest failed: from the last
    /// report of a kernel bug (oops, BUG, WARNING, panic) if there is one, else the
    /// last lines; at most `count` lines either way.
    func kernelLogTail(_ count: Int = 40) -> [String] {
        let lines = kernelLogLines()
        // The first line of a report, in order of preference.
        for markers in [["BUG:", "WARNING:", "general protection fault"], ["Oops"], ["Kernel panic"]] {
            if let start = lines.lastIndex(where: { line in markers.contains { line.contains($0) } }) {
                return Array(lines[start...].prefix(count))
            }
        }
        return Array(lines.suffix(count))
    }

    static func stripTimestamp(_ line: String) -> String { BootConsole.stripTimestamp(line) }

    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : String(format: "%.1f s", value)
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
