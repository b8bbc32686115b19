/// How `Policy.flattened(options:)` turns call edges into plain automaton structure.
public struct FlattenOptions: Hashable, Sendable {
    /// nil: Wagner and Dean's single-copy callgraph model, one copy of each function
    /// per root. A number N: each call site gets its own copy of its callee, recursively,
    /// while the root's machine stays within N states (before reduction); recursion and
    /// an exhausted budget fall back to the shared single copy.
    public var inlineBudget: Int?

    public init(inlineBudget: Int? = nil) {
        self.inlineBudget = inlineBudget
    }
}

extension Policy {
    /// The context-insensitive NFA of this policy: one function per root (the entry,
    /// then each callback in order, each root once), named and located after the root,
    /// with no call edges left.
    ///
    /// A call edge `s --call(c)--> t` becomes ε from `s` to the initial state of a copy
    /// of each callee `g` of `c` and ε from each final state of that copy to `t`. In
    /// single-copy mode all call sites of `g` share one copy, so a run may enter `g`
    /// from one caller and leave it into another (the impossible paths the Dyck model
    /// excludes); inlining gives call sites their own copies and removes those paths
    /// as far as the budget goes. Either way the result admits every word the Dyck
    /// policy admits, prefixes included.
    ///
    /// The result has kind `.nfa`, the same symbol table, no sites, `entry == 0` and
    /// callbacks pointing at their root functions; each automaton is `reduced()`, with
    /// libc edge locations kept. A call edge whose site is unknown or has no valid
    /// callee can never complete and is dropped. An out-of-range entry gives a policy
    /// without functions. A policy that is already `.nfa` is returned unchanged.
    public func flattened(options: FlattenOptions = .init()) -> Policy {
        if kind == .nfa { return self }
        var roots: [Int] = []
        for root in [entry] + callbacks where functions.indices.contains(root) && !roots.contains(root) {
            roots.append(root)
        }
        let flatFunctions = roots.map { root -> PolicyFunction in
            var builder = FlatteningBuilder(policy: self, budget: options.inlineBudget)
            builder.build(root: root)
            return PolicyFunction(
                name: functions[root].name, location: functions[root].location, automaton: builder.nfa.reduced())
        }
        let flatCallbacks = callbacks.compactMap { roots.firstIndex(of: $0) }
        return Policy(
            kind: .nfa, module: module, symbols: symbols, functions: flatFunctions, sites: [],
            entry: 0, callbacks: flatCallbacks, syscalls: syscalls)
    }
}

/// Builds the ε-NFA of one root: copies of function automata wired together at call
/// edges.
struct FlatteningBuilder {
    let policy: Policy
    let budget: Int?
    var nfa = EpsilonNFA()
    /// Offset of the shared (single) copy of each function that has one.
    private var sharedCopy: [Int: Int] = [:]
    /// Copies whose call edges still have to be wired, in creation order.
    private var pending: [Instance] = []

    struct Instance {
        var function: Int
        var offset: Int
        /// Functions on the inlining path down to this copy (itself included), or nil
        /// for a shared copy, whose calls all go to shared copies.
        var path: [Int]?
    }

    init(policy: Policy, budget: Int?) {
        self.policy = policy
        self.budget = budget
    }

    mutating func build(root: Int) {
        // The root's own copy doubles as its shared copy, so recursion back into the
        // root reuses it rather than making a second one.
        let offset = copy(root)
        sharedCopy[root] = offset
        let initial = policy.functions[root].automaton.initial
        // An invalid initial state must not land in another copy; -1 makes reduction
        // fail closed.
        nfa.initial = valid(initial, in: root) ? offset + initial : -1
        for state in policy.functions[root].automaton.finals where valid(state, in: root) {
            nfa.finals.insert(offset + state)
        }
        pending.append(Instance(function: root, offset: offset, path: budget == nil ? nil : [root]))
        // Breadth-first, so that with a budget the shallow call sites are inlined first.
        var next = 0
        while next < pending.count {
            wireCalls(of: pending[next])
            next += 1
        }
    }

    private func valid(_ state: Int, in function: Int) -> Bool {
        state >= 0 && state < policy.functions[function].automaton.stateCount
    }

    private func stateCount(of function: Int) -> Int {
        max(policy.functions[function].automaton.stateCount, 0)
    }

    /// Adds the states and libc edges of a fresh copy of `function`; returns its offset.
    private mutating func copy(_ function: Int) -> Int {
        let offset = nfa.stateCount
        nfa.stateCount += stateCount(of: function)
        for edge in policy.functions[function].automaton.edges {
            guard case .libc = edge.label, valid(edge.from, in: function), valid(edge.to, in: function) else {
                continue
            }
            if edge.locations.isEmpty {
                nfa.addEdge(offset + edge.from, edge.label, offset + edge.to)
            } else {
                for location in edge.locations {
                    nfa.addEdge(offset + edge.from, edge.label, offset + edge.to, location: location)
                }
            }
        }
        return offset
    }

    private mutating func shared(_ function: Int) -> Int {
        if let offset = sharedCopy[function] { return offset }
        let offset = copy(function)
        sharedCopy[function] = offset
        pending.append(Instance(function: function, offset: offset, path: nil))
        return offset
    }

    private mutating func wireCalls(of instance: Instance) {
        let automaton = policy.functions[instance.function].automaton
        let calls = automaton.edges
            .filter { edge in
                if case .call = edge.label {
                    return valid(edge.from, in: instance.function) && valid(edge.to, in: instance.function)
                }
                return false
            }
            .sorted { ($0.from, $0.label, $0.to) < ($1.from, $1.label, $1.to) }
        for edge in calls {
            guard case .call(let site) = edge.label, policy.sites.indices.contains(site) else { continue }
            var callees: [Int] = []
            for callee in policy.sites[site].callees
            where policy.functions.indices.contains(callee) && !callees.contains(callee) {
                callees.append(callee)
            }
            for callee in callees {
                let offset = target(for: callee, from: instance)
                let calleeAutomaton = policy.functions[callee].automaton
                if valid(calleeAutomaton.initial, in: callee) {
                    nfa.addEdge(instance.offset + edge.from, nil, offset + calleeAutomaton.initial)
                }
                for final in calleeAutomaton.finals.sorted() where valid(final, in: callee) {
                    nfa.addEdge(offset + final, nil, instance.offset + edge.to)
                }
            }
        }
    }

    /// The copy of `callee` that a call from `instance` enters: a fresh inlined one if
    /// the budget allows and `callee` is not already on the path, else the shared one.
    private mutating func target(for callee: Int, from instance: Instance) -> Int {
        guard let budget, let path = instance.path, !path.contains(callee),
            nfa.stateCount + stateCount(of: callee) <= budget
        else { return shared(callee) }
        let offset = copy(callee)
        pending.append(Instance(function: callee, offset: offset, path: path + [callee]))
        return offset
    }
}
