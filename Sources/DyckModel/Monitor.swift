import CSbxABI
/// The kinds of marker an instrumented program issues (`specs/marker-abi.md`,
/// `kmod/uapi/sbx_marker.h`).
/// Each case's raw value is its SBX_MARK_* constant: the numbers are defined once, in
/// the ABI header.
public enum MarkerKind: CaseIterable, Sendable, RawRepresentable {
    case libc
    case call
    case ret
    case callbackEnter
    case callbackExit
    case tail
    case setjmpSave
    case setjmpResume

    public var rawValue: Int {
        switch self {
        case .libc: return Int(SBX_MARK_LIBC)
        case .call: return Int(SBX_MARK_CALL)
        case .ret: return Int(SBX_MARK_RET)
        case .callbackEnter: return Int(SBX_MARK_CB_ENTER)
        case .callbackExit: return Int(SBX_MARK_CB_EXIT)
        case .tail: return Int(SBX_MARK_TAIL)
        case .setjmpSave: return Int(SBX_MARK_SJ_SAVE)
        case .setjmpResume: return Int(SBX_MARK_SJ_RESUME)
        }
    }

    public init?(rawValue: Int) {
        guard let kind = Self.allCases.first(where: { $0.rawValue == rawValue }) else { return nil }
        self = kind
    }

    /// The name used in traces and reports.
    public var name: String {
        switch self {
        case .libc: return "libc"
        case .call: return "call"
        case .ret: return "ret"
        case .callbackEnter: return "cb-enter"
        case .callbackExit: return "cb-exit"
        case .tail: return "tail"
        case .setjmpSave: return "sj-save"
        case .setjmpResume: return "sj-resume"
        }
    }

    public init?(name: String) {
        guard let kind = MarkerKind.allCases.first(where: { $0.name == name }) else { return nil }
        self = kind
    }
}

/// One marker as the monitor receives it: the raw kind number, so that unknown kinds
/// reach the monitor (and are refused there), and the 32-bit id.
public struct Marker: Hashable, Sendable {
    public var kind: Int
    public var id: Int

    public init(kind: Int, id: Int) {
        self.kind = kind
        self.id = id
    }

    public init(_ kind: MarkerKind, _ id: Int) {
        self.init(kind: kind.rawValue, id: id)
    }
}

/// The reference monitor of one thread: exactly the semantics of
/// `specs/marker-abi.md` ("Meaning to a monitor"), and the thread's system-call
/// window (`specs/kernel-abi.md`, "Stepping" and "System-call binding"). The kernel's
/// monitor core must accept and refuse the same streams of markers and system calls.
public struct ThreadMonitor: Sendable {
    public struct State: Hashable, Comparable, Sendable {
        public var function: Int
        public var state: Int

        public static func < (a: State, b: State) -> Bool {
            (a.function, a.state) < (b.function, b.state)
        }
    }

    public enum FrameKind: Hashable, Sendable {
        case root
        case site(Int)
        case callback(Int)
    }

    public struct Frame: Hashable, Sendable {
        public var kind: FrameKind
        /// Sorted, without duplicates.
        public var frontier: [State]
        /// A callback frame: the window its `CB_ENTER` interrupted, which its
        /// `CB_EXIT` restores. `.none` in other frames.
        public var savedWindow: SystemCallWindow = .none
    }

    /// A `setjmp` that returned 0 in a frame that is still alive: the frame at
    /// logical depth `depth`, the lowest frame of entry `entry`.
    struct SetjmpRecord: Hashable, Sendable {
        var number: Int
        var depth: Int
        var entry: Int
        var frontier: [State]
    }

    /// Slots per thread (frame entries and setjmp records together), as the
    /// blob's `stack_limit` (`SBX_STACK_LIMIT_DEFAULT`).
    public static let defaultStackLimit = 1024
    /// The bound on the logical depth, as the blob's `max_depth`
    /// (`SBX_MAX_DEPTH_DEFAULT`).
    public static let defaultMaxDepth = 1 << 20

    public let tables: MonitorTables
    /// The logical stack, bottom first: one element per frame (folded frames too).
    public private(set) var stack: [Frame]
    /// Per frame of `stack`: whether it is the lowest frame of its entry in the
    /// kernel's store (`specs/kernel-abi.md`, "Stepping"). The top is always one.
    var entryStarts: [Bool]
    /// Entries in use: the number of `true` in `entryStarts`.
    public private(set) var entryCount = 1
    /// Ordered by depth (never decreasing), none above the stack.
    var setjmpRecords: [SetjmpRecord] = []
    /// Slots for entries and records together (`stack_limit`).
    public let stackLimit: Int
    /// The bound on `stack.count` (`max_depth`).
    public let maxDepth: Int

    /// Setjmp records in use.
    public var setjmpRecordCount: Int { setjmpRecords.count }
    /// The logical depth, root frame included.
    public var depth: Int { stack.count }
    /// The thread's window: set by every marker the monitor accepts (a refused one
    /// changes nothing). A forked child's copy keeps it.
    public internal(set) var window: SystemCallWindow

    /// A thread of a freshly exec'd program: at the entry function's initial state,
    /// in the start window.
    public init(
        tables: MonitorTables, stackLimit: Int = ThreadMonitor.defaultStackLimit,
        maxDepth: Int = ThreadMonitor.defaultMaxDepth
    ) {
        self.tables = tables
        self.stackLimit = stackLimit
        self.maxDepth = maxDepth
        let entry = tables.policy.entry
        stack = [Frame(kind: .root, frontier: [State(function: entry, state: tables.initial(entry))])]
        entryStarts = [true]
        window = .start
    }

    /// A new thread of a running process: nothing is allowed until libc enters its
    /// start routine as a callback. It runs in `window`, the window of the thread
    /// that created it (the libc call that made the clone, e.g. `pthread_create`).
    public static func newThread(
        tables: MonitorTables, stackLimit: Int = ThreadMonitor.defaultStackLimit,
        maxDepth: Int = ThreadMonitor.defaultMaxDepth, window: SystemCallWindow = .none
    ) -> ThreadMonitor {
        var monitor = ThreadMonitor(tables: tables, stackLimit: stackLimit, maxDepth: maxDepth)
        monitor.stack = [Frame(kind: .root, frontier: [])]
        monitor.window = window
        return monitor
    }

    /// A new thread made by `creator` (same tables and stack bound), in its window.
    public static func newThread(createdBy creator: ThreadMonitor) -> ThreadMonitor {
        newThread(
            tables: creator.tables, stackLimit: creator.stackLimit, maxDepth: creator.maxDepth,
            window: creator.window)
    }

    public enum Refusal: Hashable, Sendable {
        case unknownKind
        case idOutOfRange
        case notAllowedHere
        case returnToWrongSite(expected: FrameKind)
        case cannotReturnYet
        case notACallback
        /// A push beyond `maxDepth` frames.
        case stackOverflow
        case noSetjmpRecord
        /// A push that needs a new entry, or a `setjmp` that needs a new record,
        /// with all `stackLimit` slots in use.
        case storeFull
        /// A system call in neither the window's set nor the ambient set.
        case systemCallOutsideWindow
        /// `mmap`, `mprotect` or `pkey_mprotect` with `PROT_EXEC` in a window whose
        /// set may not create executable mappings.
        case executableMapping
        /// A system call through the ia32 or x32 ABI (never allowed).
        case compatSystemCall
        /// `io_uring_setup`, `io_uring_enter` or `io_uring_register` (never allowed).
        case ioUring
        /// A buffered event that may not come from the buffer: a kind that is
        /// always synchronous, an id out of range, or a `LIBC` event of a symbol
        /// that is not bufferable (`stepBuffered(word:bufferable:)`; reason 29).
        case bufferedEvent
    }

    /// Log mode's resynchronisation (`specs/kernel-abi.md`, "Log mode"), the
    /// reference of the kernel's `sbx_resync`: a `LIBC` marker whose symbol some
    /// state of the functions of the top frame's frontier allows moves the top
    /// frame to the frontier of every state that symbol leads to from any state of
    /// those functions, and the window to the symbol's. Returns false (nothing
    /// changes) for any other marker, a symbol out of range or allowed nowhere in
    /// those functions, or an empty frontier (a new thread's root).
    public mutating func resynchronise(_ marker: Marker) -> Bool {
        guard marker.kind == MarkerKind.libc.rawValue, marker.id >= 0,
            marker.id < tables.policy.symbols.count
        else { return false }
        var next = Set<State>()
        for function in Set(top.frontier.map(\.function)) {
            for edges in tables.outgoing[function] {
                for edge in edges where edge.label == .libc(marker.id) {
                    next.insert(State(function: function, state: edge.to))
                }
            }
        }
        if next.isEmpty { return false }
        stack[stack.count - 1].frontier = next.sorted()
        window = .libc(marker.id)
        return true
    }

    /// Feeds one marker. On refusal the state is left as it was before the marker.
    public mutating func step(_ marker: Marker) -> Refusal? {
        guard let kind = MarkerKind(rawValue: marker.kind) else { return .unknownKind }
        let policy = tables.policy
        let id = marker.id
        switch kind {
        case .libc:
            guard id >= 0, id < policy.symbols.count else { return .idOutOfRange }
            let next = tables.successors(of: top.frontier, on: .libc(id))
            if next.isEmpty { return .notAllowedHere }
            stack[stack.count - 1].frontier = next
            window = .libc(id)
        case .call, .tail:
            guard id >= 0, id < policy.sites.count else { return .idOutOfRange }
            let continuation = tables.successors(of: top.frontier, on: .call(id))
            if continuation.isEmpty { return .notAllowedHere }
            let entered = tables.entryStates(ofSite: id)
            if kind == .tail {
                guard continuation.contains(where: tables.isFinal) else { return .notAllowedHere }
                // The calling frame is replaced: its setjmp buffers are dead.
                dropSetjmpRecords(from: stack.count)
                stack[stack.count - 1].frontier = entered
            } else {
                var caller = top
                caller.frontier = continuation
                let fold = canFold(caller)
                if let refusal = pushRefusal(fold: fold) { return refusal }
                stack[stack.count - 1].frontier = continuation
                push(Frame(kind: .site(id), frontier: entered), fold: fold)
            }
            window = .none
        case .ret:
            guard id >= 0, id < policy.sites.count else { return .idOutOfRange }
            guard top.kind == .site(id) else { return .returnToWrongSite(expected: top.kind) }
            guard top.frontier.contains(where: tables.isFinal) else { return .cannotReturnYet }
            pop()
            window = .none
        case .callbackEnter:
            guard id >= 0, id < policy.functions.count else { return .idOutOfRange }
            guard tables.isCallback(id) else { return .notACallback }
            let fold = canFold(top)
            if let refusal = pushRefusal(fold: fold) { return refusal }
            push(
                Frame(
                    kind: .callback(id), frontier: [State(function: id, state: tables.initial(id))],
                    savedWindow: window), fold: fold)
            window = .none
        case .callbackExit:
            guard id >= 0, id < policy.functions.count else { return .idOutOfRange }
            guard top.kind == .callback(id) else { return .returnToWrongSite(expected: top.kind) }
            guard top.frontier.contains(where: tables.isFinal) else { return .cannotReturnYet }
            window = top.savedWindow
            pop()
        case .setjmpSave:
            guard id >= 0 else { return .idOutOfRange }
            // A re-save in the same frame replaces the record; the top frame's
            // records are the last ones.
            var i = setjmpRecords.count - 1
            while i >= 0, setjmpRecords[i].depth == stack.count, setjmpRecords[i].number != id { i -= 1 }
            if i >= 0, setjmpRecords[i].depth == stack.count {
                setjmpRecords[i].frontier = top.frontier
            } else {
                guard entryCount + setjmpRecords.count < stackLimit else { return .storeFull }
                setjmpRecords.append(
                    SetjmpRecord(number: id, depth: stack.count, entry: entryCount - 1, frontier: top.frontier))
            }
            window = .none
        case .setjmpResume:
            guard id >= 0 else { return .idOutOfRange }
            // Every record is of a live frame: the most recent of the number.
            guard let record = setjmpRecords.last(where: { $0.number == id }) else { return .noSetjmpRecord }
            dropSetjmpRecords(from: record.depth + 1)
            stack.removeLast(stack.count - record.depth)
            entryStarts.removeLast(entryStarts.count - record.depth)
            // The record's frame is the lowest of its entry, so it starts one.
            entryCount = record.entry + 1
            stack[stack.count - 1].frontier = record.frontier
            window = .none
        }
        return nil
    }

    /// The records of the frames at depth `level` and above die.
    private mutating func dropSetjmpRecords(from level: Int) {
        while let last = setjmpRecords.last, last.depth >= level { setjmpRecords.removeLast() }
    }

    /// Whether the top frame, as `suspended`, joins the entry below when a frame is
    /// pushed over it: equal to the frame below, and holding no setjmp record (a
    /// record's frame stays the lowest of its entry).
    private func canFold(_ suspended: Frame) -> Bool {
        guard stack.count >= 2 else { return false }
        if let last = setjmpRecords.last, last.depth == stack.count { return false }
        return stack[stack.count - 2] == suspended
    }

    private func pushRefusal(fold: Bool) -> Refusal? {
        if stack.count >= maxDepth { return .stackOverflow }
        if !fold && entryCount + setjmpRecords.count >= stackLimit { return .storeFull }
        return nil
    }

    private mutating func push(_ frame: Frame, fold: Bool) {
        if fold {
            entryStarts[entryStarts.count - 1] = false
        } else {
            entryCount += 1
        }
        stack.append(frame)
        entryStarts.append(true)
    }

    /// Pops the top frame (never the root) and its setjmp records; the frame below
    /// becomes an entry of its own (split off a folded entry, or it already was).
    private mutating func pop() {
        dropSetjmpRecords(from: stack.count)
        stack.removeLast()
        entryStarts.removeLast()
        if entryStarts[entryStarts.count - 1] {
            entryCount -= 1
        } else {
            entryStarts[entryStarts.count - 1] = true
        }
    }

    public var top: Frame { stack[stack.count - 1] }

    /// What the top frame would accept next: libc symbol ids, call-site ids, and
    /// whether it may return.
    public func expected() -> (libc: [Int], sites: [Int], mayReturn: Bool) {
        var libc = Set<Int>()
        var sites = Set<Int>()
        for s in top.frontier {
            for edge in tables.outgoing[s.function][s.state] {
                switch edge.label {
                case .libc(let l): libc.insert(l)
                case .call(let c): sites.insert(c)
                }
            }
        }
        let mayReturn = top.kind != .root && top.frontier.contains(where: tables.isFinal)
        return (libc.sorted(), sites.sorted(), mayReturn)
    }
}

/// Per-policy tables the monitors of all threads share.
public final class MonitorTables: Sendable {
    public let policy: Policy
    let outgoing: [[[Edge]]]
    let finals: [Set<Int>]
    let callbackSet: Set<Int>

    public init(policy: Policy) {
        self.policy = policy
        outgoing = policy.functions.map { $0.automaton.outgoing() }
        finals = policy.functions.map(\.automaton.finals)
        callbackSet = Set(policy.callbacks)
    }

    func initial(_ function: Int) -> Int {
        policy.functions[function].automaton.initial
    }

    func isFinal(_ s: ThreadMonitor.State) -> Bool {
        finals[s.function].contains(s.state)
    }

    func isCallback(_ function: Int) -> Bool {
        callbackSet.contains(function)
    }

    func successors(of frontier: [ThreadMonitor.State], on label: Label) -> [ThreadMonitor.State] {
        var result = Set<ThreadMonitor.State>()
        for s in frontier {
            for edge in outgoing[s.function][s.state] where edge.label == label {
                result.insert(ThreadMonitor.State(function: s.function, state: edge.to))
            }
        }
        return result.sorted()
    }

    func entryStates(ofSite site: Int) -> [ThreadMonitor.State] {
        Set(policy.sites[site].callees.map { ThreadMonitor.State(function: $0, state: initial($0)) }).sorted()
    }
}
