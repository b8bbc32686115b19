import XCTest
@testable import DyckModel

final class BranchingFactorTests: XCTestCase {
    let read = Label.libc(0)
    let open = Label.libc(1)
    let write = Label.libc(2)

    /// The NFA branching factor computed directly: distinct labels per state.
    func nfaBranchingFactor(_ policy: Policy) -> BranchingFactor {
        var result = BranchingFactor(positions: 0, sum: 0)
        for function in policy.functions {
            let automaton = function.automaton
            result.positions += automaton.stateCount
            for state in 0..<automaton.stateCount {
                result.sum += Set(automaton.edges.filter { $0.from == state }.map(\.label)).count
            }
        }
        return result
    }

    func testSharedHelperDyckIsBelowFlattened() {
        // main: a(); b();  a: h(); open();  b: h(); write();  h: read();
        // Positions, (state, context) → |next|:
        //   (main.0, ⊥) → {read}                                         1
        //   (a.0, main.1) → {read}, (a.2, main.1) → UP(main.1) = {read}   1 + 1
        //   (b.0, main.2) → {read}, (b.2, main.2) → UP(main.2) = ∅        1 + 0
        //   (h.0, a.1), (h.0, b.1) → {read}                               1 + 1
        //   (h.1, a.1) → {open}, (h.1, b.1) → {write}                     1 + 1
        let policy = ModelFixtures.sharedHelper
        let dyck = policy.branchingFactor()
        XCTAssertEqual(dyck, BranchingFactor(positions: 9, sum: 8))
        // Flattened: read → {open, write} → (open: back to the start | write: done).
        let flat = policy.flattened().branchingFactor()
        XCTAssertEqual(flat, BranchingFactor(positions: 3, sum: 3))
        XCTAssertLessThan(dyck.average, flat.average)
        XCTAssertEqual(dyck.average, 8.0 / 9.0, accuracy: 1e-12)
    }

    func testRecursion() {
        // main: f();  f: read(); if (...) f(); write();
        let policy = ModelFixtures.recursive
        // (main.0, ⊥) → {read}; f's contexts are main.1 and f.2:
        // f.0 → {read} ×2; f.1 → {write, read} ×2; (f.3, main.1) → ∅; (f.3, f.2) → {write}.
        XCTAssertEqual(policy.branchingFactor(), BranchingFactor(positions: 7, sum: 8))
    }

    func testCalleeThatCanCompleteSilently() {
        // main: g(); open();   g: if (...) read();
        let policy = Policy(
            symbols: ["read", "open"],
            functions: [
                PolicyFunction(
                    name: "main", automaton: ModelFixtures.automaton(3, finals: [2], [(0, .call(0), 1), (1, open, 2)])),
                PolicyFunction(name: "g", automaton: ModelFixtures.automaton(2, finals: [0, 1], [(0, read, 1)]))
            ],
            sites: [CallSite(caller: 0, callees: [1])],
            entry: 0)
        // (main.0, ⊥) → {read, open}; (main.2, ⊥) → ∅;
        // (g.0, main.1) → {read} ∪ UP(main.1) = {read, open}; (g.1, main.1) → {open}.
        XCTAssertEqual(policy.branchingFactor(), BranchingFactor(positions: 4, sum: 5))
        XCTAssertEqual(policy.flattened().branchingFactor(), BranchingFactor(positions: 3, sum: 3))
    }

    func testCallbackIsAlsoARoot() {
        var policy = ModelFixtures.sharedHelper
        policy.callbacks = [3]
        // h gains context ⊥: (h.0, ⊥) → {read}, (h.1, ⊥) → ∅.
        XCTAssertEqual(policy.branchingFactor(), BranchingFactor(positions: 11, sum: 9))
    }

    func testCalleeThatNeverReturnsCutsTheCaller() {
        // main: die(); open();   die: exit();  — open is unreachable.
        let policy = Policy(
            symbols: ["exit", "open"],
            functions: [
                PolicyFunction(
                    name: "main",
                    automaton: ModelFixtures.automaton(3, finals: [2], [(0, .call(0), 1), (1, .libc(1), 2)])),
                PolicyFunction(name: "die", automaton: ModelFixtures.automaton(2, finals: [], [(0, .libc(0), 1)]))
            ],
            sites: [CallSite(caller: 0, callees: [1])],
            entry: 0)
        // (main.0, ⊥) → {exit}; (die.0, main.1) → {exit}; (die.1, main.1) → ∅.
        XCTAssertEqual(policy.branchingFactor(), BranchingFactor(positions: 3, sum: 2))
    }

    func testFlattenedIsTheNFABranchingFactor() {
        for policy in [
            ModelFixtures.sharedHelper,
            {
                var p = ModelFixtures.sharedHelper; p.callbacks = [3, 1]; return p
            }()
        ] {
            for options in [FlattenOptions(), FlattenOptions(inlineBudget: 100)] {
                let flat = policy.flattened(options: options)
                XCTAssertEqual(flat.branchingFactor(), nfaBranchingFactor(flat))
            }
        }
    }

    func testEmptyAndMalformedPolicies() {
        let empty = Policy(symbols: [], functions: [], sites: [], entry: 0)
        XCTAssertEqual(empty.branchingFactor(), BranchingFactor(positions: 0, sum: 0))
        XCTAssertEqual(empty.branchingFactor().average, 0)
        var broken = ModelFixtures.sharedHelper
        broken.sites[0].callees = [99, -1, 3, 3]
        broken.sites.removeLast()
        broken.functions[2].automaton.edges.append(Edge(from: 7, label: .libc(1), to: -2))
        broken.functions[1].automaton.initial = 8
        broken.callbacks = [44, -1]
        _ = broken.branchingFactor()
        broken.entry = -5
        XCTAssertEqual(broken.branchingFactor(), BranchingFactor(positions: 0, sum: 0))
    }

    func testDeepCallChainDoesNotOverflowTheStack() {
        // f0 calls f1 calls ... f(n-1), which reads: FIRST closes over a long chain.
        let n = 20_000
        var functions: [PolicyFunction] = []
        var sites: [CallSite] = []
        for index in 0..<n {
            if index == n - 1 {
                functions.append(
                    PolicyFunction(
                        name: "f\(index)", automaton: ModelFixtures.automaton(2, finals: [1], [(0, read, 1)])))
            } else {
                functions.append(
                    PolicyFunction(
                        name: "f\(index)", automaton: ModelFixtures.automaton(2, finals: [1], [(0, .call(index), 1)])))
                sites.append(CallSite(caller: index, callees: [index + 1]))
            }
        }
        let policy = Policy(symbols: ["read"], functions: functions, sites: sites, entry: 0)
        // Every f_i's initial state, with one context each, sees {read}; the last
        // function's final state sees nothing.
        XCTAssertEqual(policy.branchingFactor(), BranchingFactor(positions: n + 1, sum: n))
    }
}
