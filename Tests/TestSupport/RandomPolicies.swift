import DyckModel

/// A small deterministic generator, so that failures of randomized tests reproduce.
/// The one copy the test targets share.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform integer of `range`.
    public mutating func int(_ range: ClosedRange<Int>) -> Int {
        Int.random(in: range, using: &self)
    }

    /// A uniform element of `items` (not empty).
    public mutating func pick<T>(_ items: [T]) -> T {
        items[int(0...(items.count - 1))]
    }
}

/// Random valid policies for the randomized and differential tests.
public enum RandomPolicies {
    /// Up to `maxFunctions` functions of up to `maxStates` states and `maxEdges` edges
    /// over `symbols` libc symbols (named s0, s1, ...), direct and indirect call sites
    /// (often recursive), and sometimes one or two callbacks. No automaton has the
    /// same libc edge twice.
    public static func policy(
        _ rng: inout SplitMix64, maxFunctions: Int = 3, maxStates: Int = 4, maxEdges: Int = 5, symbols: Int = 2
    ) -> Policy {
        let functionCount = rng.int(1...maxFunctions)
        var sites: [CallSite] = []
        var functions: [PolicyFunction] = []
        for f in 0..<functionCount {
            let states = rng.int(1...maxStates)
            var edges: [Edge] = []
            var seen = Set<String>()
            for _ in 0..<rng.int(0...maxEdges) {
                let from = rng.int(0...(states - 1)), to = rng.int(0...(states - 1))
                if rng.int(0...2) == 0 {
                    let callees = Array(Set((0..<rng.int(1...2)).map { _ in rng.int(0...(functionCount - 1)) }))
                        .sorted()
                    sites.append(CallSite(caller: f, callees: callees, indirect: callees.count > 1))
                    edges.append(Edge(from: from, label: .call(sites.count - 1), to: to))
                } else {
                    let l = rng.int(0...(symbols - 1))
                    guard seen.insert("\(from) \(l) \(to)").inserted else { continue }
                    edges.append(Edge(from: from, label: .libc(l), to: to))
                }
            }
            let finals = Set((0..<states).filter { _ in rng.int(0...2) == 0 })
            functions.append(
                PolicyFunction(
                    name: "f\(f)", automaton: Automaton(stateCount: states, initial: 0, finals: finals, edges: edges)))
        }
        var callbacks: [Int] = []
        if rng.int(0...3) == 0 {
            for _ in 0..<rng.int(1...2) {
                let f = rng.int(0...(functionCount - 1))
                if !callbacks.contains(f) { callbacks.append(f) }
            }
        }
        return Policy(
            symbols: (0..<symbols).map { "s\($0)" }, functions: functions, sites: sites,
            entry: 0, callbacks: callbacks)
    }
}
