import DyckModel

/// The monitor of `specs/marker-abi.md` ("Meaning to a monitor"), written from the
/// spec for these tests, apart from both the code under test and the project's
/// reference monitor: the instrumented programs' marker traces are replayed through
/// it to show that the markers stay inside the policy.
struct ReplayMonitor {
    struct Position: Hashable {
        var function: Int
        var state: Int
    }

    enum FrameKind: Equatable {
        case root
        case site(Int)
        case callback(Int)
    }

    struct Frame {
        var kind: FrameKind
        var frontier: Set<Position>
    }

    /// One thread's state.
    struct Thread {
        var stack: [Frame]
        var records: [(number: Int, depth: Int, frontier: Set<Position>)] = []
    }

    let policy: Policy
    /// outgoing[function][state]
    private let outgoing: [[[Edge]]]
    static let stackBound = 1024
    static let recordLimit = 16

    init(policy: Policy) {
        self.policy = policy
        outgoing = policy.functions.map { $0.automaton.outgoing() }
    }

    /// The state of a process at exec.
    var start: Thread {
        Thread(stack: [Frame(kind: .root, frontier: [initial(policy.entry)])])
    }

    /// The state of a new thread: only a callback can start.
    var newThread: Thread {
        Thread(stack: [Frame(kind: .root, frontier: [])])
    }

    private func initial(_ function: Int) -> Position {
        Position(function: function, state: policy.functions[function].automaton.initial)
    }

    private func successors(_ frontier: Set<Position>, _ label: Label) -> Set<Position> {
        var result = Set<Position>()
        for position in frontier {
            for edge in outgoing[position.function][position.state] where edge.label == label {
                result.insert(Position(function: position.function, state: edge.to))
            }
        }
        return result
    }

    private func holdsFinal(_ frontier: Set<Position>) -> Bool {
        frontier.contains { policy.functions[$0.function].automaton.finals.contains($0.state) }
    }

    /// Advances `thread` by one marker; answers why the marker is a violation, or nil.
    func step(_ thread: inout Thread, kind rawKind: UInt64, id: Int) -> String? {
        guard let kind = MarkerKind(rawValue: Int(rawKind)) else { return "unknown kind \(rawKind)" }
        guard var top = thread.stack.last else { return "empty stack" }
        switch kind {
        case .libc:
            guard policy.symbols.indices.contains(id) else { return "symbol \(id) out of range" }
            let next = successors(top.frontier, .libc(id))
            guard !next.isEmpty else { return "libc \(policy.symbols[id]) not allowed" }
            thread.stack[thread.stack.count - 1].frontier = next
        case .call, .tail:
            guard policy.sites.indices.contains(id) else { return "site \(id) out of range" }
            let next = successors(top.frontier, .call(id))
            guard !next.isEmpty else { return "call of site \(id) not allowed" }
            let callees = Set(policy.sites[id].callees.map(initial))
            if kind == .call {
                guard thread.stack.count < Self.stackBound else { return "stack overflow" }
                thread.stack[thread.stack.count - 1].frontier = next
                thread.stack.append(Frame(kind: .site(id), frontier: callees))
            } else {
                guard holdsFinal(next) else { return "tail call of site \(id) not in tail position" }
                top.frontier = callees
                thread.stack[thread.stack.count - 1] = top
            }
        case .ret:
            guard top.kind == .site(id) else { return "return to site \(id) from frame \(top.kind)" }
            guard holdsFinal(top.frontier) else { return "return to site \(id) before the callee may return" }
            thread.stack.removeLast()
        case .callbackEnter:
            guard policy.callbacks.contains(id) else { return "function \(id) is no callback" }
            guard thread.stack.count < Self.stackBound else { return "stack overflow" }
            thread.stack.append(Frame(kind: .callback(id), frontier: [initial(id)]))
        case .callbackExit:
            guard top.kind == .callback(id), holdsFinal(top.frontier) else {
                return "callback \(id) exits from frame \(top.kind)"
            }
            thread.stack.removeLast()
        case .setjmpSave:
            thread.records.append((id, thread.stack.count, top.frontier))
            if thread.records.count > Self.recordLimit { thread.records.removeFirst() }
        case .setjmpResume:
            guard let record = thread.records.last(where: { $0.number == id && $0.depth <= thread.stack.count })
            else { return "setjmp \(id) resumed without a record" }
            thread.stack.removeLast(thread.stack.count - record.depth)
            thread.stack[thread.stack.count - 1].frontier = record.frontier
        }
        return nil
    }
}
