import CSbxTrace
import DyckModel
import SbxSystem
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Why a recording could not be made or completed.
public struct RecordError: CategorizedError, Sendable {
    public enum Reason: Sendable, Equatable {
        /// No executable of that name in `PATH`.
        case commandNotFound(String)
        /// The file cannot be executed (missing, a directory, no permission).
        case notExecutable(path: String, reason: String)
        /// The kernel refused to execute it (e.g. not a program: ENOEXEC).
        case cannotExecute(path: String, reason: String)
        /// The trace file could not be created or written.
        case outputUnwritable(path: String, reason: String)
        /// The kernel refused to trace the program.
        case ptraceRefused(path: String, reason: String)
        /// A system call the recorder needs failed.
        case system(String)
    }

    public var reason: Reason

    public init(_ reason: Reason) {
        self.reason = reason
    }

    public var category: ErrorCategory {
        switch reason {
        case .commandNotFound, .notExecutable, .cannotExecute: return .badInput
        case .outputUnwritable: return .outputFailed
        case .ptraceRefused, .system: return .environment
        }
    }

    public var description: String {
        switch reason {
        case .commandNotFound(let name):
            return "\(RecordLexer.oneLine(name)): command not found (searched PATH)"
        case .notExecutable(let path, let why):
            return "\(RecordLexer.oneLine(path)): cannot run: \(why)"
        case .cannotExecute(let path, let why):
            return "\(RecordLexer.oneLine(path)): cannot execute: \(why)"
        case .outputUnwritable(let path, let why):
            return "\(RecordLexer.oneLine(path)): cannot write: \(why)"
        case .ptraceRefused(let path, let why):
            return
                "cannot trace \(RecordLexer.oneLine(path)): ptrace refused: \(why) (is ptrace disabled by Yama, seccomp or a container?)"
        case .system(let why):
            return "recording failed: \(why)"
        }
    }
}

/// How a recording ended.
public struct RecordOutcome: Sendable, Equatable {
    /// How the program's main thread ended; `shellStatus` is what `sbx record` exits with.
    public var termination: Termination
    /// Events written (the `start` line included).
    public var eventCount: Int
    /// Tasks detached untraced because their creator was killed while creating them
    /// (`specs/trace-format.md`, "Limitations"); normally empty.
    public var lostTasks: [Int32]
}

/// Runs programs under ptrace and records their markers and system calls (`sbx record`).
///
/// A recording waits for every task of the program (descendants included) to end.
/// It uses `waitpid(-1)` and process-wide signal actions, so it must be the only code
/// in the process that waits for children while it runs; a second concurrent
/// recording in the same process fails.
public enum TraceRecorder {
    /// Records `command` (program name or path, then its arguments) into the trace
    /// file `output`, which is written as the program runs: a recorder that is killed
    /// leaves a trace without `end`, which readers report as truncated. The output is
    /// created before the program starts, so an unwritable output never runs it.
    public static func record(command: [String], output: String) throws(RecordError) -> RecordOutcome {
        let path = try resolve(command)
        let writer: TraceStreamWriter
        do {
            writer = try TraceStreamWriter(path: output)
        } catch {
            throw RecordError(.outputUnwritable(path: output, reason: error.text))
        }
        let outcome: RecordOutcome
        do {
            outcome = try run(path: path, arguments: command) { event in writer.append(event) }
        } catch {
            // Keep what a started program produced (it lacks `end`, so no reader
            // mistakes it for a whole trace); without a start there is nothing.
            if writer.started {
                try? writer.close()
            } else {
                writer.abandon()
            }
            throw error
        }
        do {
            try writer.finish()
        } catch {
            throw RecordError(.outputUnwritable(path: output, reason: error.text))
        }
        return outcome
    }

    /// Records `command` in memory.
    public static func record(command: [String]) throws(RecordError) -> (trace: Trace, outcome: RecordOutcome) {
        let path = try resolve(command)
        var events: [TraceEvent] = []
        let outcome = try run(path: path, arguments: command) { events.append($0) }
        return (Trace(events: events), outcome)
    }

    /// The file `execvp` would run for `name`: `name` itself if it has a '/', else
    /// the first executable regular file of that name in `searchPath` (`PATH`; an
    /// empty entry is the current directory).
    public static func resolveCommand(_ name: String, searchPath: String? = nil) throws(RecordError) -> String {
        if name.contains("/") {
            var info = stat()
            guard stat(name, &info) == 0 else {
                throw RecordError(.notExecutable(path: name, reason: SystemError(errno).text))
            }
            if (info.st_mode & S_IFMT) == S_IFDIR {
                throw RecordError(.notExecutable(path: name, reason: SystemError(EISDIR).text))
            }
            guard access(name, X_OK) == 0 else {
                throw RecordError(.notExecutable(path: name, reason: SystemError(errno).text))
            }
            return name
        }
        guard !name.isEmpty else { throw RecordError(.commandNotFound(name)) }
        let search = searchPath ?? getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin"
        var denied: String?
        for directory in search.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = directory.isEmpty ? name : "\(directory)/\(name)"
            var info = stat()
            guard stat(candidate, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            if access(candidate, X_OK) == 0 { return candidate }
            denied = denied ?? candidate
        }
        if let denied { throw RecordError(.notExecutable(path: denied, reason: SystemError(EACCES).text)) }
        throw RecordError(.commandNotFound(name))
    }

    static func resolve(_ command: [String]) throws(RecordError) -> String {
        guard let name = command.first else { throw RecordError(.commandNotFound("")) }
        return try resolveCommand(name)
    }

    /// The event loop: C produces events, `sink` consumes them.
    static func run(path: String, arguments: [String], sink: (TraceEvent) -> Void) throws(RecordError) -> RecordOutcome
    {
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var error = sbx_trace_error()
        var started: OpaquePointer?
        guard sbx_tracer_start(path, &argv, &started, &error) == 0, let tracer = started else {
            throw failure(error, path: path)
        }
        defer { sbx_tracer_free(tracer) }

        var event = sbx_trace_event()
        var count = 0
        var lost: [Int32] = []
        while true {
            let result = sbx_tracer_next(tracer, &event, &error)
            if result == 0 { break }
            if result < 0 { throw failure(error, path: path) }
            if let converted = traceEvent(event) {
                sink(converted)
                count += 1
            } else if event.type == Int32(SBX_TRACE_EV_LOST.rawValue) {
                lost.append(event.child)
            }
        }
        return RecordOutcome(termination: termination(sbx_tracer_status(tracer)), eventCount: count, lostTasks: lost)
    }

    static func traceEvent(_ e: sbx_trace_event) -> TraceEvent? {
        func path() -> TracePath {
            guard let base = e.path else { return TracePath(bytes: []) }
            return base.withMemoryRebound(to: UInt8.self, capacity: Int(e.path_len)) {
                TracePath(bytes: Array(UnsafeBufferPointer(start: $0, count: Int(e.path_len))))
            }
        }
        switch UInt32(bitPattern: e.type) {
        case SBX_TRACE_EV_MARKER.rawValue:
            return .marker(pid: e.pid, tid: e.tid, kind: TraceMarkerKind(rawValue: e.kind), id: e.id)
        case SBX_TRACE_EV_SYSCALL.rawValue:
            return .systemCall(
                pid: e.pid, tid: e.tid, abi: e.ia32 != 0 ? .ia32 : .x86_64, number: e.kind, argument: e.id)
        case SBX_TRACE_EV_START.rawValue:
            return .start(pid: e.pid, path: path())
        case SBX_TRACE_EV_FORK.rawValue:
            return .fork(parentPID: e.pid, parentTID: e.tid, childPID: e.child)
        case SBX_TRACE_EV_THREAD.rawValue:
            return .thread(pid: e.pid, parentTID: e.tid, newTID: e.child)
        case SBX_TRACE_EV_EXEC.rawValue:
            return .exec(pid: e.pid, tid: e.tid, path: path())
        case SBX_TRACE_EV_EXIT.rawValue:
            return .exit(
                pid: e.pid, tid: e.tid,
                status: e.exit_signal != 0 ? .killed(signal: e.exit_signal) : .exited(e.exit_code))
        default:
            return nil
        }
    }

    /// A Linux wait status (the C macros do not reach Swift): the low 7 bits are the
    /// killing signal, or 0 for an exit whose code is in bits 8...15.
    static func termination(_ status: Int32) -> Termination {
        let signal = status & 0x7F
        return signal == 0 ? .exited((status >> 8) & 0xFF) : .killed(signal: signal)
    }

    static func failure(_ error: sbx_trace_error, path: String) -> RecordError {
        let what = error.what.map { String(cString: $0) } ?? "?"
        switch UInt32(bitPattern: error.stage) {
        case SBX_TRACE_ERR_EXEC.rawValue:
            if error.err == 0 {
                return RecordError(.cannotExecute(path: path, reason: "the program ended before its exec (killed?)"))
            }
            return RecordError(.cannotExecute(path: path, reason: SystemError(error.err).text))
        case SBX_TRACE_ERR_PTRACE.rawValue:
            return RecordError(.ptraceRefused(path: path, reason: SystemError(error.err).text))
        default:
            return RecordError(.system(SystemError(error.err, what).text))
        }
    }
}

/// Writes a trace to its file while the program runs. Lines are buffered and flushed
/// at every start, fork, thread, exec and exit line and whenever 64 KiB are pending,
/// so a killed recorder loses at most the markers and system calls since the last of
/// those. After a
/// write error the file is left as it is; `finish()` reports the error.
final class TraceStreamWriter {
    let path: String
    let fd: Int32
    var buffer: [UInt8]
    var failure: SystemError?
    var started = false
    static let flushThreshold = 1 << 16

    init(path: String) throws(SystemError) {
        self.path = path
        // O_CLOEXEC: the traced program must not inherit the trace.
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o666)
        guard fd >= 0 else { throw SystemError(errno) }
        buffer = Trace.headerLine()
        buffer.reserveCapacity(Self.flushThreshold + 4096)
    }

    func append(_ event: TraceEvent) {
        guard failure == nil else { return }
        if case .start = event { started = true }
        event.appendLine(to: &buffer)
        switch event {
        case .marker, .systemCall:
            if buffer.count < Self.flushThreshold { return }
        default:
            break
        }
        flush()
    }

    func flush() {
        guard failure == nil, !buffer.isEmpty else { return }
        do {
            try TraceIO.writeAll(fd, buffer)
        } catch {
            failure = error
        }
        buffer.removeAll(keepingCapacity: true)
    }

    func finish() throws(SystemError) {
        buffer += Trace.endLine
        try close()
    }

    func close() throws(SystemError) {
        flush()
        if failure == nil && fsync(fd) != 0 && errno != EINVAL { failure = SystemError(errno) }
        if Glibc.close(fd) != 0 && failure == nil { failure = SystemError(errno) }
        if let failure { throw failure }
    }

    /// The program never started: remove the file this writer created.
    func abandon() {
        Glibc.close(fd)
        unlink(path)
    }
}
