extension EpsilonNFA {
    /// The ε-closure of every state, as sorted state lists.
    func epsilonClosures() -> [[Int]] {
        var epsilonSuccessors = [[Int]](repeating: [], count: stateCount)
        for edge in edges where edge.label == nil {
            epsilonSuccessors[edge.from].append(edge.to)
        }
        var closures = [[Int]](repeating: [], count: stateCount)
        var mark = [Int](repeating: -1, count: stateCount)
        var stack: [Int] = []
        for s in 0..<stateCount {
            var closure: [Int] = []
            mark[s] = s
            stack.append(s)
            while let q = stack.popLast() {
                closure.append(q)
                for r in epsilonSuccessors[q] where mark[r] != s {
                    mark[r] = s
                    stack.append(r)
                }
            }
            closures[s] = closure.sorted()
        }
        return closures
    }

    /// The equivalent ε-free automaton, restricted to states reachable from the initial
    /// state. Parallel edges with the same label are merged and their locations joined.
    public func removingEpsilons() -> Automaton {
        guard stateCount > 0 else { return .empty }
        let closures = epsilonClosures()
        var labelled = [[(Label, Int, SourceLocation?)]](repeating: [], count: stateCount)
        for edge in edges {
            if let label = edge.label { labelled[edge.from].append((label, edge.to, edge.location)) }
        }
        // Only the initial state and targets of labelled edges are kept: every other
        // state is reachable only through ε and is folded into its predecessors.
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
        var merged: [Int: [Label: [Int: Set<SourceLocation>]]] = [:]
        var finalsOut = Set<Int>()
        var i = 0
        while i < order.count {
            let s = order[i]
            var out: [Label: [Int: Set<SourceLocation>]] = [:]
            for q in closures[s] {
                if finals.contains(q) { finalsOut.insert(i) }
                for (label, to, location) in labelled[q] {
                    let target = index(to)
                    var locations = out[label, default: [:]][target, default: []]
                    if let location { locations.insert(location) }
                    out[label, default: [:]][target] = locations
                }
            }
            merged[i] = out
            i += 1
        }
        var result: [Edge] = []
        for from in 0..<order.count {
            for (label, targets) in merged[from] ?? [:] {
                for (to, locations) in targets {
                    result.append(Edge(from: from, label: label, to: to, locations: locations.sorted()))
                }
            }
        }
        result.sort { ($0.from, $0.label, $0.to) < ($1.from, $1.label, $1.to) }
        return Automaton(stateCount: order.count, initial: 0, finals: finalsOut, edges: result)
    }

    /// ε removed, unreachable states dropped, then determinized and minimized where
    /// that stays cheap. The result accepts the same prefixes and the same complete
    /// words over `Label`s as `self`.
    public func reduced() -> Automaton {
        removingEpsilons()
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
}
