extension EpsilonNFA {
    /// The ε-closure of `state`, sorted. `successors` are the ε successors per state.
    private static func closure(of state: Int, successors: [[Int]], mark: inout [Int]) -> [Int] {
        var closure: [Int] = []
        var stack = [state]
        mark[state] = state
        while let q = stack.popLast() {
            closure.append(q)
            for r in successors[q] where mark[r] != state {
                mark[r] = state
                stack.append(r)
            }
        }
        return closure.sorted()
    }

    /// The equivalent ε-free automaton, restricted to states reachable from the initial
    /// state. Parallel edges with the same label are merged and their locations joined.
    ///
    /// Malformed input does not trap: edges with an endpoint outside `0..<stateCount`
    /// are ignored, and an initial state outside that range (no run at all, which an
    /// `Automaton` cannot express) gives a single non-final state without edges, the
    /// closest fail-closed automaton.
    public func removingEpsilons() -> Automaton {
        guard stateCount > 0 else { return .empty }
        guard initial >= 0, initial < stateCount else {
            return Automaton(stateCount: 1, initial: 0, finals: [], edges: [])
        }
        var epsilonSuccessors = [[Int]](repeating: [], count: stateCount)
        var labelled = [[(Label, Int, SourceLocation?)]](repeating: [], count: stateCount)
        for edge in edges where edge.from >= 0 && edge.from < stateCount && edge.to >= 0 && edge.to < stateCount {
            if let label = edge.label {
                labelled[edge.from].append((label, edge.to, edge.location))
            } else {
                epsilonSuccessors[edge.from].append(edge.to)
            }
        }
        var isFinal = [Bool](repeating: false, count: stateCount)
        for state in finals where state >= 0 && state < stateCount { isFinal[state] = true }

        // Only the initial state and targets of labelled edges are kept: every other
        // state is reachable only through ε and is folded into its predecessors, so its
        // closure is never needed (this matters for flattened programs, where return
        // points are ε-only and their closures can be large).
        var newIndex = [Int](repeating: -1, count: stateCount)
        var order: [Int] = []
        func index(_ s: Int) -> Int {
            if newIndex[s] < 0 {
                newIndex[s] = order.count
                order.append(s)
            }
            return newIndex[s]
        }
        _ = index(initial)
        var mark = [Int](repeating: -1, count: stateCount)
        var result: [Edge] = []
        var finalsOut = Set<Int>()
        var i = 0
        while i < order.count {
            var out: [Label: [Int: Set<SourceLocation>]] = [:]
            for q in Self.closure(of: order[i], successors: epsilonSuccessors, mark: &mark) {
                if isFinal[q] { finalsOut.insert(i) }
                for (label, to, location) in labelled[q] {
                    let target = index(to)
                    var locations = out[label, default: [:]][target, default: []]
                    if let location { locations.insert(location) }
                    out[label, default: [:]][target] = locations
                }
            }
            for (label, targets) in out {
                for (to, locations) in targets {
                    result.append(Edge(from: i, label: label, to: to, locations: locations.sorted()))
                }
            }
            i += 1
        }
        result.sort { ($0.from, $0.label, $0.to) < ($1.from, $1.label, $1.to) }
        return Automaton(stateCount: order.count, initial: 0, finals: finalsOut, edges: result)
    }

    /// ε removed, unreachable states dropped, then determinized and minimized where
    /// that stays cheap (see `Automaton.reducedEpsilonFree`). The result accepts the
    /// same prefixes and the same complete words over `Label`s as `self`, and is
    /// canonical: states in breadth-first order from the initial state (which is 0),
    /// edges sorted by source, label and target.
    public func reduced() -> Automaton {
        removingEpsilons().reducedEpsilonFree()
    }
}

extension Automaton {
    /// The same automaton as an `EpsilonNFA` (with no ε edges), to feed it back into
    /// constructions. Locations are split one per edge.
    public func asEpsilonNFA() -> EpsilonNFA {
        var nfa = EpsilonNFA()
        nfa.stateCount = stateCount
        nfa.initial = initial
        nfa.finals = finals
        for edge in edges {
            if edge.locations.isEmpty {
                nfa.addEdge(edge.from, edge.label, edge.to)
            } else {
                for location in edge.locations { nfa.addEdge(edge.from, edge.label, edge.to, location: location) }
            }
        }
        return nfa
    }

    /// Unreachable states dropped, determinized and minimized where that stays cheap,
    /// canonically numbered; see `EpsilonNFA.reduced()`.
    public func reduced() -> Automaton {
        asEpsilonNFA().reduced()
    }
}
