import CSbxSystem

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// How a child process ended, decoded from a wait status. WIFEXITED and friends are
/// C macros Swift cannot call, so the decoding lives here once.
public enum WaitStatus: Equatable, Sendable, CustomStringConvertible {
    /// exit(code): the low byte of the code.
    case exited(Int32)
    /// Ended by a signal.
    case signaled(Int32)
    /// Stopped by a signal (only reported to a waiter that asked with WUNTRACED).
    case stopped(Int32)

    /// Decodes `status` as waitpid(2) and wait4(2) fill it in.
    public init(rawValue status: Int32) {
        let low = status & 0x7f
        if low == 0 {
            self = .exited((status >> 8) & 0xff)
        } else if low == 0x7f {
            self = .stopped((status >> 8) & 0xff)
        } else {
            self = .signaled(low)
        }
    }

    /// The status as a shell reports it: the exit code, or 128 + the signal.
    public var shellStatus: Int32 {
        switch self {
        case .exited(let code): return code
        case .signaled(let signal), .stopped(let signal): return 128 + signal
        }
    }

    /// The signal that ended the process, if one did.
    public var signal: Int32? {
        if case .signaled(let signal) = self { return signal }
        return nil
    }

    /// "exit status 3", "signal 9", "stopped by signal 19".
    public var description: String {
        switch self {
        case .exited(let code): return "exit status \(code)"
        case .signaled(let signal): return "signal \(signal)"
        case .stopped(let signal): return "stopped by signal \(signal)"
        }
    }
}

/// A child process started from an executable with posix_spawn. The one way the
/// libraries run other programs: the standard streams inherited, discarded, read
/// from or written to files, or piped (both output pipes drained at once, so that a
/// chatty child never blocks on a full pipe while we wait on the other); the
/// environment inherited or replaced; chosen signals reset to their default action in
/// the child (callers that handle or ignore signals themselves must not pass that on)
/// and no signal blocked; optionally a new process group.
public struct Subprocess: Sendable {
    /// Where the child's stdin comes from.
    public enum Input: Sendable, Equatable {
        case inherit
        case null
        /// Written to a pipe by `Child.communicate()`, then closed.
        case bytes([UInt8])
        case file(String)
    }

    /// Where the child's stdout or stderr goes.
    public enum Output: Sendable, Equatable {
        case inherit
        case null
        /// A pipe read by `Child.communicate()`.
        case capture
        /// The file, created with `mode` (less the umask) or truncated.
        case file(String, mode: mode_t = 0o600)
        /// For stderr: wherever stdout goes (2>&1).
        case standardOutput
    }

    /// The program's path (not searched in PATH: see `Executables.find`).
    public var executable: String
    /// argv, argv[0] included.
    public var argv: [String]
    /// nil: this process's environment.
    public var environment: [String: String]?
    public var workingDirectory: String?
    public var stdin: Input = .inherit
    public var stdout: Output = .inherit
    public var stderr: Output = .inherit
    /// Signals whose action is reset to the default in the child.
    public var defaultSignals: [Int32] = []
    /// The child leads a new process group (its pgid is its pid).
    public var newProcessGroup = false

    /// `argv[0]` is the executable's path.
    public init(_ argv: [String]) {
        precondition(!argv.isEmpty, "argv needs at least the program")
        self.executable = argv[0]
        self.argv = argv
    }

    /// What a finished child left: its status and what it wrote to captured streams.
    public struct Result: Sendable, Equatable {
        public var status: WaitStatus
        public var stdout: [UInt8]
        public var stderr: [UInt8]

        public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
        public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
    }

    /// Starts the child, feeds and drains its pipes, and waits for it.
    public func run() throws(SubprocessError) -> Result {
        let child = try spawn()
        let (out, err) = try child.communicate()
        return Result(status: try child.wait(), stdout: out, stderr: err)
    }

    /// Starts the child. The caller must `wait()` for it (after `communicate()` when a
    /// stream is piped).
    public func spawn() throws(SubprocessError) -> Child {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }

        // Parent ends of pipes, and child ends to close once the child has them.
        var parentEnds: [Int32] = []
        var childEnds: [Int32] = []
        func pipeFor(_ target: Int32, childReads: Bool) throws(SubprocessError) -> Int32 {
            var fds: [Int32] = [-1, -1]
            guard sbx_pipe_cloexec(&fds) == 0 else {
                throw SubprocessError(executable: executable, operation: "pipe", code: errno)
            }
            let (childEnd, parentEnd) = childReads ? (fds[0], fds[1]) : (fds[1], fds[0])
            posix_spawn_file_actions_adddup2(&actions, childEnd, target)
            childEnds.append(childEnd)
            parentEnds.append(parentEnd)
            return parentEnd
        }
        var input: (fd: Int32, bytes: [UInt8])? = nil
        var outFD: Int32 = -1
        var errFD: Int32 = -1
        do {
            switch stdin {
            case .inherit: break
            case .null: posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            case .file(let path): posix_spawn_file_actions_addopen(&actions, 0, path, O_RDONLY, 0)
            case .bytes(let bytes): input = (try pipeFor(0, childReads: true), bytes)
            }
            for (target, output) in [(Int32(1), stdout), (Int32(2), stderr)] {
                switch output {
                case .inherit: break
                case .null: posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_WRONLY, 0)
                case .file(let path, let mode):
                    posix_spawn_file_actions_addopen(&actions, target, path, O_WRONLY | O_CREAT | O_TRUNC, mode)
                case .capture:
                    let fd = try pipeFor(target, childReads: false)
                    if target == 1 { outFD = fd } else { errFD = fd }
                case .standardOutput:
                    if target == 2 { posix_spawn_file_actions_adddup2(&actions, 1, 2) }
                }
            }
        } catch {
            for fd in parentEnds + childEnds { close(fd) }
            throw error
        }
        defer { for fd in childEnds { close(fd) } }
        if let workingDirectory {
            sbx_spawn_addchdir(&actions, workingDirectory)
        }
        // The child starts with no signal blocked, whatever this thread blocks while
        // it spawns (a caller may block signals around the spawn to publish the pid).
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var flags: Int32 = POSIX_SPAWN_SETSIGMASK
        if !defaultSignals.isEmpty {
            var defaults = sigset_t()
            sigemptyset(&defaults)
            for sig in defaultSignals { sigaddset(&defaults, sig) }
            posix_spawnattr_setsigdefault(&attributes, &defaults)
            flags |= POSIX_SPAWN_SETSIGDEF
        }
        if newProcessGroup {
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for arg in cArgs { free(arg) } }
        var cEnv: [UnsafeMutablePointer<CChar>?]? = environment.map { env in
            env.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        }
        defer { for entry in cEnv ?? [] { free(entry) } }
        var pid: pid_t = 0
        let rc: Int32
        if cEnv != nil {
            rc = posix_spawn(&pid, executable, &actions, &attributes, cArgs, &cEnv!)
        } else {
            rc = posix_spawn(&pid, executable, &actions, &attributes, cArgs, environ)
        }
        guard rc == 0 else {
            for fd in parentEnds { close(fd) }
            throw SubprocessError(executable: executable, operation: nil, code: rc)
        }
        return Child(pid: pid, executable: executable, input: input, stdoutFD: outFD, stderrFD: errFD)
    }

    /// A started child.
    public final class Child: @unchecked Sendable {
        public let pid: pid_t
        let executable: String
        var input: (fd: Int32, bytes: [UInt8])?
        var stdoutFD: Int32
        var stderrFD: Int32

        init(pid: pid_t, executable: String, input: (fd: Int32, bytes: [UInt8])?, stdoutFD: Int32, stderrFD: Int32) {
            self.pid = pid
            self.executable = executable
            self.input = input
            self.stdoutFD = stdoutFD
            self.stderrFD = stderrFD
        }

        deinit {
            for fd in [input?.fd ?? -1, stdoutFD, stderrFD] where fd >= 0 { close(fd) }
        }

        /// Writes the stdin bytes and reads stdout and stderr until the child closes
        /// them, all at once (poll), so that no pipe fills up while another is waited
        /// on. A child that stops reading its stdin early does not end this with
        /// SIGPIPE: the rest of the input is dropped. Returns what was captured
        /// (empty for streams that are not captured).
        public func communicate() throws(SubprocessError) -> (stdout: [UInt8], stderr: [UInt8]) {
            var out: [UInt8] = []
            var err: [UInt8] = []
            var written = 0
            if let fd = input?.fd {
                let flags = fcntl(fd, F_GETFL)
                _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
                if input!.bytes.isEmpty { closeInput() }
            }
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while input != nil || stdoutFD >= 0 || stderrFD >= 0 {
                var fds: [pollfd] = []
                if let fd = input?.fd { fds.append(pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)) }
                if stdoutFD >= 0 { fds.append(pollfd(fd: stdoutFD, events: Int16(POLLIN), revents: 0)) }
                if stderrFD >= 0 { fds.append(pollfd(fd: stderrFD, events: Int16(POLLIN), revents: 0)) }
                guard Glibc.poll(&fds, nfds_t(fds.count), -1) >= 0 else {
                    if errno == EINTR { continue }
                    throw SubprocessError(executable: executable, operation: "poll", code: errno)
                }
                for entry in fds where entry.revents != 0 {
                    if let fd = input?.fd, entry.fd == fd {
                        let bytes = input!.bytes
                        let n = Subprocess.writeWithoutSIGPIPE(fd, bytes, from: written)
                        if n > 0 { written += n }
                        if written >= bytes.count || (n < 0 && errno != EAGAIN && errno != EINTR) { closeInput() }
                    } else {
                        let n = read(entry.fd, &buffer, buffer.count)
                        if n > 0 {
                            if entry.fd == stdoutFD { out += buffer[0..<n] } else { err += buffer[0..<n] }
                        } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                            close(entry.fd)
                            if entry.fd == stdoutFD { stdoutFD = -1 } else { stderrFD = -1 }
                        }
                    }
                }
            }
            return (out, err)
        }

        private func closeInput() {
            if let fd = input?.fd { close(fd) }
            input = nil
        }

        /// Waits for the child to end (EINTR is retried).
        public func wait() throws(SubprocessError) -> WaitStatus {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 {
                if errno != EINTR {
                    throw SubprocessError(executable: executable, operation: "waitpid", code: errno)
                }
            }
            return WaitStatus(rawValue: status)
        }

        /// The child's status if it has ended, nil while it runs (WNOHANG).
        public func poll() throws(SubprocessError) -> WaitStatus? {
            var status: Int32 = 0
            let done = waitpid(pid, &status, WNOHANG)
            if done == pid { return WaitStatus(rawValue: status) }
            if done < 0 && errno != EINTR {
                throw SubprocessError(executable: executable, operation: "waitpid", code: errno)
            }
            return nil
        }
    }

    /// write(2) with SIGPIPE blocked in this thread, and a SIGPIPE it caused taken
    /// back, so that a reader that went away gives EPIPE and not the end of this process.
    static func writeWithoutSIGPIPE(_ fd: Int32, _ bytes: [UInt8], from offset: Int) -> Int {
        var block = sigset_t()
        var saved = sigset_t()
        sigemptyset(&block)
        sigaddset(&block, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &block, &saved)
        var pendingBefore = sigset_t()
        sigpending(&pendingBefore)
        let wasPending = sigismember(&pendingBefore, SIGPIPE) == 1
        guard offset < bytes.count else { return 0 }
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, min(bytes.count - offset, 1 << 16)) }
        let code = errno
        if n < 0 && code == EPIPE && !wasPending {
            var zero = timespec()
            _ = sigtimedwait(&block, nil, &zero)
        }
        pthread_sigmask(SIG_SETMASK, &saved, nil)
        errno = code
        return n
    }
}

/// A child process could not be started or waited for.
public struct SubprocessError: Error, Equatable, Sendable, CustomStringConvertible {
    public var executable: String
    /// The call that failed; nil: posix_spawn (the program could not be run).
    public var operation: String?
    public var code: Int32

    public init(executable: String, operation: String?, code: Int32) {
        self.executable = executable
        self.operation = operation
        self.code = code
    }

    /// The system's explanation, with the failed call when it is not the spawn itself.
    public var reason: String {
        (operation.map { "\($0): " } ?? "") + SystemError.describe(code)
    }

    /// "cannot run /usr/bin/dot: No such file or directory".
    public var description: String { "cannot run \(executable): \(reason)" }
}
