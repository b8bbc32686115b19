import DyckModel
import Foundation

/// The flattening of a policy, computed on first use and kept (the machine is a value
/// type; its copies share the one flattening).
final class LazyFlattening: @unchecked Sendable {
    private let lock = NSLock()
    private var cached: FlattenedMarkers?

    func value(_ policy: Policy) -> FlattenedMarkers {
        lock.lock()
        defer { lock.unlock() }
        if let cached { return cached }
        let computed = FlattenedMarkers(policy: policy)
        cached = computed
        return computed
    }
}

/// Which model a blob enforces on a program instrumented for a Dyck policy: the
/// policy as written, or its single-copy flattened NFA (`Policy.flattened()`), where
/// call-site markers change nothing and callbacks keep their frames
/// (`FlattenedMarkers`; `specs/kernel-abi.md`, "Modes").
public enum BlobMode: String, Sendable, CaseIterable {
    case dyck
    case nfa
}

/// A policy compiled into a deterministic machine over *macro-states*: each a
/// frontier (a set of (function, state) pairs) that `ThreadMonitor` can reach
/// (`specs/kernel-abi.md`, "Macro-states"). Stepping the machine is a table look-up
/// where the reference monitor computes a set.
public struct MacroMachine: Sendable {
    /// A (function, state) pair.
    public struct Pair: Hashable, Comparable, Sendable {
        public var function: Int
        public var state: Int

        public init(function: Int, state: Int) {
            self.function = function
            self.state = state
        }

        public static func < (a: Pair, b: Pair) -> Bool {
            (a.function, a.state) < (b.function, b.state)
        }
    }

    /// A transition key: a libc symbol or a call site (the continuation of `CALL`).
    public enum Key: Hashable, Comparable, Sendable {
        case libc(Int)
        case call(Int)

        /// The key's number in the blob: libc ids below call ids.
        var encoded: UInt32 {
            switch self {
            case .libc(let l): return UInt32(l)
            case .call(let c): return 0x8000_0000 | UInt32(c)
            }
        }

        public static func < (a: Key, b: Key) -> Bool { a.encoded < b.encoded }
    }

    /// The model the machine enforces: the policy as given (dyck mode) or its
    /// flattening (nfa mode). Computed on demand: the flattening of a large Dyck
    /// policy is quadratic (one copy of the program per root), and the machine is
    /// built without it (`SharedFlattening`).
    public var policy: Policy { flatMarkers?.flattened ?? original }
    /// The policy as given, whose ids the markers carry.
    public let original: Policy
    /// nfa mode (also for a policy of kind nfa, its own flattening): how the markers
    /// read in `policy`; nil in dyck mode. Computed on demand, as `policy`.
    public var flatMarkers: FlattenedMarkers? { mode == .nfa ? lazyFlat.value(original) : nil }
    private let lazyFlat = LazyFlattening()
    public let mode: BlobMode
    /// The policy whose (function, state) pairs the frontiers hold: `original` in
    /// dyck mode and in nfa mode for a Dyck policy (the frontier is then a set of
    /// positions of the shared flattening, named by the original function and
    /// state); the policy itself for a policy of kind nfa.
    public let frontierModel: Policy
    /// nfa mode for a Dyck policy: the shared flattening the frontiers are over.
    let shared: SharedFlattening?
    /// nfa mode for a Dyck policy: the shared copy each macro-state's frontier is in
    /// (-1 for the empty frontier).
    public private(set) var frontierCopies: [Int] = []
    /// Site ids (`CALL`/`RET`/`TAIL`) and function indices (`CB_ENTER`/`CB_EXIT`) the
    /// markers may carry: the original policy's.
    public var siteCount: Int { original.sites.count }
    public var functionCount: Int { original.functions.count }
    /// Frontier of each macro-state, sorted.
    public private(set) var frontiers: [[Pair]] = []
    /// Whether each macro-state holds a final state of its function.
    public private(set) var finals: [Bool] = []
    /// Transitions of each macro-state, in ascending key order.
    public private(set) var transitions: [[(key: Key, target: Int)]] = []
    /// Macro-state entered by `CALL`/`TAIL` of each site; empty in nfa mode (the
    /// flattened model has no sites).
    public private(set) var siteEntries: [Int] = []
    /// (function, entered macro-state) of each callback, ascending by function; the
    /// function is the original policy's index, in nfa mode too, and the macro-state
    /// the initial state of the function the callback is in `policy`.
    public private(set) var callbackEntries: [(function: Int, entered: Int)] = []
    /// The root frame's macro-state at exec, and of a new thread (the empty frontier).
    public private(set) var initial = 0
    public private(set) var threadStart = 0

    public var macroStateCount: Int { frontiers.count }
    public private(set) var transitionCount = 0

    private var index: [[Pair]: Int] = [:]
    private let macroStateCap: Int
    private let transitionCap: Int

    /// Builds the machine of a valid policy (the one the program was instrumented
    /// for, in both modes; nfa mode flattens it); throws the policy's first validity
    /// error, or a `BlobError` naming the cap a table would exceed.
    public init(policy input: Policy, mode: BlobMode) throws {
        try self.init(
            policy: input, mode: mode, macroStateCap: BlobLimits.maxMacroStates,
            transitionCap: BlobLimits.maxTransitions)
    }

    /// As `init(policy:mode:)`, with smaller caps (for tests).
    init(policy input: Policy, mode: BlobMode, macroStateCap: Int, transitionCap: Int) throws {
        self.macroStateCap = macroStateCap
        self.transitionCap = transitionCap
        try input.validate()
        try BlobLimits.checkCounts(input)
        original = input
        self.mode = mode == .nfa || input.kind == .nfa ? .nfa : .dyck
        if self.mode == .nfa && input.kind == .dyck {
            frontierModel = input
            let built = try Self.sharedMachine(input, macroStateCap: macroStateCap, transitionCap: transitionCap)
            shared = built.flat
            frontiers = built.frontiers
            frontierCopies = built.copies
            finals = built.finals
            transitions = built.transitions
            transitionCount = built.transitionCount
            callbackEntries = built.callbacks
            threadStart = 0
            initial = 1
            for (m, f) in frontiers.enumerated() where index[f] == nil { index[f] = m }
            // Log mode's any macro-states, per shared copy and root class.
            outgoing = []
            finalSets = []
            resync = built.resync
            resyncGroupsLeftOut = built.resyncGroupsLeftOut
            return
        }
        shared = nil
        // A policy of kind nfa is its own flattening: no call edges, nothing to share.
        let policy = input
        frontierModel = input

        let outgoing = policy.functions.map { $0.automaton.outgoing() }
        let finalSets = policy.functions.map(\.automaton.finals)
        self.outgoing = outgoing
        self.finalSets = finalSets
        func initialPair(_ f: Int) -> Pair { Pair(function: f, state: policy.functions[f].automaton.initial) }

        // Roots, in this order: the empty frontier, the entry, each site's callees,
        // each callback. Numbers are given when a frontier is first seen.
        threadStart = try intern([], finalSets)
        initial = try intern([initialPair(policy.entry)], finalSets)
        for site in policy.sites {
            let entered = Set(site.callees.map(initialPair)).sorted()
            siteEntries.append(try intern(entered, finalSets))
        }
        // A callback is entered by its original index (the marker's id) at the initial
        // state of its function in the model; in nfa mode the k-th callback of the
        // flattening is the root of the k-th original one.
        var callbacks: [(function: Int, entered: Int)] = []
        for (k, f) in policy.callbacks.enumerated() {
            callbacks.append((input.callbacks[k], try intern([initialPair(f)], finalSets)))
        }
        callbackEntries = callbacks.sorted { $0.function < $1.function }

        // Close under libc successors and call continuations, in number order.
        _ = try close(stateLimit: Int.max, transitionLimit: Int.max)
        try addResynchronisation()
    }

    private let outgoing: [[[Edge]]]
    /// The (function, state) pairs of all frontiers: the memory, and the work of
    /// stepping them, that the machine took.
    private var pairCount = 0
    private let finalSets: [Set<Int>]

    /// Gives every macro-state not yet stepped its transitions, in number order,
    /// interning the frontiers they lead to. Returns false, leaving the machine
    /// half-closed, as soon as it holds more than `stateLimit` macro-states or
    /// `transitionLimit` transitions (the caller rolls back).
    private mutating func close(stateLimit: Int, transitionLimit: Int, pairLimit: Int = Int.max) throws -> Bool {
        var moves: [(key: UInt32, to: Pair)] = []
        while transitions.count < frontiers.count {
            let next = transitions.count
            moves.removeAll(keepingCapacity: true)
            for pair in frontiers[next] {
                for edge in outgoing[pair.function][pair.state] {
                    let key: Key
                    switch edge.label {
                    case .libc(let l): key = .libc(l)
                    case .call(let c): key = .call(c)
                    }
                    moves.append((key.encoded, Pair(function: pair.function, state: edge.to)))
                }
            }
            moves.sort { ($0.key, $0.to) < ($1.key, $1.to) }
            var out: [(key: Key, target: Int)] = []
            var i = 0
            while i < moves.count {
                let key = moves[i].key
                var frontier: [Pair] = []
                while i < moves.count, moves[i].key == key {
                    if frontier.last != moves[i].to { frontier.append(moves[i].to) }
                    i += 1
                }
                let decoded: Key = key & 0x8000_0000 != 0 ? .call(Int(key & 0x7fff_ffff)) : .libc(Int(key))
                out.append((decoded, try intern(frontier, finalSets)))
            }
            transitionCount += out.count
            if transitionCount > transitionCap {
                throw BlobError.capExceeded(what: "transitions", count: transitionCount, cap: transitionCap)
            }
            transitions.append(out)
            if frontiers.count > stateLimit || transitionCount > transitionLimit || pairCount > pairLimit {
                return false
            }
        }
        return true
    }

    /// Per macro-state, the "any" macro-state of its function group (log mode's
    /// resynchronisation, `specs/kernel-abi.md` "Log mode"): the frontier of every
    /// state of the functions its frontier is in, closed like the rest. nil for the
    /// empty frontier and for a group left out because its closure would have
    /// taken the machine over the resynchronisation budget.
    public private(set) var resync: [Int?] = []
    /// Function groups left out (over the budget).
    public private(set) var resyncGroupsLeftOut = 0

    /// The budget of the macro-states, transitions and frontier pairs that
    /// resynchronisation may add: as many as the machine had without it, and at least
    /// 4096, 16384 and 2^18, so that a blob grows, and its build takes, at most about
    /// twice as much (an nfa machine's any macro-state holds every state of the
    /// program); the caps stay as they are.
    static func resyncBudget(states: Int, transitions: Int, pairs: Int) -> (states: Int, transitions: Int, pairs: Int) {
        (max(4096, states), max(16384, transitions), max(1 << 18, pairs))
    }

    /// Adds the any macro-states of every function group, in macro-state order
    /// (groups of the macro-states the closures add too), within the budget; a group
    /// whose closure does not fit is rolled back and left out.
    private mutating func addResynchronisation() throws {
        let budget = MacroMachine.resyncBudget(states: frontiers.count, transitions: transitionCount, pairs: pairCount)
        let stateLimit = min(frontiers.count + budget.states, macroStateCap)
        let transitionLimit = min(transitionCount + budget.transitions, transitionCap)
        let pairLimit = pairCount + budget.pairs
        var anyOf: [[Int]: Int?] = [:]
        var m = 0
        while m < frontiers.count {
            var functions: [Int] = []
            for pair in frontiers[m] where functions.last != pair.function { functions.append(pair.function) }
            if functions.isEmpty {
                resync.append(nil)
            } else if let known = anyOf[functions] {
                resync.append(known)
            } else {
                let states = frontiers.count, transitionsBefore = transitionCount, pairsBefore = pairCount
                var any: [Pair] = []
                for f in functions {
                    for q in 0..<policy.functions[f].automaton.stateCount { any.append(Pair(function: f, state: q)) }
                }
                var fits = frontiers.count < stateLimit && pairCount + any.count <= pairLimit
                var number = 0
                if fits {
                    // At the machine's caps too the group is left out, not the blob.
                    do {
                        number = try intern(any, finalSets)
                        fits = try close(stateLimit: stateLimit, transitionLimit: transitionLimit, pairLimit: pairLimit)
                    } catch BlobError.capExceeded {
                        fits = false
                    }
                }
                if fits {
                    anyOf[functions] = number
                    resync.append(number)
                } else {
                    for dropped in frontiers[states...] { index[dropped] = nil }
                    frontiers.removeSubrange(states...)
                    finals.removeSubrange(states...)
                    if transitions.count > states { transitions.removeSubrange(states...) }
                    transitionCount = transitionsBefore
                    pairCount = pairsBefore
                    anyOf[functions] = .some(nil)
                    resync.append(nil)
                    resyncGroupsLeftOut += 1
                }
            }
            m += 1
        }
    }

    private mutating func intern(_ frontier: [Pair], _ finalSets: [Set<Int>]) throws -> Int {
        if let known = index[frontier] { return known }
        let number = frontiers.count
        if number >= macroStateCap {
            throw BlobError.capExceeded(what: "macro-states", count: number + 1, cap: macroStateCap)
        }
        index[frontier] = number
        pairCount += frontier.count
        frontiers.append(frontier)
        finals.append(frontier.contains { finalSets[$0.function].contains($0.state) })
        return number
    }

    /// The machine's macro-state for a frontier, if it has one.
    public func macroState(of frontier: [Pair]) -> Int? {
        index[frontier.sorted()]
    }
}
