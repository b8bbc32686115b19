import XCTest
@testable import DyckModel

/// Builds a function automaton from (from, label, to) triples.
func automaton(states: Int, finals: Set<Int>, _ edges: [(Int, Label, Int)]) -> Automaton {
    Automaton(
        stateCount: states, initial: 0, finals: finals,
        edges: edges.map { Edge(from: $0.0, label: $0.1, to: $0.2) })
}

/// main calls a() then b(); a calls h() then open(); b calls h() then write();
/// h calls read(). The impossible path enters h from a and leaves it into b.
func sharedHelperPolicy() -> Policy {
    // symbols: 0 open, 1 read, 2 write
    let main = automaton(states: 3, finals: [2], [(0, .call(0), 1), (1, .call(1), 2)])
    let a = automaton(states: 3, finals: [2], [(0, .call(2), 1), (1, .libc(0), 2)])
    let b = automaton(states: 3, finals: [2], [(0, .call(3), 1), (1, .libc(2), 2)])
    let h = automaton(states: 2, finals: [1], [(0, .libc(1), 1)])
    return Policy(
        module: "shared.ll", symbols: ["open", "read", "write"],
        functions: [
            PolicyFunction(name: "main", automaton: main), PolicyFunction(name: "a", automaton: a),
            PolicyFunction(name: "b", automaton: b), PolicyFunction(name: "h", automaton: h)
        ],
        sites: [
            CallSite(caller: 0, callees: [1]), CallSite(caller: 0, callees: [2]),
            CallSite(caller: 1, callees: [3]), CallSite(caller: 2, callees: [3])
        ],
        entry: 0)
}

final class CheckerTests: XCTestCase {
    func ids(_ policy: Policy, _ names: String) -> [Int?] {
        names.split(separator: " ").map { policy.symbolID(named: String($0)) }
    }

    func testSharedHelperDyckFollowsContext() {
        let policy = sharedHelperPolicy()
        let checker = PolicyChecker(policy: policy)
        XCTAssertTrue(checker.check(ids(policy, "read open read write")).allowed)
        XCTAssertTrue(checker.check(ids(policy, "read open")).allowed, "prefixes are allowed")
        XCTAssertTrue(checker.check([]).allowed)
        // Leaving h into b's continuation while the call came from a.
        let verdict = checker.check(ids(policy, "read write"))
        XCTAssertEqual(verdict.refusedIndex, 1)
        XCTAssertEqual(verdict.allowedNext, [0], "only open may follow the first read")
        XCTAssertEqual(verdict.functions, ["a"])
    }

    func testSharedHelperNFAAllowsImpossiblePath() {
        let flat = sharedHelperPolicy().flattened()
        let checker = PolicyChecker(policy: flat)
        XCTAssertTrue(checker.check(ids(flat, "read write")).allowed)
        XCTAssertTrue(checker.check(ids(flat, "read open read write")).allowed)
        XCTAssertFalse(checker.check(ids(flat, "open")).allowed)
    }

    /// f: read, then optionally recurse, then write; returns. Balanced reads/writes.
    func recursivePolicy() -> Policy {
        let f = automaton(
            states: 4, finals: [3], [(0, .libc(0), 1), (1, .call(0), 2), (1, .libc(1), 3), (2, .libc(1), 3)])
        let main = automaton(states: 3, finals: [2], [(0, .call(1), 1), (1, .libc(2), 2)])
        return Policy(
            symbols: ["read", "write", "exit"],
            functions: [PolicyFunction(name: "f", automaton: f), PolicyFunction(name: "main", automaton: main)],
            sites: [CallSite(caller: 0, callees: [0]), CallSite(caller: 1, callees: [0])],
            entry: 1)
    }

    func testRecursionReturnsMatchCalls() {
        let policy = recursivePolicy()
        let checker = PolicyChecker(policy: policy)
        XCTAssertTrue(checker.check(ids(policy, "read read read write write write exit")).allowed)
        XCTAssertTrue(checker.check(ids(policy, "read read read write")).allowed)
        let tooManyReturns = checker.check(ids(policy, "read read write write write"))
        XCTAssertEqual(tooManyReturns.refusedIndex, 4)
        XCTAssertEqual(tooManyReturns.allowedNext, [2], "after balanced returns only exit")
        XCTAssertEqual(checker.check(ids(policy, "read write exit exit")).refusedIndex, 3)
        // The flattened model cannot count.
        let flat = policy.flattened()
        XCTAssertTrue(PolicyChecker(policy: flat).check(ids(flat, "read read write write write exit")).allowed)
    }

    func testMutualRecursionThroughNullableCallee() {
        // even: ε | call odd ; odd: call even then read. main: call even, then exit.
        let even = automaton(states: 2, finals: [0, 1], [(0, .call(0), 1)])
        let odd = automaton(states: 3, finals: [2], [(0, .call(1), 1), (1, .libc(0), 2)])
        let main = automaton(states: 3, finals: [2], [(0, .call(2), 1), (1, .libc(1), 2)])
        let policy = Policy(
            symbols: ["read", "exit"],
            functions: [
                PolicyFunction(name: "even", automaton: even), PolicyFunction(name: "odd", automaton: odd),
                PolicyFunction(name: "main", automaton: main)
            ],
            sites: [
                CallSite(caller: 0, callees: [1]), CallSite(caller: 1, callees: [0]), CallSite(caller: 2, callees: [0])
            ],
            entry: 2)
        let checker = PolicyChecker(policy: policy)
        XCTAssertTrue(checker.check(ids(policy, "exit")).allowed)
        XCTAssertTrue(checker.check(ids(policy, "read exit")).allowed)
        XCTAssertTrue(checker.check(ids(policy, "read read read exit")).allowed)
    }

    func testCallbacksMayRunAnywhereAndAfterEntryReturns() {
        // main: qsort then free; cmp (a callback): strcmp.
        let main = automaton(states: 3, finals: [2], [(0, .libc(0), 1), (1, .libc(1), 2)])
        let cmp = automaton(states: 2, finals: [1], [(0, .libc(2), 1)])
        let policy = Policy(
            symbols: ["qsort", "free", "strcmp"],
            functions: [PolicyFunction(name: "main", automaton: main), PolicyFunction(name: "cmp", automaton: cmp)],
            sites: [], entry: 0, callbacks: [1])
        let checker = PolicyChecker(policy: policy)
        XCTAssertTrue(checker.check(ids(policy, "qsort strcmp strcmp free strcmp")).allowed)
        XCTAssertEqual(checker.check(ids(policy, "qsort free free")).refusedIndex, 2)
        XCTAssertEqual(checker.check(ids(policy, "free")).refusedIndex, 0)
    }

    func testUnknownNameIsRefused() {
        let policy = sharedHelperPolicy()
        let verdict = PolicyChecker(policy: policy).check([policy.symbolID(named: "read"), nil])
        XCTAssertEqual(verdict.refusedIndex, 1)
    }
}
