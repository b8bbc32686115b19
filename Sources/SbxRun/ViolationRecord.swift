import CSbxDevice

/// A violation as the kernel reports it (struct sbx_violation_record).
public struct ViolationRecord: Sendable, Equatable {
    public var sequence: UInt64
    public var timeNanoseconds: UInt64
    public var pid: UInt32
    public var tid: UInt32
    public var command: String
    public var policyID: UInt32
    public var reason: UInt32
    public var action: UInt32
    public var syscall: UInt32
    public var kind: UInt64
    public var id: UInt64
    public var tag: UInt32
    public var macroState: UInt32
    public var depth: UInt32
    public var flags: UInt32
    /// Frame tags from the top down (at most 16).
    public var stack: [UInt32]
    /// For a system call outside its window: its third argument; for a marker
    /// that is not its pinned site: the link-time address it came from.
    public var detail: UInt64 = 0
    /// For an exec refused by the transition, or of a rebuilt executable: the file
    /// exec'd, as the kernel names it (its end, when longer than 63 bytes).
    public var path: String?

    public var isMarker: Bool { flags & UInt32(SBX_REC_F_MARKER) != 0 }
    public var killed: Bool { flags & UInt32(SBX_REC_F_KILLED) != 0 }
    public var isExeMismatch: Bool { reason == UInt32(SBX_REASON_EXE_MISMATCH) }
    /// A system call outside its window (or an executable mapping outside the loader).
    public var isWindowViolation: Bool {
        reason == UInt32(SBX_REASON_SYSCALL_WINDOW) || reason == UInt32(SBX_REASON_EXEC_MAPPING)
    }
    public var isExecMapping: Bool { reason == UInt32(SBX_REASON_EXEC_MAPPING) }
    public var isUnpinned: Bool { reason == UInt32(SBX_REASON_UNPINNED) }
    /// An exec the thread's exec transition refused.
    public var isExecDenied: Bool { reason == UInt32(SBX_REASON_EXEC_DENIED) }
    /// The exec of an installed executable whose content is not the one installed.
    public var isRebuilt: Bool { reason == UInt32(SBX_REASON_EXE_REBUILT) }
    /// A system call no sandboxed thread may make (specs/kernel-abi.md, "Never allowed").
    public var isForbidden: Bool { reason == UInt32(SBX_REASON_FORBIDDEN_SYSCALL) }
    /// A /proc/PID/mem file opened for writing.
    public var isProcMemWrite: Bool { reason == UInt32(SBX_REASON_PROC_MEM_WRITE) }
    /// A refused event that came from the thread's event buffer: a marker record
    /// whose system call is the one at whose entry the buffer was drained, not 999.
    public var isBuffered: Bool { isMarker && syscall != UInt32(SBX_MARKER_NR) }
    /// Log mode: the thread exited (or execed) still lost after a violation; `id`
    /// is the number of markers that went unchecked (ABI 6). No violation itself.
    public var isUnresynced: Bool { reason == UInt32(SBX_REASON_UNRESYNCED) }

    public init(
        sequence: UInt64 = 0, pid: UInt32 = 0, tid: UInt32 = 0, command: String = "", policyID: UInt32 = 0,
        reason: UInt32, action: UInt32 = UInt32(SBX_ACTION_KILL), syscall: UInt32 = UInt32(SBX_MARKER_NR),
        kind: UInt64, id: UInt64, tag: UInt32, macroState: UInt32, depth: UInt32,
        flags: UInt32 = UInt32(SBX_REC_F_MARKER), stack: [UInt32]
    ) {
        self.sequence = sequence
        self.timeNanoseconds = 0
        self.pid = pid
        self.tid = tid
        self.command = command
        self.policyID = policyID
        self.reason = reason
        self.action = action
        self.syscall = syscall
        self.kind = kind
        self.id = id
        self.tag = tag
        self.macroState = macroState
        self.depth = depth
        self.flags = flags
        self.stack = stack
    }

    init(_ r: sbx_violation_record) {
        sequence = r.seq
        timeNanoseconds = r.time_ns
        pid = r.pid
        tid = r.tid
        command = cString(r.comm)
        policyID = r.policy_id
        reason = r.reason
        action = r.action
        syscall = r.syscall_nr
        kind = r.kind
        id = r.id
        tag = r.tag
        macroState = r.mstate
        depth = r.depth
        flags = r.flags
        detail = r.reserved
        if r.reason == UInt32(SBX_REASON_EXEC_DENIED) || r.reason == UInt32(SBX_REASON_EXE_REBUILT) {
            path = cString(r.path)
            // The frame that execed: only its tag (the rest of the field is the path).
            stack = r.depth > 0 ? [r.tag] : []
            return
        }
        let frames = Int(min(r.depth, UInt32(SBX_REC_STACK)))
        stack = withUnsafeBytes(of: r.stack) { Array($0.bindMemory(to: UInt32.self).prefix(frames)) }
    }

    /// The reason's name in the kernel ABI (`specs/kernel-abi.md`).
    public var reasonName: String {
        switch Int32(reason) {
        case SBX_REASON_UNKNOWN_KIND: return "unknown marker kind"
        case SBX_REASON_ID_RANGE: return "marker id out of range"
        case SBX_REASON_NOT_ALLOWED: return "not allowed here"
        case SBX_REASON_WRONG_RETURN: return "return to the wrong call site"
        case SBX_REASON_CANNOT_RETURN: return "function cannot return yet"
        case SBX_REASON_NOT_CALLBACK: return "not a callback"
        case SBX_REASON_STACK_OVERFLOW:
            return "call stack deeper than the policy's bound of \(depth) frames (max_depth: sbx run --max-depth, "
                + "sbx policy install --max-depth or sbx blob --max-depth raises it)"
        case SBX_REASON_STORE_FULL:
            return "no slot left for another distinct frame or setjmp record (the policy's stack_limit: "
                + "sbx run --stack-limit, sbx policy install --stack-limit or sbx blob --stack-limit raises it)"
        case SBX_REASON_NO_SETJMP: return "longjmp without a matching setjmp"
        case SBX_REASON_BAD_STATE: return "inconsistent monitor state"
        case SBX_REASON_COMPAT_SYSCALL: return "32-bit or x32 system call"
        case SBX_REASON_IO_URING: return "io_uring system call"
        case SBX_REASON_NO_MEMORY: return "no memory for a monitor state"
        case SBX_REASON_EXE_MISMATCH: return "the file exec'd is not the program the policy was checked against"
        case SBX_REASON_SYSCALL_WINDOW: return "system call the announced libc function cannot make"
        case SBX_REASON_EXEC_MAPPING:
            return "executable mapping outside the dynamic loader, writable code, or code from memory that was written"
        case SBX_REASON_UNPINNED: return "marker not from its pinned site"
        case SBX_REASON_EXEC_DENIED:
            return detail == UInt64(SBX_EXEC_DENY)
                ? "exec refused (--exec=deny)" : "exec of a program without an installed policy"
        case SBX_REASON_EXE_REBUILT: return "this executable was rebuilt; its policy is not installed"
        case SBX_REASON_FORBIDDEN_SYSCALL: return "system call no sandboxed program may make"
        case SBX_REASON_PROC_MEM_WRITE: return "/proc/PID/mem opened for writing"
        case SBX_REASON_UNRESYNCED: return "monitoring lost: never resynchronised after a deviation"
        case SBX_REASON_BUFFER:
            return kind == 0 && id == 0
                ? "the thread's event buffer could not be read or cleared"
                : "buffered event that may not come from the buffer (a forged or sensitive event)"
        default: return "reason \(reason)"
        }
    }
}
