import DyckModel
import TestSupport

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

    /// A random policy of up to 3 functions with 4 states over two libc symbols
    /// (TestSupport's `RandomPolicies`).
    static func randomPolicy(_ rng: inout SplitMix64) -> Policy {
        RandomPolicies.policy(&rng)
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

/// TestSupport's generator, under the name this target's tests use (without an
/// import in every file).
typealias SplitMix64 = TestSupport.SplitMix64
