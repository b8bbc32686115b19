import XCTest
@testable import DyckModel

final class MinimizeTests: XCTestCase {
    let open = Label.libc(0)
    let read = Label.libc(1)
    let write = Label.libc(2)
    let close = Label.libc(3)
    let exit = Label.libc(4)

    func location(_ line: Int) -> SourceLocation { SourceLocation(file: "t.c", line: line) }

    func nfa(_ count: Int, initial: Int = 0, finals: Set<Int>, _ edges: [(Int, Label?, Int)]) -> EpsilonNFA {
        var result = EpsilonNFA()
        result.stateCount = count
        result.initial = initial
        result.finals = finals
        for (from, label, to) in edges { result.addEdge(from, label, to) }
        return result
    }

    func testEpsilonRemoval() {
        // 0 -ε-> 1 -open-> 2 -ε-> 3(final), 0 -ε-> 3: the empty word completes too.
        let input = nfa(4, finals: [3], [(0, nil, 1), (1, open, 2), (2, nil, 3), (0, nil, 3)])
        let reduced = input.reduced()
        XCTAssertEqual(
            reduced, Automaton(stateCount: 2, initial: 0, finals: [0, 1], edges: [Edge(from: 0, label: open, to: 1)]))
        XCTAssertTrue(reduced.isEquivalent(to: input.removingEpsilons()))
    }

    func testBranchesJoinAndLocationsMerge() {
        var input = EpsilonNFA()
        input.stateCount = 5
        input.finals = [2, 4]
        input.addEdge(0, open, 1, location: location(1))
        input.addEdge(1, close, 2, location: location(5))
        input.addEdge(0, read, 3, location: location(2))
        input.addEdge(3, close, 4, location: location(7))
        let reduced = input.reduced()
        XCTAssertEqual(
            reduced,
            Automaton(
                stateCount: 3, initial: 0, finals: [2],
                edges: [
                    Edge(from: 0, label: open, to: 1, locations: [location(1)]),
                    Edge(from: 0, label: read, to: 1, locations: [location(2)]),
                    Edge(from: 1, label: close, to: 2, locations: [location(5), location(7)])
                ]))
    }

    func testLoopCollapses() {
        // open; while (...) { read; read; } close — unrolled twice by the front end.
        let input = nfa(
            6, finals: [5],
            [
                (0, open, 1), (1, read, 2), (2, read, 3), (3, read, 4), (4, read, 1), (1, close, 5), (3, close, 5)
            ])
        let reduced = input.reduced()
        XCTAssertEqual(reduced.stateCount, 4)
        XCTAssertTrue(reduced.isEquivalent(to: input.removingEpsilons()))
        XCTAssertTrue(reduced.isDeterministic)
    }

    func testDeadStatesAfterExitArePreserved() {
        // 0 -exit-> 1 (may not return), 0 -open-> 2 (returns), 0 -abort-> 3 (may not return).
        let abort = Label.libc(5)
        let input = nfa(4, finals: [2], [(0, exit, 1), (0, open, 2), (0, abort, 3)])
        let reduced = input.reduced()
        // The two dead states merge with each other but neither with the final state
        // nor vanish: `exit` stays an allowed prefix.
        XCTAssertEqual(reduced.stateCount, 3)
        XCTAssertEqual(reduced.edges.count, 3)
        XCTAssertTrue(reduced.isEquivalent(to: input.removingEpsilons()))
        XCTAssertNil(reduced.difference(from: input.removingEpsilons()))
        let withoutExit = nfa(3, finals: [2], [(0, open, 2), (0, abort, 1)]).reduced()
        XCTAssertEqual(reduced.difference(from: withoutExit)?.language, .prefix)
    }

    func testDeadStateIsNotMergedWithNoTransition() {
        // 1 has a `read` edge to a dead state, 2 has none; they must stay apart (the
        // two dead states 2 and 3 merge). Treating "no transition" as a dead state
        // would merge everything but the initial state.
        let input = nfa(4, finals: [], [(0, open, 1), (0, close, 2), (1, read, 3)])
        XCTAssertEqual(input.reduced().stateCount, 3)
    }

    func testLongChainsStayLinear() {
        // Thousands of identical labels: every state differs by its distance to the end.
        let n = 20_000
        var chain = EpsilonNFA()
        chain.stateCount = n
        chain.finals = [n - 1]
        for state in 0..<(n - 1) { chain.addEdge(state, read, state + 1) }
        let start = Date()
        let reduced = chain.reduced()
        XCTAssertEqual(reduced.stateCount, n)
        // All final and a loop at the end: everything merges into one state.
        chain.finals = Set(0..<n)
        chain.addEdge(n - 1, read, n - 1)
        XCTAssertEqual(
            chain.reduced(),
            Automaton(stateCount: 1, initial: 0, finals: [0], edges: [Edge(from: 0, label: read, to: 0)]))
        XCTAssertLessThan(Date().timeIntervalSince(start), 20)
    }

    func testDeterminizationCapFallsBackToNFA() {
        // (open|read)* open (open|read)^8: 10 NFA states, 512 DFA states > max(64, 40).
        let k = 8
        var edges: [(Int, Label?, Int)] = [(0, open, 0), (0, read, 0), (0, open, 1)]
        for state in 1...k { edges += [(state, open, state + 1), (state, read, state + 1)] }
        let input = nfa(k + 2, finals: [k + 1], edges)
        let reduced = input.reduced()
        XCTAssertFalse(reduced.isDeterministic)
        XCTAssertEqual(reduced.stateCount, k + 2)
        XCTAssertTrue(reduced.isEquivalent(to: input.removingEpsilons()))
        XCTAssertEqual(reduced, reduced.reduced())
        // A smaller k stays within the cap and is determinized (2^(k+1) states).
        let small = nfa(
            5, finals: [4],
            [(0, open, 0), (0, read, 0), (0, open, 1)]
                + (1...3).flatMap {
                    [($0, open, $0 + 1), ($0, read, $0 + 1)]
                })
        let determinized = small.reduced()
        XCTAssertTrue(determinized.isDeterministic)
        XCTAssertEqual(determinized.stateCount, 16)
    }

    func testOutputIsCanonical() {
        var a = EpsilonNFA()
        a.stateCount = 4
        a.finals = [3]
        a.addEdge(0, open, 1, location: location(1))
        a.addEdge(0, read, 2, location: location(2))
        a.addEdge(1, write, 3, location: location(3))
        a.addEdge(2, close, 3, location: location(4))
        // The same automaton with states permuted and edges shuffled.
        let permutation = [2, 0, 3, 1]
        var b = EpsilonNFA()
        b.stateCount = 4
        b.initial = permutation[0]
        b.finals = [permutation[3]]
        for edge in a.edges.reversed() {
            b.addEdge(permutation[edge.from], edge.label, permutation[edge.to], location: edge.location)
        }
        XCTAssertEqual(a.reduced(), b.reduced())
        XCTAssertEqual(a.reduced().edges.map(\.from), [0, 0, 1, 2])
    }

    func testMalformedInputDoesNotTrap() {
        var input = nfa(3, initial: 1, finals: [9, -2, 2], [(1, open, 2), (1, read, 7), (-1, nil, 0), (2, nil, 5)])
        XCTAssertEqual(
            input.reduced(),
            Automaton(stateCount: 2, initial: 0, finals: [1], edges: [Edge(from: 0, label: open, to: 1)]))
        input.initial = 3
        XCTAssertEqual(input.reduced(), Automaton(stateCount: 1, initial: 0, finals: [], edges: []))
        input.stateCount = -4
        XCTAssertEqual(input.reduced(), .empty)
        let broken = Automaton(stateCount: 2, initial: 5, finals: [], edges: [Edge(from: 0, label: open, to: 3)])
        XCTAssertEqual(broken.reduced(), Automaton(stateCount: 1, initial: 0, finals: [], edges: []))
    }

    // MARK: randomized

    /// Reference minimization: full subset construction, then Moore refinement with
    /// "no transition" as its own class.
    func referenceMinimalSize(_ automaton: Automaton) -> Int {
        guard let dfa = automaton.determinized(limits: DeterminizationLimits(maxStates: .max, maxWork: .max)) else {
            XCTFail("unbounded determinization failed")
            return -1
        }
        let outgoing = dfa.validOutgoing()
        let alphabet = Set(dfa.edges.map(\.label)).sorted()
        var classes = (0..<dfa.stateCount).map { dfa.finals.contains($0) ? 1 : 0 }
        while true {
            var signatures: [[Int]: Int] = [:]
            var next: [Int] = []
            for state in 0..<dfa.stateCount {
                var signature = [classes[state]]
                for label in alphabet {
                    signature.append(outgoing[state].first { $0.label == label }.map { classes[$0.to] } ?? -1)
                }
                next.append(
                    signatures[signature]
                        ?? {
                            signatures[signature] = signatures.count
                            return signatures.count - 1
                        }())
            }
            if Set(next).count == Set(classes).count { return Set(next).count }
            classes = next
        }
    }

    func testRandomEpsilonNFAs() {
        var generator = SplitMix64(seed: 0x5eed)
        let alphabet: [Label] = [open, read, .call(0)]
        for _ in 0..<1500 {
            let count = Int.random(in: 1...6, using: &generator)
            var input = EpsilonNFA()
            input.stateCount = count
            input.initial = Int.random(in: 0..<count, using: &generator)
            for state in 0..<count where Bool.random(using: &generator) { input.finals.insert(state) }
            for _ in 0..<Int.random(in: 0...(3 * count), using: &generator) {
                let from = Int.random(in: 0..<count, using: &generator)
                let to = Int.random(in: 0..<count, using: &generator)
                let label: Label? =
                    Int.random(in: 0..<4, using: &generator) == 0
                    ? nil : alphabet[Int.random(in: 0..<alphabet.count, using: &generator)]
                input.addEdge(
                    from, label, to,
                    location: SourceLocation(file: "r.c", line: Int.random(in: 1...3, using: &generator)))
            }
            let plain = input.removingEpsilons()
            let reduced = input.reduced()
            if let difference = reduced.difference(from: plain) {
                XCTFail("reduced differs from ε-free on \(difference): \(input.edges)")
                return
            }
            XCTAssertTrue(reduced.isDeterministic)
            XCTAssertEqual(reduced.stateCount, referenceMinimalSize(plain))
            XCTAssertEqual(reduced.reduced(), reduced)
            XCTAssertEqual(reduced.asEpsilonNFA().reduced(), reduced)
            // Locations are kept: every location of a labelled edge survives somewhere.
            let before = Set(input.edges.filter { $0.label != nil }.compactMap(\.location))
            let after = Set(reduced.edges.flatMap(\.locations))
            XCTAssertTrue(after.isSubset(of: before))
        }
    }

    func testRandomLargerDFAsAgainstMoore() {
        // Deterministic input exercises the Hopcroft-style refinement on sizes where
        // the order of splitters matters; few labels and many finals make merges likely.
        var generator = SplitMix64(seed: 42)
        let alphabet: [Label] = [open, read]
        for _ in 0..<300 {
            let count = Int.random(in: 1...40, using: &generator)
            var edges: [Edge] = []
            for state in 0..<count {
                for label in alphabet where Int.random(in: 0..<5, using: &generator) > 0 {
                    edges.append(Edge(from: state, label: label, to: Int.random(in: 0..<count, using: &generator)))
                }
            }
            let finals = Set((0..<count).filter { _ in Int.random(in: 0..<3, using: &generator) > 0 })
            let dfa = Automaton(stateCount: count, initial: 0, finals: finals, edges: edges).canonicalized()
            let reduced = dfa.reduced()
            XCTAssertNil(reduced.difference(from: dfa))
            XCTAssertEqual(reduced.stateCount, referenceMinimalSize(dfa))
            XCTAssertEqual(reduced.reduced(), reduced)
        }
    }
}
