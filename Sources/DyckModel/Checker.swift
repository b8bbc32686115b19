/// Decides whether a sequence of libc events is a prefix of some run of a policy,
/// when call and return events are not observed.
///
/// With call edges matched against returns this is context-free reachability, so
/// the checker is an Earley recogniser over the function automata: an item is a
/// configuration of one invocation (function, state) together with the event
/// position where that invocation began, and each position keeps the set of all
/// configurations reachable after the events so far, closed under calls (prediction)
/// and returns (completion). Recursion needs no bound, and every prefix that stays
/// inside the policy is found. A flattened (`.nfa`) policy has no call edges, so the
/// same recogniser is an ordinary NFA simulation there.
///
/// Callbacks may start in any configuration and return to it: they are predicted at
/// every position and, when they complete, the configurations they interrupted
/// continue. After the entry function returns, callbacks (atexit handlers,
/// destructors) may still run.
public struct PolicyChecker {
    public let policy: Policy
    private let outgoing: [[[Edge]]]

    public init(policy: Policy) {
        self.policy = policy
        self.outgoing = policy.functions.map { $0.automaton.outgoing() }
    }

    /// How an invocation was entered, which decides where it continues on return.
    enum Origin: Hashable {
        /// The entry function, started at position 0.
        case root
        /// Entered through a call edge from a configuration at `position`.
        case call(position: Int)
        /// Entered as a callback, interrupting every configuration at `position`.
        case callback(position: Int)
    }

    struct Item: Hashable {
        /// Function index, or -1 for "the entry function has returned".
        var function: Int
        var state: Int
        var origin: Origin
    }

    struct Continuation: Hashable {
        var function: Int
        var state: Int
        var origin: Origin
    }

    /// One position of the recogniser: the configurations reachable there.
    struct Chart {
        var items: [Item] = []
        var seen: Set<Item> = []
        /// Continuations waiting for callee `g` started at this position.
        var waiting: [Int: [Continuation]] = [:]
        /// Callees started at this position that have already returned at this
        /// position (no event in between): late continuations must still see them.
        var completedHere: Set<Int> = []
        var callbacksPredicted = false
    }

    public struct Verdict: Equatable, Sendable {
        /// Index of the first refused event, or nil if the whole sequence is allowed.
        public var refusedIndex: Int?
        /// The libc symbol ids the policy allows right before the refused event (or
        /// after the last event, when allowed).
        public var allowedNext: [Int]
        /// Names of the functions the run may be in at that point.
        public var functions: [String]

        public var allowed: Bool { refusedIndex == nil }
    }

    /// Checks symbol ids; an id of nil stands for a name not in the policy at all,
    /// which no state allows.
    public func check(_ events: [Int?]) -> Verdict {
        var charts: [Chart] = []
        var current = Chart()
        add(
            Item(function: policy.entry, state: initial(policy.entry), origin: .root), to: &current, position: 0,
            charts: &charts)
        close(&current, position: 0, charts: &charts)
        for (index, event) in events.enumerated() {
            var next = Chart()
            if let symbol = event {
                for item in current.items where item.function >= 0 {
                    for edge in outgoing[item.function][item.state] where edge.label == .libc(symbol) {
                        addOnly(Item(function: item.function, state: edge.to, origin: item.origin), to: &next)
                    }
                }
            }
            if next.items.isEmpty {
                return verdict(refusedAt: index, chart: current)
            }
            charts.append(current)
            current = next
            close(&current, position: index + 1, charts: &charts)
        }
        return verdict(refusedAt: nil, chart: current)
    }

    private func initial(_ function: Int) -> Int {
        policy.functions[function].automaton.initial
    }

    private func addOnly(_ item: Item, to chart: inout Chart) {
        if chart.seen.insert(item).inserted { chart.items.append(item) }
    }

    private func add(_ item: Item, to chart: inout Chart, position: Int, charts: inout [Chart]) {
        addOnly(item, to: &chart)
    }

    /// Closes a chart under prediction (entering callees and callbacks) and
    /// completion (returning to callers). `charts[p]` is the finished chart of every
    /// earlier position p.
    private func close(_ chart: inout Chart, position: Int, charts: inout [Chart]) {
        var i = 0
        while i < chart.items.count {
            let item = chart.items[i]
            i += 1
            if !policy.callbacks.isEmpty && !chart.callbacksPredicted {
                chart.callbacksPredicted = true
                for callback in policy.callbacks {
                    addOnly(
                        Item(function: callback, state: initial(callback), origin: .callback(position: position)),
                        to: &chart)
                }
            }
            guard item.function >= 0 else { continue }
            let automaton = policy.functions[item.function].automaton
            // Prediction.
            for edge in outgoing[item.function][item.state] {
                guard case .call(let site) = edge.label else { continue }
                let continuation = Continuation(function: item.function, state: edge.to, origin: item.origin)
                for callee in policy.sites[site].callees {
                    chart.waiting[callee, default: []].append(continuation)
                    addOnly(
                        Item(function: callee, state: initial(callee), origin: .call(position: position)), to: &chart)
                    if chart.completedHere.contains(callee) {
                        addOnly(
                            Item(
                                function: continuation.function, state: continuation.state, origin: continuation.origin),
                            to: &chart)
                    }
                }
            }
            // Completion.
            guard automaton.finals.contains(item.state) else { continue }
            switch item.origin {
            case .root:
                addOnly(Item(function: -1, state: 0, origin: .root), to: &chart)
            case .call(let start):
                if start == position {
                    chart.completedHere.insert(item.function)
                    for c in chart.waiting[item.function] ?? [] {
                        addOnly(Item(function: c.function, state: c.state, origin: c.origin), to: &chart)
                    }
                } else {
                    for c in charts[start].waiting[item.function] ?? [] {
                        addOnly(Item(function: c.function, state: c.state, origin: c.origin), to: &chart)
                    }
                }
            case .callback(let start):
                // Returning to the configurations it interrupted; at its own start
                // position they are already here.
                if start != position {
                    for interrupted in charts[start].items { addOnly(interrupted, to: &chart) }
                }
            }
        }
    }

    private func verdict(refusedAt index: Int?, chart: Chart) -> Verdict {
        var allowed = Set<Int>()
        var functions = Set<String>()
        for item in chart.items where item.function >= 0 {
            for edge in outgoing[item.function][item.state] {
                if case .libc(let symbol) = edge.label {
                    allowed.insert(symbol)
                    functions.insert(policy.functions[item.function].name)
                }
            }
        }
        if functions.isEmpty {
            for item in chart.items where item.function >= 0 {
                functions.insert(policy.functions[item.function].name)
            }
        }
        return Verdict(refusedIndex: index, allowedNext: allowed.sorted(), functions: functions.sorted())
    }
}
