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
        let qemu = try Subprocess.require("qemu-system-x86_64", package: "qemu-system-x86")
        if configuration.kvm, access("/dev/kvm", R_OK | W_OK) != 0 {
            throw VMError(.environment, "--kvm: /dev/kvm: \(String(cString: strerror(errno)))")
        }
        let kernel = try cache.prepare(release: release, kernel: configuration.kernel)

        let runDirectory = try makeRunDirectory()
        defer { try? FileManager.default.removeItem(atPath: runDirectory) }
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
        if configuration.verbose {
            progress(
                "booting Linux \(kernel.release) under \(configuration.kvm ? "KVM" : "TCG"): "
                    + ([qemu] + command.arguments).map(shellQuote).joined(separator: " "))
        }
        // --timeout bounds every boot of this run, retries included, and the command:
        // one deadline from the first boot's start (the kernel's preparation above,
        // a download the first time, is not counted).
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
        let out = try open(command.portFile("stdout"))
        let err = try open(command.portFile("stderr"))
        let ctl = try open(command.portFile("ctl"))
        defer { close(out); close(err); close(ctl) }

        let handled = [SIGINT, SIGTERM, SIGHUP]
        var previous: [Int32: sigaction] = [:]
        for sig in handled {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { pendingSignal = $0 }
            sigemptyset(&action.sa_mask)
            var old = sigaction()
            sigaction(sig, &action, &old)
            previous[sig] = old
        }
        // A reader of our stdout that goes away must not kill sbx before the guest.
        let previousPipe = signal(SIGPIPE, SIG_IGN)
        defer {
            for sig in handled {
                var old = previous[sig]!
                sigaction(sig, &old, nil)
            }
            signal(SIGPIPE, previousPipe)
        }

        let start = Self.now()
        // This boot's own limit, within the run's deadline.
        let bootLimit = min(start + configuration.bootTimeout, deadline)
        let pid = try spawn()
        var control = ""
        var bootedAt: Double? = nil
        var exitStatus: Int32 = 0
        var timedOut: String? = nil
        var buffer = [UInt8](repeating: 0, count: 1 << 16)

        func pump() {
            copy(out, to: 1, &buffer)
            copy(err, to: 2, &buffer)
            while true {
                let n = read(ctl, &buffer, buffer.count)
                if n <= 0 { break }
                control += String(decoding: buffer[0..<n], as: UTF8.self)
            }
            if bootedAt == nil, control.contains("booted ") { bootedAt = Self.now() - start }
        }

        while true {
            pump()
            var status: Int32 = 0
            let done = waitpid(pid, &status, WNOHANG)
            if done == pid { exitStatus = status; break }
            let time = Self.now()
            var reason: String? = nil
            if pendingSignal != 0 {
                reason = "signal"
            } else if bootedAt == nil, time >= bootLimit {
                kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                pump()
                if bootedAt == nil {
                    let lines = kernelLogLines()
                    let stage = BootConsole.stage(lines)
                    let last = BootConsole.lastMessage(lines)
                    if time >= deadline {
                        throw VMError(
                            .timedOut,
                            "the guest did not reach the command before --timeout (\(Self.seconds(configuration.timeout)), which counts every boot) ran out: boot \(attempt) was stuck \(stage)"
                                + (last.map { "; the kernel's last message was \"\($0)\"" } ?? "")
                                + failures.enumerated().map { "; boot \($0.offset + 1): \($0.element.reason)" }.joined()
                                + "; killed it", kernelLogTail: kernelLogTail(5))
                    }
                    throw BootFailure(
                        .hang(configuration.bootTimeout), stage: stage, lastMessage: last,
                        kernelLogTail: kernelLogTail(5))
                }
                // It reached the command as it was killed: the command was cut short,
                // so booting again would run it twice.
                timedOut = "the guest reached the command only as it was killed at \(Self.seconds(time - start))"
                break
            } else if time >= deadline {
                reason =
                    "the guest did not finish within \(Self.seconds(configuration.timeout)) (--timeout"
                    + (attempt > 1
                        ? ", which counted \(attempt - 1) failed boot\(attempt > 2 ? "s" : "") before this one" : "")
                    + "); killed it"
            }
            if let reason {
                kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                timedOut = reason
                break
            }
            usleep(20_000)
        }
        pump()
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
                    timedOut == nil ? "ended" : "killed", attempt > 1 ? " (boot \(attempt))" : "", total,
                    bootedAt.map { String(format: "%.2f s", $0) } ?? "never"))
        }

        var fields: [String: String] = [:]
        var errorLine: String? = nil
        for line in control.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            guard let key = parts.first else { continue }
            let value = parts.count > 1 ? String(parts[1]) : ""
            if key == "error" { errorLine = value } else { fields[String(key)] = value }
        }
        let tainted = fields["tainted"].flatMap { UInt64($0.trimmingCharacters(in: .whitespaces)) }
        if let path = configuration.taintFile, let tainted {
            do { try AtomicFile.write(Array("\(tainted)\n".utf8), to: path) } catch {
                throw VMError(.outputFailed, error.description)
            }
        }
        if let timedOut {
            throw VMError(.timedOut, timedOut, kernelLogTail: kernelLogTail())
        }
        let lines = kernelLogLines()
        let stage = BootConsole.stage(lines, controlBooted: bootedAt != nil)
        if let errorLine {
            if stage.retryable {
                throw BootFailure(
                    .initFailed(errorLine), stage: stage, lastMessage: BootConsole.lastMessage(lines),
                    kernelLogTail: kernelLogTail())
            }
            throw VMError(
                .guestFailed, "the guest failed before running the command: \(errorLine)",
                kernelLogTail: kernelLogTail())
        }
        guard let statusText = fields["status"], let status = Int32(statusText.trimmingCharacters(in: .whitespaces))
        else {
            let log = kernelLogTail()
            let qemuLog =
                (try? String(contentsOfFile: command.runDirectory + "/qemu.log", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            let qemuExit =
                exitStatus & 0x7f == 0 ? "exit status \((exitStatus >> 8) & 0xff)" : "signal \(exitStatus & 0x7f)"
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
                "the guest ended without reporting the command's status (QEMU \(qemuExit)\(bootedAt == nil ? ", before the command started" : ""))\(qemuLog.isEmpty ? "" : ": " + qemuLog)",
                kernelLogTail: log)
        }
        return VMResult(status: status, tainted: tainted, bootSeconds: bootedAt, totalSeconds: total)
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

    func spawn() throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        let log = command.runDirectory + "/qemu.log"
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in [SIGINT, SIGTERM, SIGHUP, SIGPIPE] { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF))
        let argv = [command.qemu] + command.arguments
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) }
        cArgs.append(nil)
        defer { for arg in cArgs { free(arg) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, command.qemu, &actions, &attributes, cArgs, environ)
        guard rc == 0 else {
            throw VMError(.environment, "cannot run \(command.qemu): \(String(cString: strerror(rc)))")
        }
        return pid
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
