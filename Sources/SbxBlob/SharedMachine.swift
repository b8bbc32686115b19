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

    /// The first frontier without transitions yet.
    private(set) var next = 0
    /// The positions of all frontiers (the memory the machine took).
    private(set) var positionCount = 0
    private let macroStateCap: Int
    private let transitionCap: Int

    init(_ flat: SharedFlattening, roots: [Int], macroStateCap: Int, transitionCap: Int) throws {
        self.macroStateCap = macroStateCap
        self.transitionCap = transitionCap
        _ = intern(Frontier(copy: -1, positions: []))
        for r in roots {
            let (c, s) = flat.rootCopy[r]!
            _ = intern(Frontier(copy: Int32(c), positions: [Int32(s)]))
        }
        _ = try close(flat)
    }

    mutating func intern(_ f: Frontier) -> Int {
        if let known = index[f] { return known }
        index[f] = frontiers.count
        frontiers.append(f)
        positionCount += f.positions.count
        return frontiers.count - 1
    }

    /// Gives every frontier not yet stepped its transitions and final roots, in
    /// number order. Returns false as soon as the machine holds more than
    /// `frontierLimit` frontiers, `transitionLimit` transitions or `positionLimit`
    /// positions (the caller rolls back with `truncate`).
    mutating func close(
        _ flat: SharedFlattening, frontierLimit: Int = Int.max, transitionLimit: Int = Int.max,
        positionLimit: Int = Int.max
    ) throws -> Bool {
        let largest = flat.copies.map(\.stateCount).max() ?? 0
        var mark = [Int](repeating: -1, count: largest)
        var stack: [Int32] = []
        var moves: [Int64] = []
        var fin: [Int32] = []
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
            if frontiers.count > frontierLimit || transitionCount > transitionLimit || positionCount > positionLimit {
                return false
            }
        }
        return true
    }

    /// Removes the frontiers from `count` on (a rolled-back resynchronisation group).
    mutating func truncate(to count: Int, transitionCount before: Int) {
        for f in frontiers[count...] {
            index[f] = nil
            positionCount -= f.positions.count
        }
        frontiers.removeSubrange(count...)
        if transitions.count > count { transitions.removeSubrange(count...) }
        if finalRoots.count > count { finalRoots.removeSubrange(count...) }
        next = min(next, count)
        transitionCount = before
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
        /// Each macro-state's any macro-state (nil: none), and the groups left out.
        var resync: [Int?] = []
        var resyncGroupsLeftOut = 0
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
        var machine = try SharedMachine(flat, roots: roots, macroStateCap: macroStateCap, transitionCap: transitionCap)
        let closedCount = machine.frontiers.count

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
            build.finals.append(isFinal(frontier, c))
            return number
        }
        // The roots of each class. On the frontiers of the closed machine they agree on
        // finality; a frontier that resynchronisation adds may split them, and is then
        // final for the class when it is for one of its roots (never refusing a return
        // the model allows).
        var classRoots: [Int: [Int32]] = [:]
        for r in roots { classRoots[rootClass(r), default: []].append(Int32(r)) }
        func isFinal(_ frontier: Int, _ c: Int) -> Bool {
            guard c >= 0 else { return false }
            if frontier < closedCount { return classSets[c].contains(setOf[frontier]) }
            let fin = machine.finalRoots[frontier]
            return classRoots[c, default: []].contains { fin.contains($0) }
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
        func closeStates(stateLimit: Int, transitionLimit: Int) throws -> Bool {
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
                if states.count > stateLimit || build.transitionCount > transitionLimit { return false }
            }
            return true
        }
        _ = try closeStates(stateLimit: Int.max, transitionLimit: Int.max)

        // Log mode's resynchronisation (specs/kernel-abi.md, "Resynchronisation
        // entry"): a frame's function group is the flattened function of its root, and
        // the any macro-state of (copy, class) is every function state of the copy that
        // a root of the class (in the copy) reaches, with that class, closed like the
        // rest. Its `libc l` successor is every such state's `l` target: where the
        // flattened root's function can be after `l`.
        // A class whose roots in the copy reach different states has no any
        // macro-state (nil): its macro-states do not say which root a frame runs, and
        // the union would resume where the frame's own root cannot be.
        func reachable(copy c: Int, rootClass k: Int) -> [Int32]? {
            var result: [Int32]?
            for r in classRoots[k, default: []] {
                guard let (rc, s) = flat.rootCopy[Int(r)], rc == c else { continue }
                let states = reachable(copy: c, from: s)
                if let result, result != states { return nil }
                result = states
            }
            return result
        }
        func reachable(copy c: Int, from start: Int) -> [Int32] {
            let copy = flat.copies[c]
            var seen = [Bool](repeating: false, count: copy.stateCount)
            var stack = [start]
            seen[start] = true
            while let q = stack.popLast() {
                for e in Int(copy.epsStart[q])..<Int(copy.epsStart[q + 1]) where !seen[Int(copy.epsTo[e])] {
                    seen[Int(copy.epsTo[e])] = true
                    stack.append(Int(copy.epsTo[e]))
                }
                for e in Int(copy.libcStart[q])..<Int(copy.libcStart[q + 1]) where !seen[Int(copy.libcTo[e])] {
                    seen[Int(copy.libcTo[e])] = true
                    stack.append(Int(copy.libcTo[e]))
                }
            }
            return (0..<copy.functionStates).filter { seen[$0] }.map { Int32($0) }
        }
        // Groups are visited in macro-state order within the budget of the dyck
        // machine's; a group whose closure does not fit is rolled back and
        // left out (its entries none).
        let budget = resyncBudget(
            states: states.count, transitions: build.transitionCount, pairs: machine.positionCount)
        let stateLimit = min(states.count + budget.states, macroStateCap)
        let transitionLimit = min(build.transitionCount + budget.transitions, transitionCap)
        let frontierLimit = machine.frontiers.count + budget.states
        let machineTransitionLimit = machine.transitionCount + budget.transitions
        let positionLimit = machine.positionCount + budget.pairs
        var anyOf: [Int64: Int?] = [:]
        var m = 0
        while m < states.count {
            let (frontier, c) = states[m]
            m += 1
            let copy = machine.frontiers[frontier].copy
            guard copy >= 0 else {
                build.resync.append(nil)
                continue
            }
            let key = Int64(copy) << 32 | Int64(c + 1)
            if let known = anyOf[key] {
                build.resync.append(known)
                continue
            }
            let statesBefore = states.count, transitionsBefore = build.transitionCount
            let frontiersBefore = machine.frontiers.count, machineTransitionsBefore = machine.transitionCount
            let positions = reachable(copy: Int(copy), rootClass: c)
            let all = SharedMachine.Frontier(copy: copy, positions: positions ?? [])
            var fits =
                positions != nil && states.count < stateLimit
                && machine.positionCount + all.positions.count <= positionLimit
            var number = 0
            if fits {
                // At the machine's caps too the group is left out, not the blob.
                do {
                    let f = machine.intern(all)
                    fits = try machine.close(
                        flat, frontierLimit: frontierLimit, transitionLimit: machineTransitionLimit,
                        positionLimit: positionLimit)
                    if fits {
                        number = try intern(f, c)
                        fits = try closeStates(stateLimit: stateLimit, transitionLimit: transitionLimit)
                    }
                } catch BlobError.capExceeded {
                    fits = false
                }
            }
            if fits {
                anyOf[key] = number
                build.resync.append(number)
            } else {
                for (f, cc) in states[statesBefore...] { index[Int64(f) << 32 | Int64(cc + 1)] = nil }
                states.removeSubrange(statesBefore...)
                build.frontiers.removeSubrange(statesBefore...)
                build.copies.removeSubrange(statesBefore...)
                build.finals.removeSubrange(statesBefore...)
                if build.transitions.count > statesBefore { build.transitions.removeSubrange(statesBefore...) }
                build.transitionCount = transitionsBefore
                next = statesBefore
                machine.truncate(to: frontiersBefore, transitionCount: machineTransitionsBefore)
                anyOf[key] = .some(nil)
                build.resync.append(nil)
                build.resyncGroupsLeftOut += 1
            }
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
