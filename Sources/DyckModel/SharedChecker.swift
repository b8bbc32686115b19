/// `sbx check --mode nfa` of a Dyck policy without `Policy.flattened()`: the same
/// recogniser as `PolicyChecker` on the flattened policy, run over the shared
/// flattening (`SharedFlattening`: one ε-NFA copy per call-graph component holding
/// roots), which is linear in the policy where `flattened()` copies the program once
/// per root (SQLite's shell: 655 roots, 7.6 million states).
///
/// The flattened policy has one function per root (the entry, then each callback,
/// each once) whose automaton is the reduced ε-NFA of the root's copy. Reduction keeps
/// the language, prefixes included, and a state's outgoing libc labels are those
/// leaving the ε-closure of the ε-NFA states it stands for. So an item here is
/// (root, node of the root's copy, origin) where `PolicyChecker`'s is (flattened
/// function, reduced state, origin), held as a node and origin with a bit set of
/// roots: a chart holds the nodes of every closure instead of one reduced state per
/// closure, items are closed under ε like prediction, and a root's item is final
/// when its node is the root function's `exit` node (the ε-NFA
/// of the flattening is final exactly at the root function's final states, as is the
/// root's copy here). Callbacks are predicted at every position and return to the
/// items they interrupted, as there. The verdict (refused index, libc ids allowed
/// next, the roots' names where they are allowed) is the same.
public struct SharedFlatChecker {
    public let policy: Policy
    let flat: SharedFlattening
    /// The roots as `flattened()` orders them (entry first), and the root index of
    /// each callback in the policy's order.
    let roots: [Int]
    let callbackRoots: [Int]
    /// Per root: its copy and initial node.
    let copyOf: [Int]
    let initialOf: [Int]
    /// Root index of each root function.
    let rootIndex: [Int: Int]

    /// `policy` must be a Dyck policy (`.dyck`) whose entry is a function.
    public init(policy: Policy) {
        self.policy = policy
        var roots: [Int] = []
        for root in [policy.entry] + policy.callbacks
        where policy.functions.indices.contains(root) && !roots.contains(root) {
            roots.append(root)
        }
        self.roots = roots
        var rootIndex: [Int: Int] = [:]
        for (k, root) in roots.enumerated() { rootIndex[root] = k }
        self.rootIndex = rootIndex
        callbackRoots = policy.callbacks.compactMap { rootIndex[$0] }
        let flat = SharedFlattening(policy: policy, roots: roots)
        self.flat = flat
        copyOf = roots.map { flat.rootCopy[$0]!.copy }
        initialOf = roots.map { flat.rootCopy[$0]!.state }
    }

    enum Origin: Hashable {
        case root
        case callback(position: Int)
    }

    /// A node of a copy under one origin; the roots whose runs are there are a bit
    /// set beside it. `PolicyChecker`'s items (root, state, origin) are the pairs of
    /// a key and a root in its set: one key per node, not one per root and node,
    /// keeps a chart linear in the copies when hundreds of callbacks share one.
    struct Key: Hashable {
        var copy: Int32
        var node: Int32
        var origin: Origin
    }

    struct Chart {
        var index: [Key: Int] = [:]
        var keys: [Key] = []
        /// `words` bits per key, in key order.
        var sets: [UInt64] = []
        /// The entry function has returned (`PolicyChecker`'s item of function -1).
        var entryReturned = false
        var callbacksPredicted = false
        /// Keys whose set grew and whose moves are not done yet.
        var pending: [Int] = []
        var isEmpty: Bool { keys.isEmpty && !entryReturned }

        /// Adds `bits` (`words` words) to `key`'s set; schedules the key if it grew.
        mutating func add(_ key: Key, _ bits: UnsafeBufferPointer<UInt64>, words: Int) {
            let k: Int
            if let known = index[key] {
                k = known
            } else {
                k = keys.count
                index[key] = k
                keys.append(key)
                sets.append(contentsOf: repeatElement(0, count: words))
            }
            var grew = false
            for w in 0..<words {
                let merged = sets[k * words + w] | bits[w]
                if merged != sets[k * words + w] {
                    sets[k * words + w] = merged
                    grew = true
                }
            }
            if grew { pending.append(k) }
        }

        func bits(_ k: Int, words: Int) -> ArraySlice<UInt64> { sets[(k * words)..<((k + 1) * words)] }
    }

    private var words: Int { (roots.count + 63) / 64 }

    private func single(_ root: Int) -> [UInt64] {
        var bits = [UInt64](repeating: 0, count: words)
        bits[root / 64] |= 1 << UInt64(root % 64)
        return bits
    }

    private func rootKey(_ k: Int, origin: Origin) -> Key {
        Key(copy: Int32(copyOf[k]), node: Int32(initialOf[k]), origin: origin)
    }

    /// Checks symbol ids; nil stands for a name not in the policy, which no state allows.
    public func check(_ events: [Int?]) -> PolicyChecker.Verdict {
        let words = self.words
        var charts: [Chart] = []
        var current = Chart()
        if !roots.isEmpty {
            single(0).withUnsafeBufferPointer { current.add(rootKey(0, origin: .root), $0, words: words) }
        }
        close(&current, position: 0, charts: charts)
        for (index, event) in events.enumerated() {
            var next = Chart()
            if let symbol = event {
                for (k, key) in current.keys.enumerated() {
                    let copy = flat.copies[Int(key.copy)]
                    let bits = Array(current.bits(k, words: words))
                    for (label, to) in copy.libc[Int(key.node)] where Int(label) == symbol {
                        bits.withUnsafeBufferPointer {
                            next.add(Key(copy: key.copy, node: to, origin: key.origin), $0, words: words)
                        }
                    }
                }
            }
            if next.keys.isEmpty { return verdict(refusedAt: index, chart: current) }
            charts.append(current)
            current = next
            close(&current, position: index + 1, charts: charts)
        }
        return verdict(refusedAt: nil, chart: current)
    }

    /// Closes a chart under ε (prediction and completion inside a copy), callback
    /// entry at this position, and root completion: the entry's return, or a
    /// callback's return to the items it interrupted.
    private func close(_ chart: inout Chart, position: Int, charts: [Chart]) {
        let words = self.words
        var reAdded = Set<Int>()
        while true {
            if !chart.callbacksPredicted && !chart.isEmpty && !callbackRoots.isEmpty {
                chart.callbacksPredicted = true
                for k in callbackRoots {
                    single(k).withUnsafeBufferPointer {
                        chart.add(rootKey(k, origin: .callback(position: position)), $0, words: words)
                    }
                }
            }
            guard let k = chart.pending.popLast() else { break }
            let key = chart.keys[k]
            let copy = flat.copies[Int(key.copy)]
            let bits = Array(chart.bits(k, words: words))
            bits.withUnsafeBufferPointer { buffer in
                for to in copy.epsilon[Int(key.node)] {
                    chart.add(Key(copy: key.copy, node: to, origin: key.origin), buffer, words: words)
                }
            }
            let r = Int(copy.rootOfExit[Int(key.node)])
            guard r >= 0, let root = rootIndex[r], bits[root / 64] & (1 << UInt64(root % 64)) != 0
            else { continue }
            switch key.origin {
            case .root:
                chart.entryReturned = true
            case .callback(let start):
                guard start != position, reAdded.insert(start).inserted else { continue }
                let interrupted = charts[start]
                if interrupted.entryReturned { chart.entryReturned = true }
                interrupted.sets.withUnsafeBufferPointer { sets in
                    for (j, other) in interrupted.keys.enumerated() {
                        chart.add(
                            other, UnsafeBufferPointer(rebasing: sets[(j * words)..<((j + 1) * words)]), words: words)
                    }
                }
            }
        }
    }

    private func verdict(refusedAt index: Int?, chart: Chart) -> PolicyChecker.Verdict {
        let words = self.words
        var allowed = Set<Int>()
        var withCalls = Set<Int>()
        var present = Set<Int>()
        for (k, key) in chart.keys.enumerated() {
            let libc = flat.copies[Int(key.copy)].libc[Int(key.node)]
            for w in 0..<words {
                var word = chart.sets[k * words + w]
                while word != 0 {
                    let root = w * 64 + word.trailingZeroBitCount
                    word &= word - 1
                    present.insert(root)
                    if !libc.isEmpty { withCalls.insert(root) }
                }
            }
            for (label, _) in libc { allowed.insert(Int(label)) }
        }
        let named = (withCalls.isEmpty ? present : withCalls).map { policy.functions[roots[$0]].name }
        return PolicyChecker.Verdict(
            refusedIndex: index, allowedNext: allowed.sorted(), functions: Set(named).sorted())
    }
}
