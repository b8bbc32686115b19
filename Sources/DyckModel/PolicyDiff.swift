/// Two policies compared by language, function by function (`sbx diff`;
/// specs/checking.md, "Comparing policies").
///
/// Two builds of a program number states, symbols, sites and functions differently,
/// so nothing is compared by number: functions are matched by name, and an edge is
/// read as a *letter* that means the same in both policies: a libc call by the
/// symbol's name, a call edge by the names of the functions its site may enter. For
/// each function present in both, the two automata are run together over these
/// letters (on-the-fly subset construction of both, breadth first), and every letter
/// that one of them can read after a common word and the other cannot is a change:
/// *added* (possible in the new policy only) or *removed*. "May return" differences
/// are changes of the letter `return`. Each change carries a shortest common word
/// before it (the least in letter order among the shortest), so the example is
/// `word + letter`. Each (function, letter, direction) is reported once, at its
/// shortest example.
public struct PolicyDiff: Sendable, Equatable {
    /// What an edge means independently of numbering.
    public enum Letter: Hashable, Comparable, Sendable, CustomStringConvertible {
        case libc(String)
        /// Entry into the named function from a call site (an indirect site with
        /// several candidates gives a letter per candidate).
        case call(String)
        /// The function may return here (a final state).
        case `return`

        public var description: String {
            switch self {
            case .libc(let name): return "\(name)()"
            case .call(let name): return "call \(name)()"
            case .return: return "return"
            }
        }

        private var rank: Int {
            switch self {
            case .libc: return 0
            case .call: return 1
            case .return: return 2
            }
        }

        public static func < (a: Letter, b: Letter) -> Bool {
            switch (a, b) {
            case let (.libc(x), .libc(y)): return x < y
            case let (.call(x), .call(y)): return x < y
            default: return a.rank < b.rank
            }
        }
    }

    public enum Direction: String, Sendable {
        /// Possible in the new policy, not in the old one.
        case added
        /// Possible in the old policy, not in the new one.
        case removed
    }

    public struct Change: Sendable, Equatable {
        public var function: String
        public var letter: Letter
        public var direction: Direction
        /// The shortest common word after which `letter` is possible on one side only.
        public var before: [Letter]
        /// A shortest chain of calls from a root (the entry or a callback) to the
        /// function, in the policy where the change is possible; empty when no root
        /// reaches it.
        public var context: [String]
    }

    /// Sorted by function, then letter, then direction (removed first).
    public var changes: [Change] = []
    /// Functions of one policy only (by name), sorted.
    public var onlyInOld: [String] = []
    public var onlyInNew: [String] = []
    /// Entry functions' names when they differ.
    public var entry: (old: String, new: String)?
    /// Callbacks (names) of one policy only, sorted.
    public var callbacksOnlyInOld: [String] = []
    public var callbacksOnlyInNew: [String] = []
    /// Functions whose comparison gave up at `pairLimit` pairs of state sets (the
    /// subset constructions grew too large): they may have more changes.
    public var incomplete: [String] = []

    public var isEmpty: Bool {
        changes.isEmpty && onlyInOld.isEmpty && onlyInNew.isEmpty && entry == nil
            && callbacksOnlyInOld.isEmpty && callbacksOnlyInNew.isEmpty && incomplete.isEmpty
    }

    public static func == (a: PolicyDiff, b: PolicyDiff) -> Bool {
        a.changes == b.changes && a.onlyInOld == b.onlyInOld && a.onlyInNew == b.onlyInNew
            && a.entry?.old == b.entry?.old && a.entry?.new == b.entry?.new
            && a.callbacksOnlyInOld == b.callbacksOnlyInOld && a.callbacksOnlyInNew == b.callbacksOnlyInNew
            && a.incomplete == b.incomplete
    }

    /// Pairs of state sets explored per function before giving up. Deterministic
    /// automata of n and m states have at most n·m pairs; policies from dyck-gen are
    /// deterministic over their own labels, and merging call sites to the same callee
    /// rarely makes the subsets large.
    public static let pairLimit = 1_000_000

    public init() {}

    /// Compares `old` with `new`. Out-of-range states, sites and callees are ignored
    /// (validated policies have none).
    public init(old: Policy, new: Policy) {
        let oldKeys = Self.keys(old)
        let newKeys = Self.keys(new)
        var newIndex: [String: Int] = [:]
        for (index, key) in newKeys.enumerated() { newIndex[key] = index }
        let oldSet = Set(oldKeys)
        onlyInOld = oldKeys.filter { newIndex[$0] == nil }.sorted()
        onlyInNew = newKeys.filter { !oldSet.contains($0) }.sorted()

        let oldName = old.functions.indices.contains(old.entry) ? oldKeys[old.entry] : "#\(old.entry)"
        let newName = new.functions.indices.contains(new.entry) ? newKeys[new.entry] : "#\(new.entry)"
        if oldName != newName { entry = (oldName, newName) }
        let oldCallbacks = Set(old.callbacks.filter(old.functions.indices.contains).map { oldKeys[$0] })
        let newCallbacks = Set(new.callbacks.filter(new.functions.indices.contains).map { newKeys[$0] })
        callbacksOnlyInOld = oldCallbacks.subtracting(newCallbacks).sorted()
        callbacksOnlyInNew = newCallbacks.subtracting(oldCallbacks).sorted()

        var alphabet = Alphabet()
        let oldContexts = CallContexts(old, keys: oldKeys)
        let newContexts = CallContexts(new, keys: newKeys)
        for (oldIndex, key) in oldKeys.enumerated() {
            guard let newIndexOfKey = newIndex[key] else { continue }
            let left = LetterAutomaton(old, keys: oldKeys, function: oldIndex, alphabet: &alphabet)
            let right = LetterAutomaton(new, keys: newKeys, function: newIndexOfKey, alphabet: &alphabet)
            let (found, complete) = Self.compare(left, right, alphabet: alphabet)
            if !complete { incomplete.append(key) }
            for change in found {
                let context =
                    change.direction == .added
                    ? newContexts.chain(to: newIndexOfKey) : oldContexts.chain(to: oldIndex)
                changes.append(
                    Change(
                        function: key, letter: change.letter, direction: change.direction,
                        before: change.before, context: context))
            }
        }
        changes.sort { a, b in
            if a.function != b.function { return a.function < b.function }
            if a.letter != b.letter { return a.letter < b.letter }
            return a.direction == .removed && b.direction == .added
        }
        incomplete.sort()
    }

    /// The name a function is matched by: its name without the `.N` suffix that
    /// linking gives renamed static functions (`psa_mac_setup.3185`; the number
    /// changes from build to build) when that base is unique in the policy; else the
    /// base and the name of the file it is defined in (`psa_mac_setup
    /// (psa_crypto_mac.c)`: build directories differ too); else the full name and file.
    static func keys(_ policy: Policy) -> [String] {
        func base(_ name: String) -> String {
            guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return name }
            let digits = name[name.index(after: dot)...]
            guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return name }
            return String(name[..<dot])
        }
        func file(_ function: PolicyFunction) -> String {
            guard let path = function.location?.file else { return "?" }
            return path.split(separator: "/").last.map(String.init) ?? path
        }
        var counts: [String: Int] = [:]
        let bases = policy.functions.map { base($0.name) }
        let withFile = policy.functions.indices.map { "\(bases[$0]) (\(file(policy.functions[$0])))" }
        for key in bases + withFile { counts[key, default: 0] += 1 }
        return policy.functions.indices.map { index in
            if counts[bases[index]] == 1 { return bases[index] }
            if counts[withFile[index]] == 1 { return withFile[index] }
            return "\(policy.functions[index].name) (\(policy.functions[index].location?.file ?? "?"))"
        }
    }

    /// Letters interned to small numbers shared by both policies.
    struct Alphabet {
        var letters: [Letter] = []
        var numbers: [Letter: Int] = [:]

        mutating func number(_ letter: Letter) -> Int {
            if let number = numbers[letter] { return number }
            numbers[letter] = letters.count
            letters.append(letter)
            return letters.count - 1
        }
    }

    /// One function's automaton over interned letters.
    struct LetterAutomaton {
        var outgoing: [[(letter: Int, to: Int)]]
        var finals: [Bool]
        var start: [Int]

        init(_ policy: Policy, keys: [String], function: Int, alphabet: inout Alphabet) {
            let automaton = policy.functions[function].automaton
            let count = max(automaton.stateCount, 0)
            outgoing = Array(repeating: [], count: count)
            finals = Array(repeating: false, count: count)
            for state in automaton.finals where state >= 0 && state < count { finals[state] = true }
            start = automaton.initial >= 0 && automaton.initial < count ? [automaton.initial] : []
            for edge in automaton.edges where edge.from >= 0 && edge.from < count && edge.to >= 0 && edge.to < count {
                switch edge.label {
                case .libc(let id):
                    let letter = Letter.libc(policy.symbols.indices.contains(id) ? policy.symbols[id] : "libc#\(id)")
                    outgoing[edge.from].append((alphabet.number(letter), edge.to))
                case .call(let id):
                    // A site with no known callee can never complete: no letter.
                    guard policy.sites.indices.contains(id) else { continue }
                    var callees = Set<Int>()
                    for callee in policy.sites[id].callees where policy.functions.indices.contains(callee) {
                        guard callees.insert(callee).inserted else { continue }
                        outgoing[edge.from].append((alphabet.number(.call(keys[callee])), edge.to))
                    }
                }
            }
        }

        func isFinal(_ set: [Int]) -> Bool { set.contains { finals[$0] } }

        func successors(_ set: [Int]) -> [Int: [Int]] {
            var result: [Int: [Int]] = [:]
            for state in set {
                for (letter, to) in outgoing[state] { result[letter, default: []].append(to) }
            }
            for (letter, targets) in result where targets.count > 1 {
                result[letter] = Array(Set(targets)).sorted()
            }
            return result
        }
    }

    struct Found {
        var letter: Letter
        var direction: Direction
        var before: [Letter]
    }

    /// Breadth-first over pairs of state sets reachable by a common word; returns the
    /// changes at their shortest words, and whether the search ran to the end.
    static func compare(_ left: LetterAutomaton, _ right: LetterAutomaton, alphabet: Alphabet) -> ([Found], Bool) {
        struct Key: Hashable {
            var left: [Int]
            var right: [Int]
        }
        var keys = [Key(left: left.start, right: right.start)]
        var parents = [(parent: -1, letter: -1)]
        var seen: Set<Key> = [keys[0]]
        var reported: Set<[Int]> = []  // [letter or -1 for return, 0 removed / 1 added]
        var found: [Found] = []
        func word(to node: Int) -> [Letter] {
            var result: [Letter] = []
            var current = node
            while current > 0 {
                result.append(alphabet.letters[parents[current].letter])
                current = parents[current].parent
            }
            return result.reversed()
        }
        func report(_ letter: Int, added: Bool, at node: Int) {
            guard reported.insert([letter, added ? 1 : 0]).inserted else { return }
            found.append(
                Found(
                    letter: letter < 0 ? .return : alphabet.letters[letter],
                    direction: added ? .added : .removed, before: word(to: node)))
        }
        var next = 0
        while next < keys.count {
            if keys.count > pairLimit { return (found, false) }
            let key = keys[next]
            // Both sides are alive: a dead side was never enqueued (its letter was
            // reported instead). The empty start of a malformed automaton is alive
            // for no word at all.
            if key.left.isEmpty || key.right.isEmpty {
                next += 1
                continue
            }
            let leftFinal = left.isFinal(key.left)
            if leftFinal != right.isFinal(key.right) { report(-1, added: !leftFinal, at: next) }
            let leftSteps = left.successors(key.left)
            let rightSteps = right.successors(key.right)
            let letters = Set(leftSteps.keys).union(rightSteps.keys).sorted {
                alphabet.letters[$0] < alphabet.letters[$1]
            }
            for letter in letters {
                switch (leftSteps[letter], rightSteps[letter]) {
                case (let l?, let r?):
                    let child = Key(left: l, right: r)
                    if seen.insert(child).inserted {
                        keys.append(child)
                        parents.append((next, letter))
                    }
                case (_?, nil): report(letter, added: false, at: next)
                case (nil, _?): report(letter, added: true, at: next)
                case (nil, nil): break
                }
            }
            next += 1
        }
        return (found, true)
    }

    /// Shortest call chains from the roots (entry first, then callbacks) over the
    /// sites' caller -> callee relation.
    struct CallContexts {
        var parent: [Int]
        var keys: [String]
        var reached: [Bool]

        init(_ policy: Policy, keys: [String]) {
            self.keys = keys
            let count = policy.functions.count
            parent = Array(repeating: -1, count: count)
            reached = Array(repeating: false, count: count)
            var callees = [[Int]](repeating: [], count: count)
            for site in policy.sites where policy.functions.indices.contains(site.caller) {
                callees[site.caller] += site.callees.filter(policy.functions.indices.contains)
            }
            var queue: [Int] = []
            for root in [policy.entry] + policy.callbacks
            where policy.functions.indices.contains(root) && !reached[root] {
                reached[root] = true
                queue.append(root)
            }
            var next = 0
            while next < queue.count {
                let function = queue[next]
                next += 1
                for callee in callees[function] where !reached[callee] {
                    reached[callee] = true
                    parent[callee] = function
                    queue.append(callee)
                }
            }
        }

        func chain(to function: Int) -> [String] {
            guard reached.indices.contains(function), reached[function] else { return [] }
            var result: [String] = []
            var current = function
            while current >= 0 {
                result.append(keys[current])
                current = parent[current]
            }
            return result.reversed()
        }
    }

    /// The differences as text: per function, `+` for added and `-` for removed
    /// letters with a shortest example, then functions and roots of one side only.
    public func text(old: String, new: String) -> String {
        var out = ""
        if let entry { out += "entry: \(entry.old) -> \(entry.new)\n" }
        var current: String?
        for change in changes {
            if change.function != current {
                current = change.function
                out += "in \(change.function)"
                if change.context.count > 1 { out += " (called as \(change.context.joined(separator: " -> ")))" }
                out += ":\n"
            }
            let mark = change.direction == .added ? "+" : "-"
            let example = (change.before + [change.letter]).map(\.description).joined(separator: ", ")
            out += "  \(mark) \(change.letter)    e.g. \(example)\n"
        }
        if !onlyInOld.isEmpty { out += "functions only in \(old): \(onlyInOld.joined(separator: ", "))\n" }
        if !onlyInNew.isEmpty { out += "functions only in \(new): \(onlyInNew.joined(separator: ", "))\n" }
        if !callbacksOnlyInOld.isEmpty {
            out += "callbacks only in \(old): \(callbacksOnlyInOld.joined(separator: ", "))\n"
        }
        if !callbacksOnlyInNew.isEmpty {
            out += "callbacks only in \(new): \(callbacksOnlyInNew.joined(separator: ", "))\n"
        }
        if !incomplete.isEmpty {
            out +=
                "not compared to the end (over \(Self.pairLimit) pairs of state sets): \(incomplete.joined(separator: ", "))\n"
        }
        return out
    }
}
