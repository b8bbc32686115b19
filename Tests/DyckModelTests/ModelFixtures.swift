import DyckModel

/// Small hand-written policies shared by the flattening, branching-factor and DOT tests.
enum ModelFixtures {
    /// A chain automaton from edge triples; `finals` as given.
    static func automaton(_ count: Int, finals: Set<Int>, _ edges: [(Int, Label, Int)], line: Int? = nil) -> Automaton {
        Automaton(
            stateCount: count, initial: 0, finals: finals,
            edges: edges.map {
                Edge(
                    from: $0.0, label: $0.1, to: $0.2,
                    locations: line.map { [SourceLocation(file: "src/t.c", line: $0)] } ?? [])
            })
    }

    /// A random policy of up to 3 functions with 4 states, over libc symbols a and b,
    /// with direct and indirect call sites, recursion, and sometimes a callback.
    static func randomPolicy(_ rng: inout SplitMix64) -> Policy {
        let functionCount = rng.int(1...3)
        var sites: [CallSite] = []
        var functions: [PolicyFunction] = []
        for f in 0..<functionCount {
            let states = rng.int(1...4)
            var edges: [Edge] = []
            for _ in 0..<rng.int(0...5) {
                let from = rng.int(0...(states - 1)), to = rng.int(0...(states - 1))
                if rng.int(0...2) == 0 {
                    let callees = Array(Set((0..<rng.int(1...2)).map { _ in rng.int(0...(functionCount - 1)) }))
                        .sorted()
                    sites.append(CallSite(caller: f, callees: callees, indirect: callees.count > 1))
                    edges.append(Edge(from: from, label: .call(sites.count - 1), to: to))
                } else {
                    edges.append(Edge(from: from, label: .libc(rng.int(0...1)), to: to))
                }
            }
            let finals = Set((0..<states).filter { _ in rng.int(0...2) == 0 })
            functions.append(
                PolicyFunction(
                    name: "f\(f)", automaton: Automaton(stateCount: states, initial: 0, finals: finals, edges: edges)))
        }
        let callbacks = rng.int(0...3) == 0 ? [rng.int(0...(functionCount - 1))] : []
        return Policy(symbols: ["a", "b"], functions: functions, sites: sites, entry: 0, callbacks: callbacks)
    }

    /// Symbols read(0), open(1), write(2).
    /// main: f();   f: read(); if (...) f(); write();
    static var recursive: Policy {
        let read = Label.libc(0), write = Label.libc(2)
        return Policy(
            symbols: ["read", "open", "write"],
            functions: [
                PolicyFunction(name: "main", automaton: automaton(2, finals: [1], [(0, .call(0), 1)])),
                PolicyFunction(
                    name: "f",
                    automaton: automaton(
                        4, finals: [3],
                        [
                            (0, read, 1), (1, .call(1), 2), (2, write, 3), (1, write, 3)
                        ]))
            ],
            sites: [CallSite(caller: 0, callees: [1]), CallSite(caller: 1, callees: [1])],
            entry: 0)
    }

    /// Symbols read(0), open(1), write(2).
    /// main: a(); b();   a: h(); open();   b: h(); write();   h: read();
    /// Sites: 0 main→a, 1 main→b, 2 a→h, 3 b→h.
    static var sharedHelper: Policy {
        let read = Label.libc(0), open = Label.libc(1), write = Label.libc(2)
        return Policy(
            symbols: ["read", "open", "write"],
            functions: [
                PolicyFunction(
                    name: "main", automaton: automaton(3, finals: [2], [(0, .call(0), 1), (1, .call(1), 2)])),
                PolicyFunction(
                    name: "a", automaton: automaton(3, finals: [2], [(0, .call(2), 1), (1, open, 2)], line: 10)),
                PolicyFunction(
                    name: "b", automaton: automaton(3, finals: [2], [(0, .call(3), 1), (1, write, 2)], line: 20)),
                PolicyFunction(name: "h", automaton: automaton(2, finals: [1], [(0, read, 1)], line: 30))
            ],
            sites: [
                CallSite(caller: 0, callees: [1], location: SourceLocation(file: "src/t.c", line: 2)),
                CallSite(caller: 0, callees: [2], location: SourceLocation(file: "src/t.c", line: 3)),
                CallSite(caller: 1, callees: [3], location: SourceLocation(file: "src/t.c", line: 9)),
                CallSite(caller: 2, callees: [3], location: SourceLocation(file: "src/t.c", line: 19))
            ],
            entry: 0)
    }
}

/// A small deterministic generator, so that failures of randomized tests reproduce.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func int(_ range: ClosedRange<Int>) -> Int {
        Int.random(in: range, using: &self)
    }
}
