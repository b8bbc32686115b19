/// The average branching factor of a policy: how many libc calls an attacker who has
/// taken over the program may issue next, averaged over the positions of a run.
public struct BranchingFactor: Hashable, Sendable {
    /// Number of positions (q, t).
    public var positions: Int
    /// Sum of |next(q, t)| over all positions.
    public var sum: Int

    public init(positions: Int, sum: Int) {
        self.positions = positions
        self.sum = sum
    }

    /// `sum / positions`, or 0 when there are no positions.
    public var average: Double { positions == 0 ? 0 : Double(sum) / Double(positions) }
}

extension Policy {
    /// The average branching factor (ABF) of the policy.
    ///
    /// Definition. Positions are pairs (q, t): q is a state of a function g reachable
    /// from a root that is either g's initial state or the target of a libc edge, and t
    /// is a return context of g: t is the state after a reachable call edge
    /// s --call(c)--> t in a caller with g ∈ callees(c), or ⊥ if g is a root (the entry
    /// or a callback). For each position
    ///
    ///     next(q, t) = FIRST(q) ∪ (NULL(q) ? UP(t) : ∅)
    ///
    /// where FIRST(q) is the set of libc labels that can be the next libc event from q
    /// without returning from g (through call edges into callees, and past callees that
    /// can complete without any libc event), NULL(q) holds if g can return from q without
    /// a libc event, and for a state t of a function f
    ///
    ///     UP(t) = FIRST(t) ∪ (NULL(t) ? ∪ over return contexts t' of f of UP(t') : ∅),
    ///     UP(⊥) = ∅.
    ///
    /// FIRST, NULL and UP are least fixpoints, so recursion is handled. The ABF is the
    /// average of |next(q, t)| over all positions, 0 if there are none.
    ///
    /// Reachability: the initial state of a root is reachable; from a reachable state,
    /// a libc edge reaches its target, and a call edge reaches the initial state of each
    /// callee and, if at least one callee can return at all (reach a final state, with
    /// the same rule for its own calls), the state after the edge. Reachable functions
    /// are those whose initial state is reachable; a reachable call edge is one leaving a
    /// reachable state; q must be reachable, and a libc edge making q a position must
    /// leave a reachable state. Every return context is counted with every position of
    /// g, whether or not both occur together in one run.
    ///
    /// Callbacks enter the count only as roots: that libc may start a callback between
    /// any two events is not added to the next sets, which would otherwise add the
    /// callbacks' first calls everywhere.
    ///
    /// A flattened (`.nfa`) policy has no call edges, so every position is (q, ⊥) and
    /// next(q, ⊥) is the set of labels leaving q: this is the usual NFA branching factor
    /// over its states, and `flattened().branchingFactor()` is the NFA-mode ABF.
    ///
    /// Cost: linear in states and edges (call edges counted once per callee) times the
    /// number of distinct libc labels over 64, plus, per reachable function g, the
    /// positions of g that can return without a libc event times the distinct UP sets
    /// of g's return contexts.
    public func branchingFactor() -> BranchingFactor {
        BranchingFactorComputation(self).result()
    }
}

/// The state of all functions in one numbering: state q of function g is
/// `base[g] + q`. Also the per-state FIRST and NULL of the run-based ABF
/// (`RunBranchingFactor.swift`).
struct BranchingFactorComputation {
    let functionCount: Int
    let base: [Int]
    let stateCount: Int
    /// Function of each global state.
    let owner: [Int]
    /// Global initial state per function, nil if the function has none (cannot be entered).
    let initial: [Int?]
    let isFinal: [Bool]
    /// Per global state: libc edges (dense label, global target).
    let libcEdges: [[(label: Int, to: Int)]]
    /// Per global state: call edges (valid callees, global target).
    let callEdges: [[(callees: [Int], to: Int)]]
    let labelCount: Int
    /// The libc symbol id of each dense label.
    let labelIDs: [Int]
    let roots: [Int]

    init(_ policy: Policy) {
        functionCount = policy.functions.count
        var base: [Int] = []
        var total = 0
        for function in policy.functions {
            base.append(total)
            total += max(function.automaton.stateCount, 0)
        }
        self.base = base
        stateCount = total
        var owner = [Int](repeating: 0, count: total)
        var initial: [Int?] = []
        var isFinal = [Bool](repeating: false, count: total)
        var libcEdges = [[(label: Int, to: Int)]](repeating: [], count: total)
        var callEdges = [[(callees: [Int], to: Int)]](repeating: [], count: total)
        var denseLabel: [Int: Int] = [:]
        var labelIDs: [Int] = []
        for (index, function) in policy.functions.enumerated() {
            let automaton = function.automaton
            let count = max(automaton.stateCount, 0)
            for state in 0..<count { owner[base[index] + state] = index }
            initial.append(automaton.hasValidInitial ? base[index] + automaton.initial : nil)
            for state in automaton.finals where state >= 0 && state < count { isFinal[base[index] + state] = true }
        }
        for (index, function) in policy.functions.enumerated() {
            let count = max(function.automaton.stateCount, 0)
            for edge in function.automaton.edges
            where edge.from >= 0 && edge.from < count && edge.to >= 0 && edge.to < count {
                let from = base[index] + edge.from
                let to = base[index] + edge.to
                switch edge.label {
                case .libc(let id):
                    let dense = denseLabel[id] ?? denseLabel.count
                    if dense == denseLabel.count { labelIDs.append(id) }
                    denseLabel[id] = dense
                    libcEdges[from].append((dense, to))
                case .call(let site):
                    guard policy.sites.indices.contains(site) else { continue }
                    var callees: [Int] = []
                    for callee in policy.sites[site].callees
                    where policy.functions.indices.contains(callee) && initial[callee] != nil
                        && !callees.contains(callee)
                    {
                        callees.append(callee)
                    }
                    if !callees.isEmpty { callEdges[from].append((callees, to)) }
                }
            }
        }
        self.owner = owner
        self.initial = initial
        self.isFinal = isFinal
        self.libcEdges = libcEdges
        self.callEdges = callEdges
        labelCount = denseLabel.count
        self.labelIDs = labelIDs
        var roots: [Int] = []
        for root in [policy.entry] + policy.callbacks
        where policy.functions.indices.contains(root) && initial[root] != nil && !roots.contains(root) {
            roots.append(root)
        }
        self.roots = roots
    }

    func initialState(_ function: Int) -> Int {
        initial[function] ?? -1
    }

    /// Least model of: final(q) ⇒ P(q); P(init h) ∧ P(t) ⇒ P(q) for each call edge
    /// q → t and callee h; and, if `throughLibc`, P(r) ⇒ P(q) for each libc edge q → r.
    /// Counting premises keeps it linear.
    func returnable(throughLibc: Bool) -> [Bool] {
        var holds = [Bool](repeating: false, count: stateCount)
        // Rules: conclusion and the number of premises still open.
        var conclusion: [Int] = []
        var open: [Int] = []
        var waiting = [[Int]](repeating: [], count: stateCount)
        func addRule(_ head: Int, _ premises: [Int]) {
            let rule = conclusion.count
            conclusion.append(head)
            open.append(premises.count)
            for premise in premises { waiting[premise].append(rule) }
        }
        for state in 0..<stateCount {
            if throughLibc {
                for edge in libcEdges[state] { addRule(state, [edge.to]) }
            }
            for call in callEdges[state] {
                for callee in call.callees { addRule(state, [initialState(callee), call.to]) }
            }
        }
        var queue: [Int] = []
        for state in 0..<stateCount where isFinal[state] {
            holds[state] = true
            queue.append(state)
        }
        while let fact = queue.popLast() {
            for rule in waiting[fact] {
                open[rule] -= 1
                if open[rule] == 0, !holds[conclusion[rule]] {
                    holds[conclusion[rule]] = true
                    queue.append(conclusion[rule])
                }
            }
        }
        return holds
    }

    /// FIRST per state: labels reachable through "enter a callee" and "skip a callee
    /// that can complete silently" steps; `nullable` is `returnable(throughLibc: false)`.
    func firstSets(nullable: [Bool]) -> LabelClosure {
        var firstSuccessors = [[Int]](repeating: [], count: stateCount)
        for state in 0..<stateCount {
            for call in callEdges[state] {
                for callee in call.callees { firstSuccessors[state].append(initialState(callee)) }
                if call.callees.contains(where: { nullable[initialState($0)] }) {
                    firstSuccessors[state].append(call.to)
                }
            }
        }
        return LabelClosure(
            successors: firstSuccessors, base: libcEdges.map { $0.map(\.label) }, labelCount: labelCount)
    }

    func result() -> BranchingFactor {
        guard stateCount > 0, !roots.isEmpty else { return BranchingFactor(positions: 0, sum: 0) }
        let canReturn = returnable(throughLibc: true)
        let nullable = returnable(throughLibc: false)

        // Reachable states, and the positions among them.
        var reachable = [Bool](repeating: false, count: stateCount)
        var isPosition = [Bool](repeating: false, count: stateCount)
        var queue: [Int] = []
        func reach(_ state: Int) {
            if !reachable[state] {
                reachable[state] = true
                queue.append(state)
            }
        }
        for root in roots { reach(initialState(root)) }
        while let state = queue.popLast() {
            for edge in libcEdges[state] {
                isPosition[edge.to] = true
                reach(edge.to)
            }
            for call in callEdges[state] {
                for callee in call.callees { reach(initialState(callee)) }
                if call.callees.contains(where: { canReturn[initialState($0)] }) { reach(call.to) }
            }
        }
        for function in 0..<functionCount {
            if let start = initial[function], reachable[start] { isPosition[start] = true }
        }

        // Return contexts per function (states after reachable call edges), and roots.
        var contexts = [[Int]](repeating: [], count: functionCount)
        var seenContext = Set<[Int]>()
        for state in 0..<stateCount where reachable[state] {
            for call in callEdges[state] {
                for callee in call.callees where seenContext.insert([callee, call.to]).inserted {
                    contexts[callee].append(call.to)
                }
            }
        }
        var isRoot = [Bool](repeating: false, count: functionCount)
        for root in roots { isRoot[root] = true }

        let first = firstSets(nullable: nullable)

        // UP over context states plus one node per function standing for "return from
        // it": node stateCount + f.
        var upSuccessors = [[Int]](repeating: [], count: stateCount + functionCount)
        var upBase = [[Int]](repeating: [], count: stateCount + functionCount)
        var isContext = [Bool](repeating: false, count: stateCount)
        for function in 0..<functionCount {
            for context in contexts[function] { isContext[context] = true }
        }
        for function in 0..<functionCount {
            upSuccessors[stateCount + function] = contexts[function]
        }
        for state in 0..<stateCount where isContext[state] {
            upBase[state] = first.labels(of: state)
            if nullable[state] { upSuccessors[state].append(stateCount + owner[state]) }
        }
        let up = LabelClosure(successors: upSuccessors, base: upBase, labelCount: labelCount)

        var positionsByFunction = [[Int]](repeating: [], count: functionCount)
        for state in 0..<stateCount where reachable[state] && isPosition[state] {
            positionsByFunction[owner[state]].append(state)
        }
        var positions = 0
        var sum = 0
        for function in 0..<functionCount where !positionsByFunction[function].isEmpty {
            // Distinct UP sets of the contexts, with how often each occurs; ⊥ is ∅.
            var upSets: [[UInt64]: Int] = [:]
            for context in contexts[function] { upSets[up.set(of: context), default: 0] += 1 }
            if isRoot[function] { upSets[[UInt64](repeating: 0, count: first.words), default: 0] += 1 }
            let contextCount = contexts[function].count + (isRoot[function] ? 1 : 0)
            for state in positionsByFunction[function] {
                positions += contextCount
                let firstSet = first.set(of: state)
                if !nullable[state] {
                    sum += LabelClosure.count(firstSet) * contextCount
                    continue
                }
                for (upSet, multiplicity) in upSets {
                    sum += LabelClosure.countUnion(firstSet, upSet) * multiplicity
                }
            }
        }
        return BranchingFactor(positions: positions, sum: sum)
    }
}

/// For each node of a graph, the union of the base label sets of all nodes reachable
/// from it (itself included), as bit sets shared per strongly connected component.
struct LabelClosure {
    let words: Int
    private(set) var component: [Int]
    /// `words` words per component: the set of component c starts at `c * words`.
    private(set) var bits: [UInt64]

    init(successors: [[Int]], base: [[Int]], labelCount: Int) {
        let n = successors.count
        words = max((labelCount + 63) / 64, 1)
        component = [Int](repeating: -1, count: n)
        bits = []
        // Iterative Tarjan: deep call chains must not overflow the native stack. A
        // component is completed only after every component it reaches, so its set
        // can be built from finished ones.
        var index = [Int](repeating: -1, count: n)
        var low = [Int](repeating: 0, count: n)
        var onStack = [Bool](repeating: false, count: n)
        var stack: [Int] = []
        var frames: [(node: Int, next: Int)] = []
        var counter = 0
        var componentCount = 0
        for root in 0..<n where index[root] < 0 {
            index[root] = counter
            low[root] = counter
            counter += 1
            stack.append(root)
            onStack[root] = true
            frames.append((root, 0))
            while let frame = frames.last {
                let node = frame.node
                if frame.next < successors[node].count {
                    frames[frames.count - 1].next += 1
                    let successor = successors[node][frame.next]
                    guard successor >= 0 && successor < n else { continue }
                    if index[successor] < 0 {
                        index[successor] = counter
                        low[successor] = counter
                        counter += 1
                        stack.append(successor)
                        onStack[successor] = true
                        frames.append((successor, 0))
                    } else if onStack[successor] {
                        low[node] = min(low[node], index[successor])
                    }
                    continue
                }
                frames.removeLast()
                if let parent = frames.last { low[parent.node] = min(low[parent.node], low[node]) }
                guard low[node] == index[node] else { continue }
                let current = componentCount
                componentCount += 1
                let offset = bits.count
                bits.append(contentsOf: repeatElement(0, count: words))
                var members: [Int] = []
                while let member = stack.popLast() {
                    onStack[member] = false
                    component[member] = current
                    members.append(member)
                    if member == node { break }
                }
                for member in members {
                    for label in base[member] where label >= 0 && label < words * 64 {
                        bits[offset + label / 64] |= 1 << UInt64(label % 64)
                    }
                    for successor in successors[member] where successor >= 0 && successor < n {
                        let other = component[successor]
                        guard other != current, other >= 0 else { continue }
                        for word in 0..<words { bits[offset + word] |= bits[other * words + word] }
                    }
                }
            }
        }
    }

    func set(of node: Int) -> [UInt64] {
        let offset = component[node] * words
        return Array(bits[offset..<(offset + words)])
    }

    func labels(of node: Int) -> [Int] {
        var result: [Int] = []
        for (word, value) in set(of: node).enumerated() where value != 0 {
            for bit in 0..<64 where value & (1 << UInt64(bit)) != 0 { result.append(word * 64 + bit) }
        }
        return result
    }

    static func count(_ set: [UInt64]) -> Int {
        set.reduce(0) { $0 + $1.nonzeroBitCount }
    }

    static func countUnion(_ a: [UInt64], _ b: [UInt64]) -> Int {
        zip(a, b).reduce(0) { $0 + ($1.0 | $1.1).nonzeroBitCount }
    }
}
