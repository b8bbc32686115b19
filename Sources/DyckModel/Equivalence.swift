/// A word on which two automata disagree, as found by `Automaton.difference(from:)`.
public struct LanguageDifference: Hashable, Sendable, CustomStringConvertible {
    /// Which of the two languages of an automaton the word separates.
    public enum Language: String, Hashable, Sendable {
        /// One automaton can read the whole word (every prefix stays inside it), the
        /// other cannot.
        case prefix
        /// Both can read the word, but only one can end it in a final state.
        case complete
    }

    public var word: [Label]
    public var language: Language
    /// True if the receiver of `difference(from:)` has the word in `language` and the
    /// argument has not; false for the other way round.
    public var inSelf: Bool

    public init(word: [Label], language: Language, inSelf: Bool) {
        self.word = word
        self.language = language
        self.inSelf = inSelf
    }

    public var description: String {
        let letters = word.map { label -> String in
            switch label {
            case .libc(let id): return "libc#\(id)"
            case .call(let id): return "call#\(id)"
            }
        }
        let side = inSelf ? "only in self" : "only in other"
        return "[\(letters.joined(separator: " "))] \(language.rawValue) language, \(side)"
    }
}

extension Automaton {
    /// Outgoing edges per state, sorted by label then target; edges with an endpoint
    /// outside `0..<stateCount` are dropped so that malformed input cannot trap.
    func validOutgoing() -> [[Edge]] {
        let count = Swift.max(stateCount, 0)
        var result = [[Edge]](repeating: [], count: count)
        for edge in edges where edge.from >= 0 && edge.from < count && edge.to >= 0 && edge.to < count {
            result[edge.from].append(edge)
        }
        for state in 0..<count {
            result[state].sort { ($0.label, $0.to) < ($1.label, $1.to) }
        }
        return result
    }

    /// Whether the initial state exists; without it the automaton has no run at all,
    /// not even the empty one.
    var hasValidInitial: Bool { initial >= 0 && initial < stateCount }

    /// True if both automata have the same prefix language (words every prefix of
    /// which stays inside the automaton) and the same complete language (words that
    /// can end in a final state). Locations are ignored.
    public func isEquivalent(to other: Automaton) -> Bool {
        difference(from: other) == nil
    }

    /// A shortest word that separates the two automata in their prefix or complete
    /// language, or nil if they are equivalent. Among words of equal length the
    /// least in label order is found first, so the answer is deterministic.
    ///
    /// Explores the product of both subset constructions on the fly; it visits only
    /// pairs of state sets reachable by a common word, which for the deterministic
    /// automata `reduced()` produces is at most the product of their sizes.
    public func difference(from other: Automaton) -> LanguageDifference? {
        let mine = SubsetStepper(self)
        let theirs = SubsetStepper(other)

        struct Node {
            var left: [Int]
            var right: [Int]
            var parent: Int
            var label: Label?
        }
        struct Key: Hashable {
            var left: [Int]
            var right: [Int]
        }

        func word(to index: Int, in nodes: [Node]) -> [Label] {
            var labels: [Label] = []
            var current = index
            while current > 0, current < nodes.count {
                if let label = nodes[current].label { labels.append(label) }
                current = nodes[current].parent
            }
            return labels.reversed()
        }

        var nodes = [Node(left: mine.start, right: theirs.start, parent: -1, label: nil)]
        var seen: Set<Key> = [Key(left: mine.start, right: theirs.start)]
        var next = 0
        while next < nodes.count {
            let node = nodes[next]
            let leftAlive = !node.left.isEmpty
            let rightAlive = !node.right.isEmpty
            if leftAlive != rightAlive {
                return LanguageDifference(word: word(to: next, in: nodes), language: .prefix, inSelf: leftAlive)
            }
            if !leftAlive {
                next += 1
                continue
            }
            let leftFinal = mine.isFinal(node.left)
            if leftFinal != theirs.isFinal(node.right) {
                return LanguageDifference(word: word(to: next, in: nodes), language: .complete, inSelf: leftFinal)
            }
            let leftSteps = mine.successors(of: node.left)
            let rightSteps = theirs.successors(of: node.right)
            let labels = Set(leftSteps.keys).union(rightSteps.keys).sorted()
            for label in labels {
                let key = Key(left: leftSteps[label] ?? [], right: rightSteps[label] ?? [])
                if seen.insert(key).inserted {
                    nodes.append(Node(left: key.left, right: key.right, parent: next, label: label))
                }
            }
            next += 1
        }
        return nil
    }
}

/// Steps sets of states of one automaton; sets are sorted arrays without duplicates.
struct SubsetStepper {
    let outgoing: [[Edge]]
    let finals: [Bool]
    let start: [Int]

    init(_ automaton: Automaton) {
        outgoing = automaton.validOutgoing()
        var finals = [Bool](repeating: false, count: outgoing.count)
        for state in automaton.finals where state >= 0 && state < finals.count {
            finals[state] = true
        }
        self.finals = finals
        start = automaton.hasValidInitial ? [automaton.initial] : []
    }

    func isFinal(_ set: [Int]) -> Bool {
        set.contains { finals[$0] }
    }

    func successors(of set: [Int]) -> [Label: [Int]] {
        var result: [Label: Set<Int>] = [:]
        for state in set {
            for edge in outgoing[state] {
                result[edge.label, default: []].insert(edge.to)
            }
        }
        return result.mapValues { $0.sorted() }
    }
}
