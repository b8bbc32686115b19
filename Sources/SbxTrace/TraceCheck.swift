import DyckModel

/// Checks a recorded trace against the policy its markers were made for, thread by
/// thread, with the reference monitor (`ThreadMonitor`), following forks, threads,
/// execs and exits as `specs/marker-abi.md` prescribes. Every recorded system call
/// (trace version 2) is checked against its thread's window with the kernel's rules
/// (`ThreadMonitor.enforcedSystemCall`, `specs/checking.md`, "System calls").
public struct TraceChecker {
    public enum Mode: String, Sendable {
        case dyck
        /// The single-copy flattened model: call, return and tail markers carry no
        /// information there and are skipped; callbacks keep their frames.
        case nfa
    }

    /// Why and where the trace left the policy.
    public struct Refusal: Sendable {
        /// Index of the refused event in `trace.events`.
        public var eventIndex: Int
        public var pid: Int32
        public var tid: Int32
        public var reason: ThreadMonitor.Refusal
        /// What the refused marker means, e.g. "libc fopen" or "ret of site 3: h() at a.c:9",
        /// or the refused system call, e.g. "system call 59".
        public var event: String
        /// A refused system call: the thread's window ("libc fopen", "start (...)",
        /// "none (...)"); nil for a refused marker.
        public var window: String?
        /// The functions the thread may have been in.
        public var functions: [String]
        /// The frames from the bottom: "main", "site 0: a() at a.c:20", "callback cmp".
        public var stack: [String]
        /// What the policy allowed instead.
        public var expected: [String]

        /// The lines `sbx check --trace` prints for this refusal in `mode` of the trace at `path`.
        public func report(mode: Mode, path: String) -> String {
            var lines = [
                "refused: \(event) (\(mode.rawValue) mode)",
                "  where: pid \(pid) tid \(tid), event \(eventIndex + 1) of \(path)",
                "  why: \(reason.explanation)"
            ]
            if let window { lines.append("  window: \(window)") }
            lines += [
                "  in: \(functions.isEmpty ? "(no function)" : functions.joined(separator: ", "))",
                "  call stack: \(stack.joined(separator: " > "))",
                "  allowed here: \(expected.isEmpty ? "nothing" : expected.joined(separator: "; "))"
            ]
            return lines.joined(separator: "\n")
        }
    }

    public struct Outcome: Sendable {
        public var checkedMarkers = 0
        /// System calls of checked threads, each checked against its window.
        public var checkedSystemCalls = 0
        /// Whether system calls were checked against windows: the policy has a binding
        /// (`Policy.syscalls`) and the trace recorded system calls (version 2). Without
        /// a binding only the calls the kernel refuses whatever the policy (io_uring,
        /// 32-bit ABIs) can be refused.
        public var systemCallsBound = false
        public var threads = 0
        public var processes = 0
        /// Processes that exec'd another program: their later markers are not checked.
        public var unchecked: [String] = []
        public var refusal: Refusal?
    }

    /// The trace is not of the policy's program: checking it would only report
    /// meaningless refusals (ids the policy does not have).
    public struct OtherProgram: CategorizedError {
        public var trace: String
        public var policy: String
        public var reason: String
        public init(trace: String, policy: String, reason: String) {
            self.trace = trace
            self.policy = policy
            self.reason = reason
        }
        public var category: ErrorCategory { .badInput }
        public var description: String {
            "\(trace): not a trace of the program of \(policy): \(reason); give the policy of the traced program"
        }
    }

    /// Trace checking needs the policy whose ids the markers carry.
    public struct NotADyckPolicy: CategorizedError {
        public var category: ErrorCategory { .badInput }
        public var description: String {
            "trace checking needs the policy dyck-gen wrote (kind dyck), whose ids the markers carry; "
                + "use --mode nfa with that policy to check in the flattened model"
        }
    }

    let policy: Policy
    let tables: MonitorTables
    public let mode: Mode
    /// nfa mode: how the markers, made for `policy`, read in its flattened model.
    let flat: FlattenedMarkers?

    public init(policy: Policy, mode: Mode) throws {
        try self.init(policy: policy, mode: mode, flattened: nil)
    }

    /// As `init(policy:mode:)`; in nfa mode `flattened`, if given, must be
    /// `policy.flattened()`, which is then not computed again.
    public init(policy: Policy, mode: Mode, flattened: Policy?) throws {
        guard policy.kind == .dyck else { throw NotADyckPolicy() }
        self.policy = policy
        self.mode = mode
        switch mode {
        case .dyck:
            tables = MonitorTables(policy: policy)
            flat = nil
        case .nfa:
            let map =
                flattened.map { FlattenedMarkers(policy: policy, flattened: $0) } ?? FlattenedMarkers(policy: policy)
            tables = MonitorTables(policy: map.flattened)
            flat = map
        }
    }

    /// Whether the policy binds system calls to windows (`Policy.syscalls`).
    public var bindsSystemCalls: Bool { policy.syscalls != nil }

    /// Steps `monitor` with a marker of the trace: nil if allowed, with whether the
    /// model used it (nfa mode skips the call-site markers it has no use for; they
    /// only set the window to program code).
    func step(_ monitor: inout ThreadMonitor, _ marker: Marker) -> (refusal: ThreadMonitor.Refusal?, used: Bool) {
        guard let flat else { return (monitor.step(marker), true) }
        switch flat.translate(marker, top: monitor.top.kind) {
        case .skip:
            monitor.skipSiteMarker()
            return (nil, false)
        case .step(let translated): return (monitor.step(translated), true)
        case .refuse(let reason): return (reason, true)
        }
    }

    public func check(_ trace: Trace) -> Outcome {
        replay(trace) { _, _, _ in }
    }

    /// A change of one thread's monitor during `replay`.
    public enum ReplayStep: Hashable, Sendable {
        /// `tid` got a fresh monitor: the traced program's start or a re-exec of it
        /// (at the entry), or a new thread (`ThreadMonitor.newThread`, nothing yet).
        case started(tid: Int32)
        /// `childTID`, the main thread of a new process, got a copy of `parentTID`'s
        /// monitor.
        case forked(parentTID: Int32, childTID: Int32)
        /// `tid`'s monitor accepted and used a marker of this kind (nfa mode skips
        /// call, return and tail markers: they are not reported).
        case stepped(tid: Int32, kind: TraceMarkerKind)
    }

    /// `check`, calling `observe` with the index of the event in `trace.events`, what
    /// happened and the thread's monitor afterwards, for every change of a checked
    /// thread's automaton up to the refusal (not included); changes of the window
    /// alone (skipped site markers in nfa mode) are not reported. With `systemCalls`
    /// false the system-call lines are skipped (`sbx stats` measures the markers only).
    public func replay(
        _ trace: Trace, systemCalls: Bool = true, observe: (Int, ReplayStep, ThreadMonitor) -> Void
    ) -> Outcome {
        var outcome = Outcome()
        outcome.systemCallsBound = systemCalls && bindsSystemCalls && trace.recordsSystemCalls
        var threads: [Int32: ThreadMonitor] = [:]
        var unchecked = Set<Int32>()
        var startPath: TracePath?
        for (index, event) in trace.events.enumerated() {
            switch event {
            case let .start(pid, path):
                startPath = path
                let monitor = ThreadMonitor(tables: tables)
                threads[pid] = monitor
                outcome.processes += 1
                outcome.threads += 1
                observe(index, .started(tid: pid), monitor)
            case let .marker(pid, tid, kind, id):
                guard !unchecked.contains(pid), var monitor = threads[tid] else { continue }
                let marker = Marker(kind: Int(clamping: kind.rawValue), id: Int(clamping: id))
                let (refusal, used) = step(&monitor, marker)
                if let reason = refusal {
                    outcome.refusal = describe(
                        reason, marker: marker, kind: kind, rawID: id, monitor: monitor, index: index, pid: pid,
                        tid: tid)
                    return outcome
                }
                threads[tid] = monitor
                guard used else { continue }
                outcome.checkedMarkers += 1
                observe(index, .stepped(tid: tid, kind: kind), monitor)
            case let .systemCall(pid, tid, abi, number, argument):
                guard systemCalls, !unchecked.contains(pid), let monitor = threads[tid] else { continue }
                if let reason = monitor.enforcedSystemCall(number: number, protection: argument, abi: abi) {
                    outcome.refusal = describeSystemCall(
                        reason, abi: abi, number: number, argument: argument, monitor: monitor, index: index, pid: pid,
                        tid: tid)
                    return outcome
                }
                outcome.checkedSystemCalls += 1
            case let .fork(parentPID, parentTID, childPID):
                outcome.processes += 1
                outcome.threads += 1
                if unchecked.contains(parentPID) {
                    unchecked.insert(childPID)
                } else if let parent = threads[parentTID] {
                    threads[childPID] = parent
                    observe(index, .forked(parentTID: parentTID, childTID: childPID), parent)
                }
            case let .thread(pid, parentTID, newTID):
                outcome.threads += 1
                if !unchecked.contains(pid) {
                    // In its creator's window (the libc call that made the clone).
                    let monitor =
                        threads[parentTID].map { ThreadMonitor.newThread(createdBy: $0) }
                        ?? ThreadMonitor.newThread(tables: tables)
                    threads[newTID] = monitor
                    observe(index, .started(tid: newTID), monitor)
                }
            case let .exec(pid, tid, path):
                threads[tid] = nil
                threads[pid] = nil
                if path == startPath {
                    unchecked.remove(pid)
                    let monitor = ThreadMonitor(tables: tables)
                    threads[pid] = monitor
                    observe(index, .started(tid: pid), monitor)
                } else {
                    unchecked.insert(pid)
                    outcome.unchecked.append("pid \(pid) exec'd \(path)")
                }
            case let .exit(_, tid, _):
                threads[tid] = nil
            }
        }
        return outcome
    }

    // MARK: Reports

    func describe(
        _ reason: ThreadMonitor.Refusal, marker: Marker, kind: TraceMarkerKind, rawID: UInt64, monitor: ThreadMonitor,
        index: Int, pid: Int32, tid: Int32
    ) -> Refusal {
        let model = tables.policy
        var expected: [String] = []
        let next = monitor.expected()
        expected += next.libc.map { "libc \(model.symbols[$0])" }
        expected += next.sites.map { "call \(siteText($0))" }
        if next.mayReturn, let kind = monitor.stack.last?.kind {
            switch kind {
            case .site(let c): expected.append("ret \(siteText(c))")
            case .callback(let f): expected.append("cb-exit \(functionName(f))")
            case .root: break
            }
        }
        let functions = Set(monitor.top.frontier.map { model.functions[$0.function].name }).sorted()
        let stack = monitor.stack.map { frame -> String in
            switch frame.kind {
            case .root: return model.functions[model.entry].name
            case .site(let c): return "site \(c): \(siteText(c))"
            case .callback(let f): return "callback \(functionName(f))"
            }
        }
        return Refusal(
            eventIndex: index, pid: pid, tid: tid, reason: reason, event: eventText(kind, rawID), window: nil,
            functions: functions, stack: stack, expected: expected)
    }

    func describeSystemCall(
        _ reason: ThreadMonitor.Refusal, abi: SystemCallABI, number: UInt64, argument: UInt64, monitor: ThreadMonitor,
        index: Int, pid: Int32, tid: Int32
    ) -> Refusal {
        // The functions and the stack as for a marker; what was allowed is the window's.
        var refusal = describe(
            reason, marker: Marker(.libc, 0), kind: .known(.libc), rawID: 0, monitor: monitor, index: index, pid: pid,
            tid: tid)
        var event = abi == .ia32 ? "ia32 system call \(number)" : "system call \(Self.systemCallText(number))"
        if abi == .x86_64, number <= UInt64(SystemCallSet.maximumNumber),
            SystemCallNumbers.executableMappingCalls.contains(Int(number))
        {
            let hex = "0x" + String(argument, radix: 16)
            event +=
                argument & SystemCallNumbers.protExec != 0
                ? " with PROT_EXEC (protection \(hex))" : " with protection \(hex)"
        } else if abi == .x86_64, number == UInt64(SystemCallNumbers.openat) {
            event += " with flags 0" + String(argument, radix: 8)
        }
        refusal.event = event
        refusal.window = windowText(monitor.window)
        switch reason {
        case .systemCallOutsideWindow, .executableMapping:
            var expected: [String] = []
            if let set = monitor.systemCallSet(of: monitor.window), let binding = policy.syscalls {
                expected.append("the window's set: " + Self.setText(set))
                if binding.sets.indices.contains(binding.ambientSet) {
                    expected.append("the ambient set: " + Self.setText(binding.sets[binding.ambientSet]))
                }
            }
            refusal.expected = expected
        default:
            refusal.expected = []
        }
        return refusal
    }

    /// A window in the user's terms.
    public func windowText(_ window: SystemCallWindow) -> String {
        switch window {
        case .start: return "start (from exec to the first marker: the loader and libc's start-up)"
        case .none: return "none (program code: only the ambient set)"
        case .libc(let l): return l < policy.symbols.count ? "libc \(policy.symbols[l])" : "libc #\(l) (no such symbol)"
        }
    }

    /// A system call as reports show it (as `sbx run`'s reports do): `openat (257)`,
    /// or `#N` for a number without a name.
    static func systemCallText(_ number: UInt64) -> String {
        guard number <= UInt64(Int.max), let name = SystemCallNames.name(of: Int(number)) else { return "#\(number)" }
        return "\(name) (\(number))"
    }

    static func setText(_ set: SystemCallSet) -> String {
        var items = set.numbers.map { SystemCallNames.describe($0) }
        if set.mapsExecutable { items.append("executable mappings") }
        return items.isEmpty ? "{}" : "{" + items.joined(separator: ", ") + "}"
    }

    /// The marker in the user's terms, resolved against the policy the markers were
    /// made for.
    func eventText(_ kind: TraceMarkerKind, _ id: UInt64) -> String {
        let n = Int(clamping: id)
        switch kind {
        case .known(.libc):
            return n < policy.symbols.count ? "libc \(policy.symbols[n])" : "libc #\(id) (no such symbol)"
        case .known(.call), .known(.ret), .known(.tail):
            return n < policy.sites.count
                ? "\(kind.name) of site \(n): \(originalSiteText(n))" : "\(kind.name) of site #\(id) (no such site)"
        case .known(.callbackEnter), .known(.callbackExit):
            return n < policy.functions.count
                ? "\(kind.name) \(policy.functions[n].name)" : "\(kind.name) #\(id) (no such function)"
        default:
            return "\(kind.name) \(id)"
        }
    }

    func originalSiteText(_ c: Int) -> String {
        let site = policy.sites[c]
        let callees = site.callees.map { policy.functions[$0].name }
        let target = callees.count == 1 ? "\(callees[0])()" : "{\(callees.joined(separator: ", "))}()"
        return target + (site.location.map { " at \($0)" } ?? "")
    }

    func siteText(_ c: Int) -> String {
        mode == .dyck ? originalSiteText(c) : "site \(c)"
    }

    func functionName(_ f: Int) -> String {
        tables.policy.functions[f].name
    }
}

extension ThreadMonitor.Refusal {
    /// One phrase for reports.
    public var explanation: String {
        switch self {
        case .unknownKind: return "unknown marker kind"
        case .idOutOfRange: return "id out of range for the policy"
        case .notAllowedHere: return "not allowed at this point of the policy"
        case .returnToWrongSite: return "return does not match the innermost call"
        case .cannotReturnYet: return "the function cannot return yet"
        case .notACallback: return "not a callback of the policy"
        case .stackOverflow: return "call stack deeper than the monitor's depth bound (max_depth)"
        case .storeFull: return "no slot left for another distinct frame or setjmp record (stack_limit)"
        case .noSetjmpRecord: return "longjmp to a setjmp the monitor has not seen"
        case .systemCallOutsideWindow: return "system call in neither the window's set nor the ambient set"
        case .executableMapping:
            return "executable mapping (PROT_EXEC) in a window that may not map code, or writable as well (W^X)"
        case .compatSystemCall: return "system call through a 32-bit ABI (ia32 or x32), never allowed"
        case .ioUring: return "io_uring, never allowed"
        case .bufferedEvent:
            return "buffered event that may not come from the buffer (always synchronous, id out of range, "
                + "or a libc function that is not bufferable)"
        }
    }
}
