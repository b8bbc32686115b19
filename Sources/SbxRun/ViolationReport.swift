import CSbxDevice
import DyckModel
import SbxBlob

/// A violation record explained in the terms of the policy: which event was
/// refused, in which function, under which calls, and what the policy allowed
/// instead. The macro-state numbers in a record are those of the blob the kernel
/// enforces, which `MacroMachine` rebuilds deterministically from the same policy and
/// mode.
public struct ViolationReport: Sendable, Codable, Equatable {
    public struct Event: Sendable, Codable, Equatable {
        /// libc, call, return, callback-entry, callback-exit, tail-call, setjmp,
        /// longjmp, syscall, exec, forged-marker, unknown.
        public var kind: String
        public var id: UInt64
        /// The libc function or callback; for sites, the callee(s).
        public var name: String?
        public var location: String?
        public var description: String
    }

    public struct Frame: Sendable, Codable, Equatable {
        /// root, site or callback.
        public var kind: String
        public var id: UInt32?
        public var function: String?
        public var callees: [String]?
        public var location: String?
        public var description: String
    }

    public struct Allowed: Sendable, Codable, Equatable {
        /// libc, call or return.
        public var kind: String
        public var name: String?
        public var locations: [String]
        public var description: String
    }

    public var pid: UInt32
    public var tid: UInt32
    public var command: String
    public var reason: String
    public var killed: Bool
    public var event: Event
    /// The function(s) whose frame was on top: where the event happened.
    public var functions: [String]
    /// Innermost first.
    public var stack: [Frame]
    /// Frames deeper than the record holds.
    public var stackTruncated: Bool
    public var allowed: [Allowed]
    /// For a system call outside its window: the window, i.e. the libc function
    /// announced by the last `LIBC` marker ("start" or "none" when not a libc call).
    public var window: String?
    /// dyck mode, a refused marker: the (function, state) pairs of the policy the
    /// thread's top frame was in, so that `sbx dot --report` can mark where the
    /// refused edge would have left. nil otherwise (older reports lack it too).
    public var states: [State]?

    public struct State: Sendable, Codable, Equatable {
        public var function: String
        /// The function's index in the policy, which tells same-named functions apart.
        public var index: Int
        public var state: Int
    }

    /// Log mode, a thread that exited still lost after a deviation (it never
    /// resynchronised, `specs/kernel-abi.md` "Log mode"): how many events (markers)
    /// went unchecked since that deviation. nil for every other record.
    public var uncheckedEvents: UInt64?
    /// An event refused from the thread's event buffer (buffered events,
    /// `specs/kernel-abi.md` "Buffered events"): the system call at whose entry the
    /// buffer was drained. nil for a synchronous marker, for an event drained at a
    /// marker's entry (its record says 999, as a marker's does) and for every record
    /// that is not about a marker.
    public var drainedAt: UInt32?

    public init(record: ViolationRecord, machine: MacroMachine?) {
        let original = machine?.original
        pid = record.pid
        tid = record.tid
        command = record.command
        reason = record.reasonName
        killed = record.killed
        event = Self.event(of: record, policy: original)
        stack = record.stack.map { Self.frame(tag: $0, policy: original) }
        stackTruncated = record.depth > UInt32(record.stack.count)
        functions = []
        allowed = []
        if record.isWindowViolation || record.isExecDenied { window = Self.windowText(record.id, policy: original) }
        if record.isUnresynced { uncheckedEvents = record.id }
        if record.isBuffered { drainedAt = record.syscall }
        guard let machine, (record.isMarker && !record.isUnpinned) || record.isUnresynced,
            Int(record.macroState) < machine.macroStateCount
        else { return }
        // The frontier's pairs are over `frontierModel` (the original policy, also in
        // nfa mode, where they are positions of the shared flattening).
        let flat = machine.frontierModel
        let frontier = machine.frontiers[Int(record.macroState)]
        var seen = Set<Int>()
        for pair in frontier where seen.insert(pair.function).inserted {
            functions.append(flat.functions[pair.function].name)
        }
        if functions.isEmpty, let top = stack.first, let function = top.function { functions = [function] }
        // Where it was lost is all there is to say: it was not refused anything.
        if record.isUnresynced { return }
        if machine.mode == .dyck {
            states = frontier.map {
                State(function: flat.functions[$0.function].name, index: $0.function, state: $0.state)
            }
        }
        for (key, _) in machine.transitions[Int(record.macroState)] {
            switch key {
            case .libc(let l):
                let name = flat.symbols.indices.contains(l) ? flat.symbols[l] : "libc#\(l)"
                let sorted = machine.libcLocations(of: Int(record.macroState), symbol: l)
                allowed.append(
                    Allowed(
                        kind: "libc", name: name, locations: sorted,
                        description: "\(name)()" + (sorted.isEmpty ? "" : " at \(sorted.joined(separator: ", "))")))
            case .call(let c):
                let site = Self.siteText(c, policy: flat)
                allowed.append(
                    Allowed(
                        kind: "call", name: site.callees.joined(separator: "|"),
                        locations: site.location.map { [$0] } ?? [],
                        description: "call " + site.text))
            }
        }
        if machine.finals[Int(record.macroState)] && record.depth > 1 {
            allowed.append(
                Allowed(
                    kind: "return", name: nil, locations: [],
                    description: "return from " + (functions.first ?? "the function")))
        }
    }

    static func siteText(_ id: Int, policy: Policy?) -> (
        text: String, caller: String?, callees: [String], location: String?
    ) {
        guard let policy, policy.sites.indices.contains(id) else { return ("site \(id)", nil, [], nil) }
        let site = policy.sites[id]
        let caller = policy.functions.indices.contains(site.caller) ? policy.functions[site.caller].name : nil
        let callees = site.callees.filter { policy.functions.indices.contains($0) }.map { policy.functions[$0].name }
        let location = site.location?.description
        var text = callees.isEmpty ? "site \(id)" : callees.joined(separator: "|") + "()"
        if site.indirect { text += " (indirect)" }
        if let caller { text += " in \(caller)" }
        if let location { text += " at \(location)" }
        return (text, caller, callees, location)
    }

    static func frame(tag: UInt32, policy: Policy?) -> Frame {
        let value = tag & 0x3fff_ffff
        switch tag & 0xc000_0000 {
        case 0x4000_0000:
            let site = siteText(Int(value), policy: policy)
            return Frame(
                kind: "site", id: value, function: site.caller, callees: site.callees, location: site.location,
                description: site.text)
        case 0x8000_0000:
            let name = policy.flatMap {
                $0.functions.indices.contains(Int(value)) ? $0.functions[Int(value)].name : nil
            }
            return Frame(
                kind: "callback", id: value, function: name, callees: nil, location: nil,
                description: "callback \(name ?? "#\(value)")() called from libc")
        default:
            let name = policy.flatMap { $0.functions.indices.contains($0.entry) ? $0.functions[$0.entry].name : nil }
            return Frame(
                kind: "root", id: nil, function: name, callees: nil, location: nil,
                description: "\(name ?? "the entry")() (program entry)")
        }
    }

    /// The window a record's id names (`SBX_WINDOW_*` or a symbol id).
    static func windowText(_ id: UInt64, policy: Policy?) -> String {
        switch id {
        case 0xffff_ffff: return "start"
        case 0xffff_fffe: return "none"
        default: return policy.flatMap { id < UInt64($0.symbols.count) ? $0.symbols[Int(id)] : nil } ?? "libc#\(id)"
        }
    }

    static func windowDescription(_ window: String) -> String {
        switch window {
        case "start": return "before the first marker (loader and libc start-up)"
        case "none": return "in program code, after no libc call (only the ambient calls)"
        default: return "after \(window)() was announced"
        }
    }

    static func event(of record: ViolationRecord, policy: Policy?) -> Event {
        if record.isUnpinned {
            return Event(
                kind: "forged-marker", id: record.id, name: nil, location: nil,
                description: "marker (kind \(record.kind), id \(record.id)) from address 0x"
                    + String(record.detail, radix: 16) + ", which is not the pinned site it names")
        }
        if record.isUnresynced {
            let n = record.id
            return Event(
                kind: "unchecked", id: n, name: nil, location: nil,
                description: "\(n) event\(n == 1 ? "" : "s") went unchecked: the thread ended (exit or exec) "
                    + "before the monitor found its place again after its deviation")
        }
        guard record.isMarker else {
            if record.isExeMismatch {
                return Event(kind: "exec", id: 0, name: nil, location: nil, description: "exec of another file")
            }
            if record.isExecDenied {
                let number = Int(record.syscall)
                let call = SystemCallNames.name(of: number) ?? "exec"
                let path = record.path ?? "?"
                let why =
                    record.detail == UInt64(SBX_EXEC_DENY)
                    ? "every exec is refused (--exec=deny)"
                    : "it has no installed policy (sbx policy install), and --exec=unconfined was not given"
                return Event(
                    kind: "exec", id: UInt64(record.syscall), name: path, location: nil,
                    description: "\(call) of \(path) " + windowDescription(windowText(record.id, policy: policy))
                        + ": " + why)
            }
            if record.isRebuilt {
                let path = record.path ?? "?"
                return Event(
                    kind: "exec", id: 0, name: path, location: nil,
                    description: "exec of \(path): this executable was rebuilt; its policy is not installed "
                        + "(sbx policy install --replace POLICY --exe \(path))")
            }
            if record.isForbidden || record.isProcMemWrite {
                let number = Int(record.syscall)
                let name = SystemCallNames.name(of: number)
                var text = "system call \(name ?? "#\(number)")"
                if name != nil { text += " (\(number))" }
                if record.isProcMemWrite {
                    text =
                        "open of a /proc/PID/mem file for writing (\(name ?? "#\(number)"), flags 0x"
                        + String(record.kind, radix: 16) + "): it could rewrite a process's code"
                } else if name == "prctl" {
                    let option =
                        record.kind == 22
                        ? "PR_SET_SECCOMP"
                        : record.kind == 59
                            ? "PR_SET_SYSCALL_USER_DISPATCH" : "option \(record.kind)"
                    text = "prctl(\(option)) (157): it would hide system calls from the monitor"
                } else if name == "personality" {
                    text = "personality(0x\(String(record.kind, radix: 16))) (135): a change of the system-call ABI"
                }
                return Event(kind: "syscall", id: UInt64(record.syscall), name: name, location: nil, description: text)
            }
            if record.isWindowViolation {
                let number = Int(record.syscall)
                let name = SystemCallNames.name(of: number)
                var text = "system call \(name ?? "#\(number)")"
                if name != nil { text += " (\(number))" }
                if record.isExecMapping {
                    text += " with PROT_EXEC (protection 0x" + String(record.detail, radix: 16) + ")"
                }
                text += " " + windowDescription(windowText(record.id, policy: policy))
                return Event(kind: "syscall", id: UInt64(record.syscall), name: name, location: nil, description: text)
            }
            return Event(
                kind: "syscall", id: UInt64(record.syscall), name: nil, location: nil,
                description: "system call \(record.syscall) (\(record.reasonName))")
        }
        let id = record.id
        switch record.kind {
        case 1:
            let name = policy.flatMap { id < UInt64($0.symbols.count) ? $0.symbols[Int(id)] : nil }
            return Event(
                kind: "libc", id: id, name: name, location: nil,
                description: "call of libc function \(name.map { "\($0)()" } ?? "#\(id)")")
        case 2, 3, 6:
            let site = siteText(id < UInt64(Int32.max) ? Int(id) : -1, policy: policy)
            let kind = record.kind == 2 ? "call" : record.kind == 3 ? "return" : "tail-call"
            let verb = record.kind == 2 ? "call of" : record.kind == 3 ? "return from" : "tail call of"
            return Event(
                kind: kind, id: id, name: site.callees.joined(separator: "|"), location: site.location,
                description: "\(verb) \(site.text)")
        case 4, 5:
            let name = policy.flatMap { id < UInt64($0.functions.count) ? $0.functions[Int(id)].name : nil }
            let kind = record.kind == 4 ? "callback-entry" : "callback-exit"
            let verb = record.kind == 4 ? "entry of callback" : "exit of callback"
            return Event(
                kind: kind, id: id, name: name, location: nil,
                description: "\(verb) \(name.map { "\($0)()" } ?? "#\(id)")")
        case 7:
            return Event(kind: "setjmp", id: id, name: nil, location: nil, description: "setjmp #\(id)")
        case 8:
            return Event(kind: "longjmp", id: id, name: nil, location: nil, description: "longjmp to setjmp #\(id)")
        default:
            return Event(
                kind: "unknown", id: id, name: nil, location: nil,
                description: "marker of unknown kind \(record.kind) (id \(id))")
        }
    }

    /// The report as lines for a terminal.
    public var text: String {
        if let uncheckedEvents { return lostText(uncheckedEvents) }
        var out = "sbx: \(killed ? "KILLED" : "violation"): pid \(pid)"
        if tid != pid { out += " (thread \(tid))" }
        if !command.isEmpty { out += " [\(command)]" }
        out += ": \(reason)\n"
        out += "  refused:  \(event.description)\n"
        if let drainedAt {
            let call = SystemCallNames.name(of: Int(drainedAt)) ?? "#\(drainedAt)"
            out += "  buffered: taken from the thread's event buffer at the entry of \(call) (\(drainedAt))\n"
        }
        if let window, window != "start", window != "none" { out += "  window:   \(window)()\n" }
        if !functions.isEmpty { out += "  in:       \(functions.joined(separator: ", "))()\n" }
        if !stack.isEmpty {
            out += "  stack:    (innermost first)\n"
            for frame in stack { out += "            \(frame.description)\n" }
            if stackTruncated { out += "            ...\n" }
        }
        if event.kind != "exec" && event.kind != "syscall" {
            if allowed.isEmpty {
                out += "  allowed:  nothing (the policy expected no further event here)\n"
            } else {
                let shown = 12
                out += "  allowed:  \(allowed[0].description)\n"
                for a in allowed.dropFirst().prefix(shown - 1) { out += "            \(a.description)\n" }
                if allowed.count > shown { out += "            ... and \(allowed.count - shown) more\n" }
            }
        }
        return out
    }

    /// A thread that never resynchronised: no event was refused, so no "refused"
    /// and "allowed" lines; where it was lost and how much went unwatched.
    func lostText(_ unchecked: UInt64) -> String {
        var out = "sbx: monitoring lost: pid \(pid)"
        if tid != pid { out += " (thread \(tid))" }
        if !command.isEmpty { out += " [\(command)]" }
        out += ": never resynchronised after its deviation\n"
        out += "  unchecked: \(unchecked) event\(unchecked == 1 ? "" : "s") until the thread exited or execed\n"
        if !functions.isEmpty { out += "  lost in:  \(functions.joined(separator: ", "))()\n" }
        if !stack.isEmpty {
            out += "  stack:    (innermost first)\n"
            for frame in stack { out += "            \(frame.description)\n" }
            if stackTruncated { out += "            ...\n" }
        }
        return out
    }
}
