/// The single-copy flattened model of a Dyck policy, built for the nfa blob without
/// one copy of the program per root.
///
/// `Policy.flattened()` gives every root (the entry, each callback) its own copy of
/// every function it reaches. Two roots reach the same functions exactly when they are
/// in the same strongly connected component of the call graph, and then their copies
/// are the same ε-NFA (only the initial and final states differ). A program whose
/// callbacks sit in one large component (SQLite: 639 of 655 roots reach the same
/// 1,576 functions) therefore has a quadratic flattening: 7.6 million states for 13
/// thousand. Here each component that holds a root gets one copy, shared by its roots,
/// of the functions it reaches: the ε-NFA of `specs/checking.md` ("Flattening",
/// single copy) restricted to those functions, with ε kept (no ε-removal, which is
/// quadratic in the closures). The frontiers of the macro-state construction are sets
/// of *positions* of a copy (the initial state of a root, or the target of a libc
/// edge); a step is `succ(F, l)` = the targets of the `l` edges leaving the ε-closure
/// of `F`. Finality is per root: `final(F, r)` holds when the closure of `F` holds a
/// final state of root `r`'s function.
public struct SharedFlattening: Sendable {
    /// One shared copy: the functions reachable from one component of the call graph.
    public struct Copy: Sendable {
        /// Original function index of each function of the copy, and its first state.
        public internal(set) var functions: [Int] = []
        public internal(set) var offset: [Int: Int] = [:]
        public internal(set) var stateCount = 0
        /// ε successors and libc edges (symbol, target) per state.
        public internal(set) var epsilon: [[Int32]] = []
        public internal(set) var libc: [[(symbol: Int32, to: Int32)]] = []
        /// Nodes below this are function states; the auxiliary ε nodes follow.
        public internal(set) var functionStates = 0
        /// The `exit` node of each function of the copy.
        public internal(set) var exitOf: [Int: Int] = [:]
        /// The roots whose `exit` node this is (one at most).
        public internal(set) var finalOf: [[Int32]] = []
        /// The same edges in compressed rows, for the closure loop (which is the
        /// whole cost of the construction): node `q`'s ε successors are
        /// `epsTo[epsStart[q] ..< epsStart[q + 1]]`, its libc edges likewise, and
        /// `rootOfExit[q]` the root whose exit `q` is, or -1.
        public internal(set) var epsStart: [Int32] = []
        public internal(set) var epsTo: [Int32] = []
        public internal(set) var libcStart: [Int32] = []
        public internal(set) var libcSymbol: [Int32] = []
        public internal(set) var libcTo: [Int32] = []
        public internal(set) var rootOfExit: [Int32] = []

        /// The compressed rows as buffers, so the closure loop neither retains nor
        /// checks uniqueness per node.
        public func withRows<R>(
            _ body: (
                UnsafeBufferPointer<Int32>, UnsafeBufferPointer<Int32>, UnsafeBufferPointer<Int32>,
                UnsafeBufferPointer<Int32>, UnsafeBufferPointer<Int32>, UnsafeBufferPointer<Int32>
            ) throws -> R
        ) rethrows -> R {
            try epsStart.withUnsafeBufferPointer { a in
                try epsTo.withUnsafeBufferPointer { b in
                    try libcStart.withUnsafeBufferPointer { c in
                        try libcSymbol.withUnsafeBufferPointer { d in
                            try libcTo.withUnsafeBufferPointer { e in
                                try rootOfExit.withUnsafeBufferPointer { f in try body(a, b, c, d, e, f) }
                            }
                        }
                    }
                }
            }
        }

        mutating func compress() {
            epsStart = [0]; libcStart = [0]
            epsStart.reserveCapacity(stateCount + 1)
            libcStart.reserveCapacity(stateCount + 1)
            rootOfExit = [Int32](repeating: -1, count: stateCount)
            for q in 0..<stateCount {
                epsTo.append(contentsOf: epsilon[q])
                epsStart.append(Int32(epsTo.count))
                for (symbol, to) in libc[q] {
                    libcSymbol.append(symbol)
                    libcTo.append(to)
                }
                libcStart.append(Int32(libcSymbol.count))
                if let r = finalOf[q].first { rootOfExit[q] = r }
            }
        }
    }

    public private(set) var copies: [Copy] = []
    /// Copy and initial state of each root function (original index).
    public private(set) var rootCopy: [Int: (copy: Int, state: Int)] = [:]

    public init(policy: Policy, roots: [Int]) {
        let n = policy.functions.count
        // Call graph over valid call edges, as the flattening wires them.
        var callees = [[Int]](repeating: [], count: n)
        for (f, function) in policy.functions.enumerated() {
            var seen = Set<Int>()
            for edge in function.automaton.edges {
                guard case .call(let c) = edge.label, policy.sites.indices.contains(c) else { continue }
                for g in policy.sites[c].callees where policy.functions.indices.contains(g) && seen.insert(g).inserted {
                    callees[f].append(g)
                }
            }
        }
        let component = Self.components(callees)
        var copyOfComponent: [Int: Int] = [:]
        for root in roots {
            let key = component[root]
            let copyIndex: Int
            if let known = copyOfComponent[key] {
                copyIndex = known
            } else {
                copyIndex = copies.count
                copyOfComponent[key] = copyIndex
                copies.append(Self.copy(policy: policy, from: root, callees: callees))
            }
            let offset = copies[copyIndex].offset[root]!
            rootCopy[root] = (copyIndex, offset + policy.functions[root].automaton.initial)
            let exit = copies[copyIndex].exitOf[root]!
            if !copies[copyIndex].finalOf[exit].contains(Int32(root)) {
                copies[copyIndex].finalOf[exit].append(Int32(root))
            }
        }
        for c in copies.indices { copies[c].compress() }
    }

    /// Tarjan's strongly connected components, iteratively; a component number per node.
    static func components(_ succ: [[Int]]) -> [Int] {
        let n = succ.count
        var index = [Int](repeating: -1, count: n)
        var low = [Int](repeating: 0, count: n)
        var onStack = [Bool](repeating: false, count: n)
        var comp = [Int](repeating: -1, count: n)
        var stack: [Int] = []
        var counter = 0
        var comps = 0
        for start in 0..<n where index[start] < 0 {
            var work: [(node: Int, next: Int)] = [(start, 0)]
            index[start] = counter; low[start] = counter; counter += 1
            stack.append(start); onStack[start] = true
            while let (v, i) = work.last {
                if i < succ[v].count {
                    work[work.count - 1].next += 1
                    let w = succ[v][i]
                    if index[w] < 0 {
                        index[w] = counter; low[w] = counter; counter += 1
                        stack.append(w); onStack[w] = true
                        work.append((w, 0))
                    } else if onStack[w] {
                        low[v] = min(low[v], index[w])
                    }
                } else {
                    work.removeLast()
                    if let parent = work.last { low[parent.node] = min(low[parent.node], low[v]) }
                    if low[v] == index[v] {
                        while let w = stack.popLast() {
                            onStack[w] = false
                            comp[w] = comps
                            if w == v { break }
                        }
                        comps += 1
                    }
                }
            }
        }
        return comp
    }

    /// The shared copy of the functions reachable from `root`, wired as the single-copy
    /// flattening wires them, through three kinds of auxiliary ε-only nodes so that the
    /// ε edges stay linear in the policy: `exit(f)` (ε from each final state of `f`),
    /// and per call site `c` `enter(c)` (ε to the initial state of each callee) and
    /// `return(c)` (ε from `exit(g)` of each callee `g`). A call edge `s --call c--> t`
    /// becomes `s -> enter(c)` and `return(c) -> t`. A path through them is exactly a
    /// path of the single-copy flattening (`s -> initial(g)`, `final(g) -> t`), so the
    /// closures restricted to function states, and the language, are the same.
    static func copy(policy: Policy, from root: Int, callees: [[Int]]) -> Copy {
        var copy = Copy()
        var queue = [root]
        copy.offset[root] = 0
        var next = 0
        while next < queue.count {
            let f = queue[next]
            next += 1
            copy.functions.append(f)
            copy.offset[f] = copy.stateCount
            copy.stateCount += policy.functions[f].automaton.stateCount
            for g in callees[f] where copy.offset[g] == nil {
                copy.offset[g] = -1
                queue.append(g)
            }
        }
        copy.functionStates = copy.stateCount
        var exitNode: [Int: Int] = [:]
        for f in copy.functions {
            exitNode[f] = copy.stateCount
            copy.stateCount += 1
        }
        var siteNode: [Int: Int] = [:]
        for f in copy.functions {
            for edge in policy.functions[f].automaton.edges {
                if case .call(let c) = edge.label, policy.sites.indices.contains(c), siteNode[c] == nil {
                    siteNode[c] = copy.stateCount
                    copy.stateCount += 2
                }
            }
        }
        copy.epsilon = [[Int32]](repeating: [], count: copy.stateCount)
        copy.libc = [[(symbol: Int32, to: Int32)]](repeating: [], count: copy.stateCount)
        copy.finalOf = [[Int32]](repeating: [], count: copy.stateCount)
        copy.exitOf = exitNode
        for f in copy.functions {
            let base = copy.offset[f]!
            let automaton = policy.functions[f].automaton
            for final in automaton.finals.sorted() {
                copy.epsilon[base + final].append(Int32(exitNode[f]!))
            }
            for edge in automaton.edges {
                switch edge.label {
                case .libc(let l):
                    copy.libc[base + edge.from].append((Int32(l), Int32(base + edge.to)))
                case .call(let c):
                    guard let node = siteNode[c] else { continue }
                    copy.epsilon[base + edge.from].append(Int32(node))
                    copy.epsilon[node + 1].append(Int32(base + edge.to))
                }
            }
        }
        for (c, node) in siteNode.sorted(by: { $0.key < $1.key }) {
            var seen = Set<Int>()
            for g in policy.sites[c].callees where policy.functions.indices.contains(g) && seen.insert(g).inserted {
                copy.epsilon[node].append(Int32(copy.offset[g]! + policy.functions[g].automaton.initial))
                copy.epsilon[exitNode[g]!].append(Int32(node + 1))
            }
        }
        return copy
    }

    /// The original (function, state) of a function-state node of copy `c`.
    public func pair(copy c: Int, node: Int) -> (function: Int, state: Int) {
        let copy = copies[c]
        var lo = 0, hi = copy.functions.count
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            if copy.offset[copy.functions[mid]]! <= node { lo = mid } else { hi = mid }
        }
        let f = copy.functions[lo]
        return (f, node - copy.offset[f]!)
    }
}
