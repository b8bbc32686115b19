/// The figures of `sbx stats`'s nfa row (states, edges and static ABF of
/// `Policy.flattened()`) without building `flattened()`.
///
/// `flattened()` builds, per root, an ε-NFA copy of every function the root reaches
/// and removes ε from it; on a program whose callbacks share one large component of
/// the call graph (SQLite's shell: 639 of 655 roots) that is one copy of the program
/// and one ε-closure of every position per root. Here the ε-NFA is the shared
/// flattening (one copy per component holding roots) and each position's closure,
/// which is the same for every root of the copy, is taken once: its libc edges
/// (the ε-free edges leaving the position) and the roots whose function's `exit` it
/// holds (where the position is final). A root's ε-free automaton is then the part of
/// its copy's ε-free graph reachable from the root's initial node, final where the
/// closure holds the root's exit: the automaton `removingEpsilons()` gives for the
/// root's own ε-NFA, up to numbering. It is reduced as `flattened()` reduces it
/// (`reducedEpsilonFree`, whose result does not depend on the numbering), so the
/// figures are the same. The closures are linear in the copies; the reduction stays
/// per root, bounded as in `flattened()` by `DeterminizationLimits`.
public struct SharedFlatSizes: Sendable {
    /// States and edges summed over the roots' reduced automata, and the ABF of
    /// the flattened policy (sums over its functions, which are the roots).
    public var states: Int
    public var edges: Int
    public var branchingFactor: BranchingFactor

    init(states: Int, edges: Int, branchingFactor: BranchingFactor) {
        self.states = states
        self.edges = edges
        self.branchingFactor = branchingFactor
    }

    /// The figures of `policy` as it is (the dyck row, or an nfa policy).
    public init(unflattened policy: Policy) {
        self.init(
            states: policy.functions.reduce(0) { $0 + $1.automaton.stateCount },
            edges: policy.functions.reduce(0) { $0 + $1.automaton.edges.count },
            branchingFactor: policy.branchingFactor())
    }

    /// The figures of `policy.flattened()` (for a Dyck policy; an nfa policy is
    /// measured as it is).
    public init(policy: Policy) {
        if policy.kind == .nfa {
            self.init(unflattened: policy)
            return
        }
        var roots: [Int] = []
        for root in [policy.entry] + policy.callbacks
        where policy.functions.indices.contains(root) && !roots.contains(root) {
            roots.append(root)
        }
        let flat = SharedFlattening(policy: policy, roots: roots)
        var graphs = flat.copies.map { ClosureGraph(copy: $0) }
        var states = 0, edges = 0, positions = 0, sum = 0
        for root in roots {
            let (c, initial) = flat.rootCopy[root]!
            let automaton = graphs[c].automaton(from: initial, root: Int32(root)).reducedEpsilonFree()
            states += automaton.stateCount
            edges += automaton.edges.count
            // The flattened policy's ABF adds up over its functions, which have no
            // call edges and are all roots.
            let one = Policy(
                kind: .nfa, module: "", symbols: policy.symbols,
                functions: [PolicyFunction(name: policy.functions[root].name, automaton: automaton)], sites: [],
                entry: 0, callbacks: [])
            let factor = one.branchingFactor()
            positions += factor.positions
            sum += factor.sum
        }
        self.init(states: states, edges: edges, branchingFactor: BranchingFactor(positions: positions, sum: sum))
    }

    /// The ε-free graph of one shared copy over its positions, built lazily: per
    /// node whose closure was needed, the libc edges leaving the closure (label,
    /// target node; sorted, unique) and the roots whose exit the closure holds.
    struct ClosureGraph {
        let copy: SharedFlattening.Copy
        var edges: [Int32: [Int64]] = [:]
        var finalRoots: [Int32: [Int32]] = [:]
        var mark: [Int32]
        var stamp: Int32 = 0

        init(copy: SharedFlattening.Copy) {
            self.copy = copy
            mark = [Int32](repeating: -1, count: copy.stateCount)
        }

        mutating func close(_ p: Int32) {
            if edges[p] != nil { return }
            stamp += 1
            var out: [Int64] = []
            var roots: [Int32] = []
            var stack: [Int32] = [p]
            mark[Int(p)] = stamp
            while let q = stack.popLast() {
                let qi = Int(q)
                for e in Int(copy.libcStart[qi])..<Int(copy.libcStart[qi + 1]) {
                    out.append(Int64(copy.libcSymbol[e]) << 32 | Int64(copy.libcTo[e]))
                }
                if copy.rootOfExit[qi] >= 0 { roots.append(copy.rootOfExit[qi]) }
                for e in Int(copy.epsStart[qi])..<Int(copy.epsStart[qi + 1]) {
                    let r = copy.epsTo[e]
                    if mark[Int(r)] != stamp {
                        mark[Int(r)] = stamp
                        stack.append(r)
                    }
                }
            }
            out.sort()
            var unique: [Int64] = []
            unique.reserveCapacity(out.count)
            for e in out where unique.last != e { unique.append(e) }
            edges[p] = unique
            finalRoots[p] = roots
        }

        /// The ε-free automaton of `root` from node `initial`: reachable positions in
        /// breadth-first order, edges merged per (from, label, to).
        mutating func automaton(from initial: Int, root: Int32) -> Automaton {
            var index: [Int32: Int] = [Int32(initial): 0]
            var order: [Int32] = [Int32(initial)]
            var result: [Edge] = []
            var finals = Set<Int>()
            var i = 0
            while i < order.count {
                let p = order[i]
                close(p)
                if finalRoots[p]!.contains(root) { finals.insert(i) }
                for e in edges[p]! {
                    let to = Int32(truncatingIfNeeded: e)
                    let target: Int
                    if let known = index[to] {
                        target = known
                    } else {
                        target = order.count
                        index[to] = target
                        order.append(to)
                    }
                    result.append(Edge(from: i, label: .libc(Int(e >> 32)), to: target))
                }
                i += 1
            }
            result.sort { ($0.from, $0.label, $0.to) < ($1.from, $1.label, $1.to) }
            return Automaton(stateCount: order.count, initial: 0, finals: finals, edges: result)
        }
    }
}
