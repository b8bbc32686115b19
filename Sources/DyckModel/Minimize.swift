/// Limits on the subset construction, so that reducing a pathological function cannot
/// blow up policy generation; when exceeded the ε-free NFA is kept as it is.
struct DeterminizationLimits {
    var maxStates: Int
    /// Bound on the states visited inside subsets plus edges scanned, which is the
    /// real cost when subsets are large.
    var maxWork: Int

    /// At most max(64, 4n) DFA states and max(2^20, 64(n + m)) work for an NFA with
    /// n states and m edges.
    static func standard(for automaton: Automaton) -> DeterminizationLimits {
        let n = max(automaton.stateCount, 0)
        let m = automaton.edges.count
        return DeterminizationLimits(maxStates: max(64, 4 * n), maxWork: max(1 << 20, 64 * (n + m)))
    }
}

extension Automaton {
    /// True if no state has two edges with the same label.
    public var isDeterministic: Bool {
        var seen = Set<Edge.Key>()
        for edge in edges where !seen.insert(Edge.Key(from: edge.from, label: edge.label)).inserted {
            return false
        }
        return true
    }

    /// Determinized (within `limits`) and minimized, canonically numbered. Expects an
    /// automaton whose states are all reachable, as `removingEpsilons()` returns.
    func reducedEpsilonFree(limits: DeterminizationLimits? = nil) -> Automaton {
        let limits = limits ?? .standard(for: self)
        let deterministic: Automaton
        if isDeterministic {
            deterministic = self
        } else if let dfa = determinized(limits: limits) {
            deterministic = dfa
        } else {
            return canonicalized()
        }
        return deterministic.minimizedDFA().canonicalized()
    }

    /// The subset construction from the initial state, or nil if it exceeds `limits`.
    /// A DFA edge carries the union of the locations of the NFA edges it stands for.
    func determinized(limits: DeterminizationLimits) -> Automaton? {
        guard hasValidInitial else { return nil }
        let outgoing = validOutgoing()
        var isFinal = [Bool](repeating: false, count: outgoing.count)
        for state in finals where state >= 0 && state < isFinal.count { isFinal[state] = true }

        var subsets: [[Int]] = [[initial]]
        var index: [[Int]: Int] = [[initial]: 0]
        var finalsOut = Set<Int>()
        var result: [Edge] = []
        var work = 0
        var current = 0
        while current < subsets.count {
            var targets: [Label: (states: Set<Int>, locations: Set<SourceLocation>)] = [:]
            for state in subsets[current] {
                if isFinal[state] { finalsOut.insert(current) }
                work += 1 + outgoing[state].count
                for edge in outgoing[state] {
                    targets[edge.label, default: ([], [])].states.insert(edge.to)
                    targets[edge.label, default: ([], [])].locations.formUnion(edge.locations)
                }
            }
            if work > limits.maxWork { return nil }
            for (label, target) in targets.sorted(by: { $0.key < $1.key }) {
                let subset = target.states.sorted()
                let to: Int
                if let known = index[subset] {
                    to = known
                } else {
                    to = subsets.count
                    if to >= limits.maxStates { return nil }
                    subsets.append(subset)
                    index[subset] = to
                }
                result.append(Edge(from: current, label: label, to: to, locations: target.locations.sorted()))
            }
            current += 1
        }
        return Automaton(stateCount: subsets.count, initial: 0, finals: finalsOut, edges: result)
    }

    /// The minimal partial DFA: Valmari and Lehtinen's partition refinement for partial
    /// transition functions ("Efficient minimization of DFAs with partial transition
    /// functions", STACS 2008), O(m log n), without their trimming step.
    ///
    /// Refining by "has an `a` edge into block B" keeps a state without an `a` edge
    /// apart from one with it, so the missing transition acts as a sink of its own and
    /// the prefix language is preserved along with the complete one; the initial
    /// partition is final / non-final. No state is dropped for being unable to reach a
    /// final state: such states are legal positions. Expects a deterministic automaton
    /// with all states reachable; merged edges join their locations.
    func minimizedDFA() -> Automaton {
        guard hasValidInitial else { return self }
        let n = stateCount
        var tails: [Int] = []
        var heads: [Int] = []
        var labels: [Label] = []
        var locations: [[SourceLocation]] = []
        for edge in edges where edge.from >= 0 && edge.from < n && edge.to >= 0 && edge.to < n {
            tails.append(edge.from)
            heads.append(edge.to)
            labels.append(edge.label)
            locations.append(edge.locations)
        }
        let m = tails.count

        var blocks = RefinablePartition(size: n)
        for state in finals.sorted() where state >= 0 && state < n { blocks.mark(state) }
        blocks.split()

        // Cords: transitions grouped by label.
        let byLabel = (0..<m).sorted { (labels[$0], $0) < (labels[$1], $1) }
        var groupStarts: [Int] = []
        for (position, transition) in byLabel.enumerated()
        where position == 0 || labels[byLabel[position - 1]] != labels[transition] {
            groupStarts.append(position)
        }
        var cords = RefinablePartition(size: m, order: byLabel, groupStarts: groupStarts)

        // Incoming transitions per state, as offsets into one array.
        var incomingStart = [Int](repeating: 0, count: n + 1)
        for head in heads { incomingStart[head + 1] += 1 }
        for state in 0..<n { incomingStart[state + 1] += incomingStart[state] }
        var fill = incomingStart
        var incoming = [Int](repeating: 0, count: m)
        for transition in 0..<m {
            incoming[fill[heads[transition]]] = transition
            fill[heads[transition]] += 1
        }

        // Block 0 is never a splitter: Hopcroft's "all but one half" argument, with the
        // cords standing in for the whole set of states.
        var block = 1
        var cord = 0
        while cord < cords.count {
            for position in cords.range(of: cord) { blocks.mark(tails[cords.elements[position]]) }
            blocks.split()
            cord += 1
            while block < blocks.count {
                for position in blocks.range(of: block) {
                    let state = blocks.elements[position]
                    for index in incomingStart[state]..<incomingStart[state + 1] { cords.mark(incoming[index]) }
                }
                cords.split()
                block += 1
            }
        }

        var quotient: [Edge.Key: (to: Int, locations: Set<SourceLocation>)] = [:]
        for transition in 0..<m {
            let key = Edge.Key(from: blocks.setOf[tails[transition]], label: labels[transition])
            quotient[key, default: (blocks.setOf[heads[transition]], [])].locations.formUnion(locations[transition])
        }
        let quotientEdges = quotient.map { key, value in
            Edge(from: key.from, label: key.label, to: value.to, locations: value.locations.sorted())
        }
        var quotientFinals = Set<Int>()
        for state in finals where state >= 0 && state < n { quotientFinals.insert(blocks.setOf[state]) }
        return Automaton(
            stateCount: blocks.count, initial: blocks.setOf[initial], finals: quotientFinals, edges: quotientEdges)
    }

    /// Renumbered in breadth-first order from the initial state (which becomes 0),
    /// following edges in label-then-target order; unreachable states are dropped and
    /// edges are sorted by source, label and target. Two automata that differ only in
    /// numbering and edge order become identical if they are deterministic.
    func canonicalized() -> Automaton {
        guard hasValidInitial else { return Automaton(stateCount: 1, initial: 0, finals: [], edges: []) }
        let outgoing = validOutgoing()
        var newIndex = [Int](repeating: -1, count: outgoing.count)
        var order = [initial]
        newIndex[initial] = 0
        var current = 0
        while current < order.count {
            for edge in outgoing[order[current]] where newIndex[edge.to] < 0 {
                newIndex[edge.to] = order.count
                order.append(edge.to)
            }
            current += 1
        }
        var result: [Edge] = []
        for (position, state) in order.enumerated() {
            for edge in outgoing[state] {
                result.append(Edge(from: position, label: edge.label, to: newIndex[edge.to], locations: edge.locations))
            }
        }
        result.sort { ($0.from, $0.label, $0.to) < ($1.from, $1.label, $1.to) }
        var finalsOut = Set<Int>()
        for state in finals where state >= 0 && state < newIndex.count && newIndex[state] >= 0 {
            finalsOut.insert(newIndex[state])
        }
        return Automaton(stateCount: order.count, initial: 0, finals: finalsOut, edges: result)
    }
}

extension Edge {
    /// A state and a label: in a deterministic automaton, at most one edge per key.
    struct Key: Hashable {
        var from: Int
        var label: Label
    }
}

/// A partition of `0..<size` into sets that can be split by marking elements, each
/// operation linear in the number of elements marked (Valmari and Lehtinen).
struct RefinablePartition {
    private(set) var count: Int
    /// Elements grouped by set; each set is the range `first[s]..<end[s]`.
    private(set) var elements: [Int]
    private var position: [Int]
    private(set) var setOf: [Int]
    private var first: [Int]
    private var end: [Int]
    /// Marked elements of set s are `elements[first[s] ..< first[s] + marked[s]]`.
    private var marked: [Int]
    private var touched: [Int] = []

    /// One set holding everything.
    init(size: Int) {
        self.init(size: size, order: Array(0..<max(size, 0)), groupStarts: size > 0 ? [0] : [])
    }

    /// Sets given by consecutive runs of `order` (a permutation of `0..<size`) that
    /// begin at the sorted offsets `groupStarts`.
    init(size: Int, order: [Int], groupStarts: [Int]) {
        let size = max(size, 0)
        elements = order
        position = [Int](repeating: 0, count: size)
        setOf = [Int](repeating: 0, count: size)
        first = [Int](repeating: 0, count: max(size, 1))
        end = [Int](repeating: 0, count: max(size, 1))
        marked = [Int](repeating: 0, count: max(size, 1))
        count = groupStarts.count
        for (set, start) in groupStarts.enumerated() {
            first[set] = start
            end[set] = set + 1 < groupStarts.count ? groupStarts[set + 1] : size
            for offset in start..<end[set] { setOf[order[offset]] = set }
        }
        for (offset, element) in order.enumerated() { position[element] = offset }
    }

    func range(of set: Int) -> Range<Int> { first[set]..<end[set] }

    mutating func mark(_ element: Int) {
        let set = setOf[element]
        let at = position[element]
        let boundary = first[set] + marked[set]
        if at < boundary { return }
        elements[at] = elements[boundary]
        position[elements[at]] = at
        elements[boundary] = element
        position[element] = boundary
        if marked[set] == 0 { touched.append(set) }
        marked[set] += 1
    }

    /// Splits every set with marked elements into marked and unmarked parts; the
    /// smaller part gets the new set number, which is what makes refinement
    /// O(m log n).
    mutating func split() {
        while let set = touched.popLast() {
            let boundary = first[set] + marked[set]
            if boundary == end[set] {
                marked[set] = 0
                continue
            }
            let new = count
            if marked[set] <= end[set] - boundary {
                first[new] = first[set]
                end[new] = boundary
                first[set] = boundary
            } else {
                end[new] = end[set]
                first[new] = boundary
                end[set] = boundary
            }
            for offset in first[new]..<end[new] { setOf[elements[offset]] = new }
            marked[set] = 0
            marked[new] = 0
            count += 1
        }
    }
}
