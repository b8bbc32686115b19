import CSbxTrace
import DyckModel

/// A recorded run of an instrumented program: every marker system call, every other
/// system call (version 2), and every fork, new thread, exec and exit of the
/// program's tasks, in the order the recorder observed them (`specs/trace-format.md`).
/// The first event is always `.start`.
public struct Trace: Equatable, Sendable {
    public var events: [TraceEvent]
    /// The format version the trace is written in (`TraceFormat.readableVersions`).
    /// Version 1 has no `.systemCall` events: its recorder wrote only markers.
    public var version: Int

    public init(events: [TraceEvent] = [], version: Int = TraceFormat.version) {
        self.events = events
        self.version = version
    }

    /// Whether the recorder recorded every system call (version 2 on), so that a
    /// trace without `.systemCall` events really made none.
    public var recordsSystemCalls: Bool { version >= 2 }
}

/// One line of a trace. Process ids (`pid`) are thread-group ids; thread ids (`tid`)
/// are the kernel's task ids, so a process's main thread has `tid == pid`.
public enum TraceEvent: Hashable, Sendable {
    /// The traced program's first exec succeeded; `pid` is its main thread.
    case start(pid: Int32, path: TracePath)
    /// Thread `tid` of process `pid` issued a marker system call.
    case marker(pid: Int32, tid: Int32, kind: TraceMarkerKind, id: UInt64)
    /// Thread `tid` of process `pid` entered system call `number` through `abi`
    /// (anything but a marker), whose third argument was `argument` (`rdx`; `edx`
    /// for ia32). Version 2 on.
    case systemCall(pid: Int32, tid: Int32, abi: SystemCallABI, number: UInt64, argument: UInt64)
    /// Thread `parentTID` of `parentPID` made a new process (fork, vfork, or clone
    /// without CLONE_THREAD) whose main thread is `childPID`.
    case fork(parentPID: Int32, parentTID: Int32, childPID: Int32)
    /// Thread `parentTID` of `pid` made a new thread `newTID` in the same process.
    case thread(pid: Int32, parentTID: Int32, newTID: Int32)
    /// Thread `tid` of `pid` executed `path`. Every other thread of `pid` has ended
    /// before this event; afterwards the process's only thread has tid `pid`.
    case exec(pid: Int32, tid: Int32, path: TracePath)
    /// Thread `tid` of `pid` ended.
    case exit(pid: Int32, tid: Int32, status: Termination)

    /// The process the event belongs to (for `fork`, the parent).
    public var pid: Int32 {
        switch self {
        case .start(let pid, _), .marker(let pid, _, _, _), .systemCall(let pid, _, _, _, _), .thread(let pid, _, _),
            .exec(let pid, _, _), .exit(let pid, _, _):
            return pid
        case .fork(let parentPID, _, _):
            return parentPID
        }
    }

    /// The thread the event happened on (for `fork` and `thread`, the creator).
    public var tid: Int32 {
        switch self {
        case .start(let pid, _): return pid
        case .marker(_, let tid, _, _), .systemCall(_, let tid, _, _, _), .exec(_, let tid, _), .exit(_, let tid, _):
            return tid
        case .fork(_, let parentTID, _): return parentTID
        case .thread(_, let parentTID, _): return parentTID
        }
    }
}

/// The kind of a marker (`specs/marker-abi.md`), as the program put it in `rdi`: one
/// of the kinds the ABI defines (`MarkerKind`, whose numbers and names are defined once,
/// from `kmod/uapi/sbx_marker.h`), or a number it does not define, kept as `.unknown`
/// so that a checker sees it and refuses it instead of the recorder hiding it.
public enum TraceMarkerKind: Hashable, Sendable, CustomStringConvertible {
    /// A kind the ABI defines.
    case known(MarkerKind)
    /// Any other value of `rdi`; never the number of a `MarkerKind` (`init(rawValue:)`
    /// and the trace reader never make one that is).
    case unknown(UInt64)

    public init(rawValue: UInt64) {
        if let small = Int(exactly: rawValue), let kind = MarkerKind(rawValue: small) {
            self = .known(kind)
        } else {
            self = .unknown(rawValue)
        }
    }

    public var rawValue: UInt64 {
        switch self {
        case .known(let kind): return UInt64(kind.rawValue)
        case .unknown(let value): return value
        }
    }

    /// The name in a trace: the kind's (`MarkerKind.name`: `libc`, `call`, ...), or
    /// `kind-N` for an unknown number.
    public var name: String {
        switch self {
        case .known(let kind): return kind.name
        case .unknown(let value): return "kind-\(value)"
        }
    }

    public var description: String { name }

    /// False for `.unknown` (also for `.unknown` built with a known number, which
    /// `init(rawValue:)` never does and a trace cannot spell).
    public var isKnown: Bool {
        if case .known = self { return true }
        return false
    }
}

/// How a thread or the program ended.
public enum Termination: Hashable, Sendable, CustomStringConvertible {
    /// `_exit`/`exit_group` with this code (0...255).
    case exited(Int32)
    /// Killed by this signal (1...64).
    case killed(signal: Int32)

    /// The status a shell reports: the code, or 128 + the signal.
    public var shellStatus: Int32 {
        switch self {
        case .exited(let code): return code
        case .killed(let signal): return 128 + signal
        }
    }

    public var description: String {
        switch self {
        case .exited(let code): return "exited \(code)"
        case .killed(let signal): return "killed \(signal)"
        }
    }
}

/// A file path as the kernel has it: bytes, not necessarily UTF-8, never NUL.
public struct TracePath: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public var bytes: [UInt8]

    public init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    public init(_ string: String) {
        bytes = Array(string.utf8)
    }

    public init(stringLiteral value: String) {
        self.init(value)
    }

    /// For display; bytes that are not UTF-8 become U+FFFD.
    public var description: String {
        String(decoding: bytes, as: UTF8.self)
    }
}
