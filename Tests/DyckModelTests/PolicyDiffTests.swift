import XCTest
@testable import DyckModel

/// `PolicyDiff` on hand-built policies whose differences are worked out by hand in
/// each test's comment, and on random ones checked against `Automaton.isEquivalent`.
final class PolicyDiffTests: XCTestCase {
    typealias Letter = PolicyDiff.Letter

    func function(_ name: String, _ count: Int, initial: Int = 0, finals: Set<Int>, _ edges: [(Int, Label, Int)])
        -> PolicyFunction
    {
        PolicyFunction(
            name: name,
            automaton: Automaton(
                stateCount: count, initial: initial, finals: finals,
                edges: edges.map { Edge(from: $0.0, label: $0.1, to: $0.2) }))
    }

    func one(
        _ functions: [PolicyFunction], symbols: [String], sites: [CallSite] = [], entry: Int = 0, callbacks: [Int] = []
    ) -> Policy {
        Policy(symbols: symbols, functions: functions, sites: sites, entry: entry, callbacks: callbacks)
    }

    func summary(_ diff: PolicyDiff) -> [String] {
        diff.changes.map { change in
            "\(change.function) \(change.direction == .added ? "+" : "-")\(change.letter) after [\(change.before.map(\.description).joined(separator: " "))]"
        }
    }

    /// main: read(); f();   f: write().  The new build lists symbols, functions, sites
    /// and states in another order: same language, no change.
    func testRenumberedPolicyIsTheSame() {
        let old = one(
            [
                function("main", 3, finals: [2], [(0, .libc(0), 1), (1, .call(0), 2)]),
                function("f", 2, finals: [1], [(0, .libc(1), 1)])
            ], symbols: ["read", "write"], sites: [CallSite(caller: 0, callees: [1])])
        let new = one(
            [
                function("f", 2, initial: 1, finals: [0], [(1, .libc(0), 0)]),
                function("main", 3, initial: 2, finals: [1], [(2, .libc(1), 0), (0, .call(1), 1)])
            ], symbols: ["write", "read"],
            sites: [CallSite(caller: 0, callees: [1]), CallSite(caller: 1, callees: [0])], entry: 1)
        let diff = PolicyDiff(old: old, new: new)
        XCTAssertTrue(diff.isEmpty, summary(diff).description)
        XCTAssertEqual(diff.text(old: "a", new: "b"), "")
    }

    /// main: read(); write()   ->   main: read(); (write() | open()).
    /// The only new word family starts with read open: + open() after [read()].
    func testOneAddedCall() {
        let old = one(
            [function("main", 3, finals: [2], [(0, .libc(0), 1), (1, .libc(1), 2)])], symbols: ["read", "write", "open"]
        )
        let new = one(
            [function("main", 3, finals: [2], [(0, .libc(0), 1), (1, .libc(1), 2), (1, .libc(2), 2)])],
            symbols: ["read", "write", "open"])
        let diff = PolicyDiff(old: old, new: new)
        XCTAssertEqual(summary(diff), ["main +open() after [read()]"])
        XCTAssertEqual(diff.changes[0].context, ["main"])
        XCTAssertEqual(summary(PolicyDiff(old: new, new: old)), ["main -open() after [read()]"])
        XCTAssertEqual(diff.text(old: "o", new: "n"), "in main:\n  + open()    e.g. read(), open()\n")
    }

    /// a(); b()   ->   b(); a(). After the empty word old reads only a, new only b;
    /// no longer common word exists, so exactly these two changes.
    func testSwappedOrder() {
        let old = one([function("main", 3, finals: [2], [(0, .libc(0), 1), (1, .libc(1), 2)])], symbols: ["a", "b"])
        let new = one([function("main", 3, finals: [2], [(0, .libc(1), 1), (1, .libc(0), 2)])], symbols: ["a", "b"])
        XCTAssertEqual(summary(PolicyDiff(old: old, new: new)), ["main -a() after []", "main +b() after []"])
    }

    /// f: read() then return   ->   f may also return before read(): + return after [].
    func testReturnBecomesPossible() {
        let old = one([function("f", 2, finals: [1], [(0, .libc(0), 1)])], symbols: ["read"])
        let new = one([function("f", 2, finals: [0, 1], [(0, .libc(0), 1)])], symbols: ["read"])
        XCTAssertEqual(summary(PolicyDiff(old: old, new: new)), ["f +return after []"])
    }

    /// old: a a b*;  new: a (b | a b*). After [a] new can read b and old cannot; after
    /// [a a] both read b forever. The shortest example of + b is [a], and it is the
    /// only change although new also reads a b b, a b b b, ...
    func testShortestExample() {
        let old = one(
            [function("m", 3, finals: [], [(0, .libc(0), 1), (1, .libc(0), 2), (2, .libc(1), 2)])], symbols: ["a", "b"])
        let new = one(
            [function("m", 3, finals: [], [(0, .libc(0), 1), (1, .libc(1), 1), (1, .libc(0), 2), (2, .libc(1), 2)])],
            symbols: ["a", "b"])
        XCTAssertEqual(summary(PolicyDiff(old: old, new: new)), ["m +b() after [a()]"])
    }

    /// An indirect site loses a candidate: call {g, h} -> call {g}. Letters are per
    /// callee, so the change is - call h() and nothing else.
    func testIndirectCandidateRemoved() {
        let g = function("g", 2, finals: [1], [(0, .libc(0), 1)])
        let h = function("h", 2, finals: [1], [(0, .libc(0), 1)])
        let old = one(
            [function("main", 2, finals: [1], [(0, .call(0), 1)]), g, h], symbols: ["x"],
            sites: [CallSite(caller: 0, callees: [1, 2], indirect: true)], callbacks: [1, 2])
        let new = one(
            [function("main", 2, finals: [1], [(0, .call(0), 1)]), g, h], symbols: ["x"],
            sites: [CallSite(caller: 0, callees: [1], indirect: true)], callbacks: [1, 2])
        XCTAssertEqual(summary(PolicyDiff(old: old, new: new)), ["main -call h() after []"])
    }

    /// New function k, called from f (called from main) after f's write(): f + call
    /// k() after [write()], with context main -> f; k only in new.
    func testNewFunctionAndContext() {
        let main = function("main", 2, finals: [1], [(0, .call(0), 1)])
        let oldF = function("f", 2, finals: [1], [(0, .libc(0), 1)])
        let newF = function("f", 3, finals: [1, 2], [(0, .libc(0), 1), (1, .call(1), 2)])
        let k = function("k", 2, finals: [1], [(0, .libc(1), 1)])
        let old = one([main, oldF], symbols: ["write", "unlink"], sites: [CallSite(caller: 0, callees: [1])])
        let new = one(
            [main, newF, k], symbols: ["write", "unlink"],
            sites: [CallSite(caller: 0, callees: [1]), CallSite(caller: 1, callees: [2])])
        let diff = PolicyDiff(old: old, new: new)
        XCTAssertEqual(summary(diff), ["f +call k() after [write()]"])
        XCTAssertEqual(diff.changes[0].context, ["main", "f"])
        XCTAssertEqual(diff.onlyInNew, ["k"])
        XCTAssertEqual(diff.onlyInOld, [])
        XCTAssertTrue(
            diff.text(old: "o", new: "n").contains(
                "in f (called as main -> f):\n  + call k()    e.g. write(), call k()\n"))
        XCTAssertTrue(diff.text(old: "o", new: "n").contains("functions only in n: k\n"))
    }

    /// Linking renames static functions with a build-dependent number; two same-named
    /// static functions of different files are told apart by file.
    func testRenamedStaticFunctionsMatch() {
        var setupA = function("setup.12", 2, finals: [1], [(0, .libc(0), 1)])
        setupA.location = SourceLocation(file: "/b1/x.c", line: 1)
        var setupB = function("setup", 2, finals: [1], [(0, .libc(1), 1)])
        setupB.location = SourceLocation(file: "/b1/y.c", line: 1)
        let old = one([setupA, setupB], symbols: ["read", "write"])
        setupA.name = "setup.99"
        setupA.location = SourceLocation(file: "/b2/x.c", line: 1)
        setupB.location = SourceLocation(file: "/b2/y.c", line: 1)
        let new = one([setupB, setupA], symbols: ["read", "write"], entry: 1)
        XCTAssertEqual(PolicyDiff.keys(old), ["setup (x.c)", "setup (y.c)"])
        XCTAssertTrue(PolicyDiff(old: old, new: new).isEmpty)
        XCTAssertEqual(PolicyDiff.keys(one([function("p.3", 1, finals: [0], [])], symbols: [])), ["p"])
    }

    func testEntryAndCallbacks() {
        let a = function("a", 1, finals: [0], [])
        let b = function("b", 1, finals: [0], [])
        let diff = PolicyDiff(
            old: one([a, b], symbols: [], entry: 0, callbacks: [1]),
            new: one([a, b], symbols: [], entry: 1, callbacks: [0]))
        XCTAssertEqual(diff.entry?.old, "a")
        XCTAssertEqual(diff.entry?.new, "b")
        XCTAssertEqual(diff.callbacksOnlyInOld, ["b"])
        XCTAssertEqual(diff.callbacksOnlyInNew, ["a"])
        XCTAssertFalse(diff.isEmpty)
    }

    /// A long loop renumbered (reversed state numbers): equal, and the product stays
    /// linear (one pair per state).
    func testLargeRenumberedChain() {
        let n = 20_000
        var edges: [(Int, Label, Int)] = []
        var reversed: [(Int, Label, Int)] = []
        for s in 0..<n {
            edges.append((s, .libc(s % 3), (s + 1) % n))
            reversed.append((n - 1 - s, .libc(s % 3), n - 1 - (s + 1) % n))
        }
        let old = one([function("big", n, finals: [n - 1], edges)], symbols: ["a", "b", "c"])
        let new = one([function("big", n, initial: n - 1, finals: [0], reversed)], symbols: ["a", "b", "c"])
        XCTAssertTrue(PolicyDiff(old: old, new: new).isEmpty)
        var changed = new
        changed.functions[0].automaton.edges.append(Edge(from: n - 1 - 10_000, label: .libc(2), to: n - 1))
        // New state n-1-10000 is old state 10000, which reads only b (10000 % 3 == 1),
        // and only after the 10000 letters of the chain; the added edge reads c there.
        let diff = PolicyDiff(old: old, new: changed)
        XCTAssertEqual(diff.changes.count, 1)
        XCTAssertEqual(diff.changes.first?.before.count, 10_000)
        XCTAssertEqual(diff.changes.first?.letter, .libc("c"))
    }

    /// Random libc-only functions: no change for a function exactly when the two
    /// automata are equivalent, and each change's example is what it says: the word
    /// before it is readable in both, the word with the letter only on its side.
    func testAgreesWithEquivalenceOnRandomAutomata() {
        var rng = SplitMix64(seed: 18)
        for _ in 0..<400 {
            func random() -> Automaton {
                let states = rng.int(1...4)
                var edges: [Edge] = []
                for _ in 0..<rng.int(0...6) {
                    edges.append(
                        Edge(
                            from: rng.int(0...(states - 1)), label: .libc(rng.int(0...1)), to: rng.int(0...(states - 1))
                        ))
                }
                return Automaton(
                    stateCount: states, initial: 0, finals: Set((0..<states).filter { _ in rng.int(0...1) == 0 }),
                    edges: edges)
            }
            let a = random(), b = random()
            let old = Policy(
                symbols: ["x", "y"], functions: [PolicyFunction(name: "f", automaton: a)], sites: [], entry: 0)
            let new = Policy(
                symbols: ["x", "y"], functions: [PolicyFunction(name: "f", automaton: b)], sites: [], entry: 0)
            let diff = PolicyDiff(old: old, new: new)
            XCTAssertEqual(diff.changes.isEmpty, a.isEquivalent(to: b), "\(a) vs \(b)")
            for change in diff.changes {
                let word = change.before.map { letter -> Label in
                    guard case .libc(let name) = letter else { XCTFail("not a libc letter"); return .libc(0) }
                    return .libc(name == "x" ? 0 : 1)
                }
                let sa = SubsetStepper(a), sb = SubsetStepper(b)
                func read(_ stepper: SubsetStepper, _ word: [Label]) -> [Int] {
                    var set = stepper.start
                    for label in word { set = stepper.successors(of: set)[label] ?? [] }
                    return set
                }
                let ea = read(sa, word), eb = read(sb, word)
                XCTAssertFalse(ea.isEmpty || eb.isEmpty, "the example's prefix is not common")
                let onNew = change.direction == .added
                switch change.letter {
                case .return:
                    XCTAssertEqual(sb.isFinal(eb), onNew)
                    XCTAssertEqual(sa.isFinal(ea), !onNew)
                case .libc(let name):
                    let label = Label.libc(name == "x" ? 0 : 1)
                    XCTAssertEqual(sb.successors(of: eb)[label] != nil, onNew)
                    XCTAssertEqual(sa.successors(of: ea)[label] != nil, !onNew)
                case .call:
                    XCTFail("no call letters here")
                }
            }
        }
    }
}
