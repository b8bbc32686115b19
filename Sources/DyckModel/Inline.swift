/// The result of `Policy.inliningSmallCallees(limit:eligible:)`.
public struct InlinedPolicy: Sendable {
    /// The policy with the inlined sites gone and the rest renumbered.
    public var policy: Policy
    /// Per old site id: its new id, or nil when it was inlined.
    public var siteMap: [Int?]

    /// How many sites were inlined.
    public var inlinedCount: Int { siteMap.count(where: { $0 == nil }) }
}

extension Policy {
    /// Inlining small callees (specs/analysis.md, "Inlining small callees").
    ///
    /// Site `c` is inlined when it is direct (exactly one callee `g`), not in
    /// `tailSites` (its call is `musttail`), `eligible(c)` holds, `g` is not the entry,
    /// `g` lies on no cycle of the call graph (`recursiveFunctions`), and `g`'s
    /// automaton after its own inlining has at most `limit` states and no call edge of
    /// a site in `tailSites`. Functions are expanded callees first. Every edge
    /// `s --call(c)--> t` of an inlined site becomes ε from `s` into a fresh copy of
    /// `g`'s expanded automaton (its libc edges and the call edges of `g`'s remaining
    /// sites) and ε from each of its final states to `t`; the function's automaton is
    /// then `reduced()`. The inlined sites are removed from the site table and the
    /// remaining ones keep their order (ids renumbered from 0). Everything else
    /// (functions, symbols, callbacks, entry, system-call sets) is unchanged, and every
    /// function keeps its own expanded automaton (it may still be entered through a
    /// remaining site or as a callback).
    ///
    /// The language of each function projected onto libc events, prefixes and complete
    /// words, is unchanged: `CALL(c)` pushed a frame at `g`'s initial state and
    /// `RET(c)` popped it from a final one to `t`, which is exactly what the ε edges do
    /// inside the caller's frame; the copy's own call edges push and pop frames as
    /// they did in `g`'s frame. `limit` 0 (or less) returns the policy unchanged.
    public func inliningSmallCallees(
        limit: Int, tailSites: Set<Int> = [], eligible: (Int) -> Bool = { _ in true }
    ) -> InlinedPolicy {
        let identity = InlinedPolicy(policy: self, siteMap: sites.indices.map { $0 })
        guard limit > 0, kind == .dyck else { return identity }
        let (expanded, inlined) = withoutActuallyEscaping(eligible) { eligible in
            var inliner = PolicyInliner(policy: self, limit: limit, tailSites: tailSites, eligible: eligible)
            for f in functions.indices { _ = inliner.expand(f) }
            return (inliner.expanded, inliner.inlined)
        }
        guard !inlined.isEmpty else { return identity }

        var siteMap = [Int?](repeating: nil, count: sites.count)
        var remaining: [CallSite] = []
        for (s, site) in sites.enumerated() where !inlined.contains(s) {
            siteMap[s] = remaining.count
            remaining.append(site)
        }
        var result = self
        for f in functions.indices {
            guard var automaton = expanded[f] else { continue }
            // Renumbering keeps the order of the remaining ids, so the edges stay in the
            // canonical order `reduced()` gave them.
            automaton.edges = automaton.edges.map { edge in
                guard case .call(let s) = edge.label, sites.indices.contains(s), let id = siteMap[s] else {
                    return edge
                }
                var renamed = edge
                renamed.label = .call(id)
                return renamed
            }
            result.functions[f].automaton = automaton
        }
        result.sites = remaining
        return InlinedPolicy(policy: result, siteMap: siteMap)
    }
}

private struct PolicyInliner {
    let policy: Policy
    let limit: Int
    let eligible: (Int) -> Bool
    /// Each function's automaton with its inlined sites spliced in (old site ids).
    var expanded: [Automaton?]
    /// The functions whose expansion is under way.
    var inProgress = Set<Int>()
    var inlined = Set<Int>()

    /// Functions in a cycle of the call graph (through any site, a self-call included).
    let recursive: [Bool]

    let tailSites: Set<Int>

    init(policy: Policy, limit: Int, tailSites: Set<Int>, eligible: @escaping (Int) -> Bool) {
        self.policy = policy
        self.limit = limit
        self.tailSites = tailSites
        self.eligible = eligible
        self.expanded = [Automaton?](repeating: nil, count: policy.functions.count)
        self.recursive = recursiveFunctions(policy)
    }

    /// Function `f`'s automaton after inlining, computed callees first.
    mutating func expand(_ f: Int) -> Automaton {
        if let done = expanded[f] { return done }
        inProgress.insert(f)
        defer { inProgress.remove(f) }
        let automaton = policy.functions[f].automaton
        var chosen: [Int: Automaton] = [:]
        var rejected = Set<Int>()
        for edge in automaton.edges {
            guard case .call(let s) = edge.label, chosen[s] == nil, !rejected.contains(s) else { continue }
            if let callee = inlinable(s) {
                chosen[s] = callee
            } else {
                rejected.insert(s)
            }
        }
        let result = chosen.isEmpty ? automaton : splice(automaton, chosen)
        inlined.formUnion(chosen.keys)
        expanded[f] = result
        return result
    }

    /// The callee's expanded automaton when site `s` is inlined, else nil.
    private mutating func inlinable(_ s: Int) -> Automaton? {
        guard policy.sites.indices.contains(s) else { return nil }
        let site = policy.sites[s]
        guard !site.indirect, site.callees.count == 1, let g = site.callees.first,
            policy.functions.indices.contains(g), g != policy.entry, !recursive[g], !inProgress.contains(g),
            !tailSites.contains(s), eligible(s)
        else { return nil }
        let callee = expand(g)
        guard callee.stateCount <= limit else { return nil }
        // A `TAIL` marker replaces the frame it runs in, which must be the callee's.
        for edge in callee.edges {
            if case .call(let inner) = edge.label, tailSites.contains(inner) { return nil }
        }
        return callee
    }

    /// Each call edge of a chosen site becomes ε into a fresh copy of the callee and ε
    /// from each of the copy's final states to the edge's target.
    private func splice(_ automaton: Automaton, _ chosen: [Int: Automaton]) -> Automaton {
        var nfa = EpsilonNFA()
        nfa.stateCount = automaton.stateCount
        nfa.initial = automaton.initial
        nfa.finals = automaton.finals
        func add(_ edge: Edge, offset: Int) {
            if edge.locations.isEmpty {
                nfa.addEdge(offset + edge.from, edge.label, offset + edge.to)
            } else {
                for location in edge.locations {
                    nfa.addEdge(offset + edge.from, edge.label, offset + edge.to, location: location)
                }
            }
        }
        for edge in automaton.edges {
            guard case .call(let s) = edge.label, let callee = chosen[s] else {
                add(edge, offset: 0)
                continue
            }
            let offset = nfa.stateCount
            nfa.stateCount += callee.stateCount
            for inner in callee.edges { add(inner, offset: offset) }
            nfa.addEdge(edge.from, nil, offset + callee.initial)
            for final in callee.finals.sorted() { nfa.addEdge(offset + final, nil, edge.to) }
        }
        return nfa.reduced()
    }
}

/// The functions that lie on a cycle of the call graph: f -> g when a `call` edge of
/// f's automaton is labelled with a site that has callee g. Tarjan's algorithm,
/// iterative.
func recursiveFunctions(_ policy: Policy) -> [Bool] {
    let n = policy.functions.count
    var successors = [[Int]](repeating: [], count: n)
    for (f, function) in policy.functions.enumerated() {
        var seen = Set<Int>()
        for edge in function.automaton.edges {
            guard case .call(let s) = edge.label, policy.sites.indices.contains(s) else { continue }
            for g in policy.sites[s].callees where g >= 0 && g < n && seen.insert(g).inserted {
                successors[f].append(g)
            }
        }
    }
    var result = [Bool](repeating: false, count: n)
    var index = [Int](repeating: -1, count: n)
    var low = [Int](repeating: 0, count: n)
    var onStack = [Bool](repeating: false, count: n)
    var stack: [Int] = []
    var counter = 0
    for root in 0..<n where index[root] < 0 {
        var work: [(node: Int, next: Int)] = [(root, 0)]
        index[root] = counter
        low[root] = counter
        counter += 1
        stack.append(root)
        onStack[root] = true
        while let top = work.last {
            let v = top.node
            if top.next < successors[v].count {
                work[work.count - 1].next += 1
                let w = successors[v][top.next]
                if index[w] < 0 {
                    index[w] = counter
                    low[w] = counter
                    counter += 1
                    stack.append(w)
                    onStack[w] = true
                    work.append((w, 0))
                } else if onStack[w] {
                    low[v] = min(low[v], index[w])
                }
                continue
            }
            work.removeLast()
            if let parent = work.last { low[parent.node] = min(low[parent.node], low[v]) }
            guard low[v] == index[v] else { continue }
            var component: [Int] = []
            while let w = stack.popLast() {
                onStack[w] = false
                component.append(w)
                if w == v { break }
            }
            if component.count > 1 || successors[v].contains(v) {
                for w in component { result[w] = true }
            }
        }
    }
    return result
}
