import XCTest
@testable import DyckModel

final class FlattenTests: XCTestCase {
    let read = Label.libc(0)
    let open = Label.libc(1)
    let write = Label.libc(2)

    func chain(_ labels: [Label]) -> Automaton {
        ModelFixtures.automaton(
            labels.count + 1, finals: [labels.count], labels.enumerated().map { ($0.offset, $0.element, $0.offset + 1) }
        )
    }

    func testSingleCopyAdmitsImpossiblePath() {
        let flat = ModelFixtures.sharedHelper.flattened()
        XCTAssertEqual(flat.kind, .nfa)
        XCTAssertEqual(flat.symbols, ["read", "open", "write"])
        XCTAssertEqual(flat.sites, [])
        XCTAssertEqual(flat.entry, 0)
        XCTAssertEqual(flat.callbacks, [])
        XCTAssertEqual(flat.functions.map(\.name), ["main"])
        let automaton = flat.functions[0].automaton
        XCTAssertFalse(automaton.edges.contains { if case .call = $0.label { return true } else { return false } })
        // h returns into either caller: read write completes without ever doing open.
        let expected = ModelFixtures.automaton(3, finals: [2], [(0, read, 1), (1, open, 0), (1, write, 2)])
        XCTAssertNil(automaton.difference(from: expected))
        XCTAssertEqual(automaton.edges.map { [$0.from, $0.to] }, expected.reduced().edges.map { [$0.from, $0.to] })
    }

    func testInliningRemovesImpossiblePath() {
        let flat = ModelFixtures.sharedHelper.flattened(options: FlattenOptions(inlineBudget: 100))
        XCTAssertNil(flat.functions[0].automaton.difference(from: chain([read, open, read, write])))
    }

    func testLocationsOfLibcEdgesAreKept() {
        let automaton = ModelFixtures.sharedHelper.flattened().functions[0].automaton
        let lines = automaton.edges.map { edge in edge.locations.map(\.line) }
        XCTAssertEqual(lines, [[30], [10], [20]])
    }

    func testBudgetFallsBackToSharedCopy() {
        // main(3) + a(3) + b(3) = 9 states; each private h costs 2.
        let policy = ModelFixtures.sharedHelper
        let singleCopy = policy.flattened().functions[0].automaton
        // 11 fits a's private h; b's h then goes to a shared copy only b uses: exact.
        let roomy = policy.flattened(options: FlattenOptions(inlineBudget: 11)).functions[0].automaton
        XCTAssertNil(roomy.difference(from: chain([read, open, read, write])))
        // 10 does not: both share h and the impossible path is back.
        for budget in [0, 5, 10] {
            let tight = policy.flattened(options: FlattenOptions(inlineBudget: budget)).functions[0].automaton
            XCTAssertNil(tight.difference(from: singleCopy), "budget \(budget)")
        }
    }

    /// main: f();   f: read(); if (...) f(); write();
    var recursive: Policy { ModelFixtures.recursive }

    func testRecursionBecomesRegularOverApproximation() {
        // read^n write^n over-approximated by read+ write+.
        let expected = ModelFixtures.automaton(
            3, finals: [2], [(0, read, 1), (1, read, 1), (1, write, 2), (2, write, 2)])
        XCTAssertNil(recursive.flattened().functions[0].automaton.difference(from: expected))
    }

    func testInliningStopsAtRecursion() {
        // main's call gets a private f whose recursive call goes to the shared f, so
        // the outermost level stays matched: read write | read read+ write write+.
        let expected = ModelFixtures.automaton(
            6, finals: [2, 5],
            [
                (0, read, 1), (1, write, 2), (1, read, 3), (3, read, 3), (3, write, 4), (4, write, 5), (5, write, 5)
            ])
        let flat = recursive.flattened(options: FlattenOptions(inlineBudget: 1000))
        XCTAssertNil(flat.functions[0].automaton.difference(from: expected))
    }

    func testMutualRecursion() {
        // p: open(); if (...) q();   q: close(); if (...) p();   main: p();
        let close = Label.libc(3)
        let policy = Policy(
            symbols: ["read", "open", "write", "close"],
            functions: [
                PolicyFunction(name: "main", automaton: ModelFixtures.automaton(2, finals: [1], [(0, .call(0), 1)])),
                PolicyFunction(
                    name: "p", automaton: ModelFixtures.automaton(3, finals: [1, 2], [(0, open, 1), (1, .call(1), 2)])),
                PolicyFunction(
                    name: "q", automaton: ModelFixtures.automaton(3, finals: [1, 2], [(0, close, 1), (1, .call(2), 2)]))
            ],
            sites: [
                CallSite(caller: 0, callees: [1]), CallSite(caller: 1, callees: [2]), CallSite(caller: 2, callees: [1])
            ],
            entry: 0)
        let expected = ModelFixtures.automaton(3, finals: [1, 2], [(0, open, 1), (1, close, 2), (2, open, 1)])
        for options in [FlattenOptions(), FlattenOptions(inlineBudget: 50)] {
            XCTAssertNil(policy.flattened(options: options).functions[0].automaton.difference(from: expected))
        }
    }

    func testRootsAndCallbacks() {
        var policy = ModelFixtures.sharedHelper
        policy.callbacks = [3, 0, 3]
        let flat = policy.flattened()
        XCTAssertEqual(flat.functions.map(\.name), ["main", "h"])
        XCTAssertEqual(flat.callbacks, [1, 0, 1])
        XCTAssertNil(flat.functions[1].automaton.difference(from: chain([read])))
    }

    func testIndirectSiteEntersEveryCallee() {
        var policy = ModelFixtures.sharedHelper
        // Site 0 may enter a or b.
        policy.sites[0] = CallSite(caller: 0, callees: [1, 2, 2], indirect: true)
        policy.functions[0].automaton = ModelFixtures.automaton(2, finals: [1], [(0, .call(0), 1)])
        let flat = policy.flattened(options: FlattenOptions(inlineBudget: 100))
        let expected = ModelFixtures.automaton(4, finals: [3], [(0, read, 1), (1, open, 3), (1, write, 3)])
        XCTAssertNil(flat.functions[0].automaton.difference(from: expected))
    }

    func testNFAPolicyIsUnchangedAndMalformedInputDoesNotTrap() {
        let flat = ModelFixtures.sharedHelper.flattened()
        XCTAssertEqual(flat.flattened(), flat)

        var broken = ModelFixtures.sharedHelper
        broken.sites[2].callees = [7, -1]
        broken.sites.removeLast()
        broken.functions[1].automaton.edges.append(Edge(from: 9, label: .call(0), to: 1))
        broken.functions[1].automaton.edges.append(Edge(from: 0, label: .call(-4), to: 1))
        let result = broken.flattened(options: FlattenOptions(inlineBudget: 20))
        // a's call to h can never complete; b's site is gone: only a prefix remains.
        XCTAssertNil(
            result.functions[0].automaton.difference(from: Automaton(stateCount: 1, initial: 0, finals: [], edges: [])))

        broken.entry = 12
        XCTAssertEqual(broken.flattened().functions, [])
        broken.entry = 0
        broken.functions[0].automaton.initial = 40
        XCTAssertEqual(
            broken.flattened().functions[0].automaton, Automaton(stateCount: 1, initial: 0, finals: [], edges: []))
    }
}
