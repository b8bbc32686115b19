import DyckModel

/// The macro-states of a `SharedFlattening`: frontiers (a copy and a sorted set of
/// its positions), reached from the roots' initial positions under `succ`.
struct SharedMachine {
    struct Frontier: Hashable {
        var copy: Int32
        var positions: [Int32]
    }

    var frontiers: [Frontier] = []
    /// Roots whose function has a final state in the ε-closure of each frontier, sorted.
    var finalRoots: [[Int32]] = []
    /// Transitions of each frontier: (symbol, target macro-state), ascending symbol.
    var transitions: [[(symbol: Int32, target: Int32)]] = []
    var transitionCount = 0
    /// States visited in closures, over the whole construction (the real cost).
    var work = 0
    private var index: [Frontier: Int] = [:]

    mutating func intern(_ f: Frontier) -> Int {
        if let known = index[f] { return known }
        index[f] = frontiers.count
        frontiers.append(f)
        return frontiers.count - 1
    }

    init(_ flat: SharedFlattening, roots: [Int], macroStateCap: Int, transitionCap: Int) throws {
        _ = intern(Frontier(copy: -1, positions: []))
        for r in roots {
            let (c, s) = flat.rootCopy[r]!
            _ = intern(Frontier(copy: Int32(c), positions: [Int32(s)]))
        }
        let largest = flat.copies.map(\.stateCount).max() ?? 0
        var mark = [Int](repeating: -1, count: largest)
        var stack: [Int32] = []
        var moves: [Int64] = []
        var fin: [Int32] = []
        var next = 0
        while next < frontiers.count {
            let f = frontiers[next]
            moves.removeAll(keepingCapacity: true)
            fin.removeAll(keepingCapacity: true)
            if f.copy >= 0 {
                flat.copies[Int(f.copy)].withRows { epsStart, epsTo, libcStart, libcSymbol, libcTo, rootOfExit in
                    stack.removeAll(keepingCapacity: true)
                    for p in f.positions where mark[Int(p)] != next {
                        mark[Int(p)] = next
                        stack.append(p)
                    }
                    while let q = stack.popLast() {
                        work += 1
                        let qi = Int(q)
                        for e in Int(libcStart[qi])..<Int(libcStart[qi + 1]) {
                            moves.append(Int64(libcSymbol[e]) << 32 | Int64(libcTo[e]))
                        }
                        if rootOfExit[qi] >= 0 { fin.append(rootOfExit[qi]) }
                        for e in Int(epsStart[qi])..<Int(epsStart[qi + 1]) {
                            let r = Int(epsTo[e])
                            if mark[r] != next {
                                mark[r] = next
                                stack.append(Int32(r))
                            }
                        }
                    }
                }
            }
            moves.sort()
            var out: [(symbol: Int32, target: Int32)] = []
            var i = 0
            while i < moves.count {
                let symbol = Int32(moves[i] >> 32)
                var positions: [Int32] = []
                while i < moves.count, moves[i] >> 32 == Int64(symbol) {
                    let to = Int32(truncatingIfNeeded: moves[i])
                    if positions.last != to { positions.append(to) }
                    i += 1
                }
                let target = intern(Frontier(copy: f.copy, positions: positions))
                if frontiers.count > macroStateCap {
                    throw BlobError.capExceeded(what: "macro-states", count: frontiers.count, cap: macroStateCap)
                }
                out.append((symbol, Int32(target)))
            }
            transitionCount += out.count
            if transitionCount > transitionCap {
                throw BlobError.capExceeded(what: "transitions", count: transitionCount, cap: transitionCap)
            }
            transitions.append(out)
            fin.sort()
            var unique: [Int32] = []
            for r in fin where unique.last != r { unique.append(r) }
            finalRoots.append(unique)
            next += 1
        }
    }
}

extension MacroMachine {
    struct SharedBuild {
        var flat: SharedFlattening
        var frontiers: [[Pair]] = []
        var copies: [Int] = []
        var finals: [Bool] = []
        var transitions: [[(key: Key, target: Int)]] = []
        var transitionCount = 0
        var callbacks: [(function: Int, entered: Int)] = []
    }

    /// The nfa machine of a Dyck policy, over the shared flattening.
    ///
    /// A macro-state is a pair (frontier, root class). The frontiers are those of
    /// `SharedMachine`; finality depends on the frame's root, but only through the
    /// *root class*: roots that are members of exactly the same distinct final-root
    /// sets (`SharedMachine.finalRoots`) are final at exactly the same frontiers, so a
    /// frame of either can share macro-states. A frame's class never changes, so the
    /// pairs reachable from a root all carry its class. Numbering as for the dyck
    /// machine: the empty frontier 0, the entry 1, then the callbacks in the policy's
    /// order, then breadth-first in number order, transitions in ascending key order.
    static func sharedMachine(_ policy: Policy, macroStateCap: Int, transitionCap: Int) throws -> SharedBuild {
        var roots: [Int] = []
        for r in [policy.entry] + policy.callbacks where !roots.contains(r) { roots.append(r) }
        let flat = SharedFlattening(policy: policy, roots: roots)
        let machine = try SharedMachine(flat, roots: roots, macroStateCap: macroStateCap, transitionCap: transitionCap)

        // Distinct final-root sets, and each frontier's.
        var setIndex: [[Int32]: Int] = [:]
        var setOf = [Int](repeating: 0, count: machine.frontiers.count)
        var membership: [Int: [Int]] = [:]
        for (m, set) in machine.finalRoots.enumerated() {
            if let known = setIndex[set] {
                setOf[m] = known
            } else {
                let id = setIndex.count
                setIndex[set] = id
                setOf[m] = id
                for r in set { membership[Int(r), default: []].append(id) }
            }
        }
        // Root classes: equal membership lists. Class -1 is the empty frontier's.
        var classIndex: [[Int]: Int] = [:]
        var classSets: [Set<Int>] = []
        func rootClass(_ r: Int) -> Int {
            let key = membership[r] ?? []
            if let known = classIndex[key] { return known }
            classIndex[key] = classSets.count
            classSets.append(Set(key))
            return classSets.count - 1
        }

        var build = SharedBuild(flat: flat)
        var index: [Int64: Int] = [:]
        var states: [(frontier: Int, rootClass: Int)] = []
        func intern(_ frontier: Int, _ c: Int) throws -> Int {
            let key = Int64(frontier) << 32 | Int64(c + 1)
            if let known = index[key] { return known }
            let number = states.count
            if number >= macroStateCap {
                throw BlobError.capExceeded(what: "macro-states", count: number + 1, cap: macroStateCap)
            }
            index[key] = number
            states.append((frontier, c))
            let f = machine.frontiers[frontier]
            build.frontiers.append(
                f.positions.map {
                    let p = flat.pair(copy: Int(f.copy), node: Int($0))
                    return Pair(function: p.function, state: p.state)
                }.sorted())
            build.copies.append(Int(f.copy))
            build.finals.append(c >= 0 && classSets[c].contains(setOf[frontier]))
            return number
        }
        // SharedMachine numbers the empty frontier 0 and root k (in `roots` order) k + 1.
        _ = try intern(0, -1)
        let entryClass = rootClass(policy.entry)
        _ = try intern(1, entryClass)
        var callbacks: [(function: Int, entered: Int)] = []
        for f in policy.callbacks {
            let k = roots.firstIndex(of: f)!
            callbacks.append((f, try intern(k + 1, rootClass(f))))
        }
        build.callbacks = callbacks.sorted { $0.function < $1.function }
        var next = 0
        while next < states.count {
            let (frontier, c) = states[next]
            var out: [(key: Key, target: Int)] = []
            for (symbol, target) in machine.transitions[frontier] {
                out.append((.libc(Int(symbol)), try intern(Int(target), c)))
            }
            build.transitionCount += out.count
            if build.transitionCount > transitionCap {
                throw BlobError.capExceeded(what: "transitions", count: build.transitionCount, cap: transitionCap)
            }
            build.transitions.append(out)
            next += 1
        }
        return build
    }

    /// Where the libc calls allowed from macro-state `m` with symbol `symbol` are:
    /// the locations of the `symbol` edges leaving its frontier's closure (nfa mode of a
    /// Dyck policy), or its frontier's own edges.
    public func libcLocations(of m: Int, symbol: Int) -> [String] {
        var locations = Set<String>()
        guard frontiers.indices.contains(m) else { return [] }
        if let shared, frontierCopies[m] >= 0 {
            let c = frontierCopies[m]
            let copy = shared.copies[c]
            var seen = Set<Int>()
            var stack: [Int] = frontiers[m].map { copy.offset[$0.function]! + $0.state }
            for q in stack { seen.insert(q) }
            while let q = stack.popLast() {
                if q < copy.functionStates {
                    let p = shared.pair(copy: c, node: q)
                    for edge in frontierModel.functions[p.function].automaton.edges
                    where edge.from == p.state && edge.label == .libc(symbol) {
                        for location in edge.locations { locations.insert(location.description) }
                    }
                }
                for r in copy.epsilon[q] where seen.insert(Int(r)).inserted { stack.append(Int(r)) }
            }
        } else {
            for pair in frontiers[m] {
                for edge in frontierModel.functions[pair.function].automaton.edges
                where edge.from == pair.state && edge.label == .libc(symbol) {
                    for location in edge.locations { locations.insert(location.description) }
                }
            }
        }
        return locations.sorted()
    }
}
