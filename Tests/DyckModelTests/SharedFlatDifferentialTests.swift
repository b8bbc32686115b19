import TestSupport
import XCTest
@testable import DyckModel

/// `sbx check --mode nfa` and `sbx stats`'s nfa row over the shared flattening
/// (`SharedFlatChecker`, `SharedFlatSizes`) against the old path over
/// `Policy.flattened()` (`PolicyChecker` on it, and its states, edges and ABF), on
/// many small random policies with recursion, shared callees and several callbacks.
final class SharedFlatDifferentialTests: XCTestCase {
    /// Random policies with up to 5 functions, up to 3 symbols and up to 3 callbacks
    /// (possibly the entry itself), so that roots share call-graph components.
    static func randomPolicy(_ rng: inout SplitMix64) -> Policy {
        let functionCount = rng.int(1...5)
        let symbolCount = rng.int(1...3)
        var sites: [CallSite] = []
        var functions: [PolicyFunction] = []
        for f in 0..<functionCount {
            let states = rng.int(1...4)
            var edges: [Edge] = []
            for _ in 0..<rng.int(0...6) {
                let from = rng.int(0...(states - 1)), to = rng.int(0...(states - 1))
                if rng.int(0...2) == 0 {
                    let callees = Array(Set((0..<rng.int(1...3)).map { _ in rng.int(0...(functionCount - 1)) }))
                        .sorted()
                    sites.append(CallSite(caller: f, callees: callees, indirect: callees.count > 1))
                    edges.append(Edge(from: from, label: .call(sites.count - 1), to: to))
                } else {
                    edges.append(Edge(from: from, label: .libc(rng.int(0...(symbolCount - 1))), to: to))
                }
            }
            let finals = Set((0..<states).filter { _ in rng.int(0...2) == 0 })
            functions.append(
                PolicyFunction(
                    name: "f\(f)", automaton: Automaton(stateCount: states, initial: 0, finals: finals, edges: edges)))
        }
        let callbacks = (0..<rng.int(0...3)).map { _ in rng.int(0...(functionCount - 1)) }
        return Policy(
            symbols: (0..<symbolCount).map { "s\($0)" }, functions: functions, sites: sites, entry: 0,
            callbacks: callbacks)
    }

    /// Every word up to length 4 over the symbols, and a few with an unknown name (nil).
    static func words(symbols: Int) -> [[Int?]] {
        var words: [[Int?]] = [[]]
        var frontier: [[Int?]] = [[]]
        for _ in 0..<4 {
            frontier = frontier.flatMap { word in (0..<symbols).map { word + [$0] } }
            words += frontier
        }
        return words + [[nil], [0, nil], [0, 0, nil, 0]]
    }

    func testCheckerAgreesWithTheFlattenedPolicy() {
        var rng = SplitMix64(seed: 0x17_0001)
        var compared = 0
        var refused = 0
        for round in 0..<400 {
            let policy = Self.randomPolicy(&rng)
            let old = PolicyChecker(policy: policy.flattened())
            let new = SharedFlatChecker(policy: policy)
            for word in Self.words(symbols: policy.symbols.count) {
                let expected = old.check(word)
                let got = new.check(word)
                compared += 1
                if !expected.allowed { refused += 1 }
                if got != expected {
                    XCTFail("round \(round), word \(word): flattened \(expected), shared \(got)\n\(policy)")
                    return
                }
            }
        }
        // Both verdicts occur, so the comparison is not of one constant answer.
        XCTAssertGreaterThan(refused, compared / 10)
        XCTAssertLessThan(refused, compared * 9 / 10)
    }

    func testSizesAgreeWithTheFlattenedPolicy() {
        var rng = SplitMix64(seed: 0x17_0002)
        for round in 0..<600 {
            let policy = Self.randomPolicy(&rng)
            let flat = policy.flattened()
            let sizes = SharedFlatSizes(policy: policy)
            let states = flat.functions.reduce(0) { $0 + $1.automaton.stateCount }
            let edges = flat.functions.reduce(0) { $0 + $1.automaton.edges.count }
            let abf = flat.branchingFactor()
            if sizes.states != states || sizes.edges != edges || sizes.branchingFactor != abf {
                XCTFail(
                    "round \(round): flattened \(states) states \(edges) edges \(abf), "
                        + "shared \(sizes.states) \(sizes.edges) \(sizes.branchingFactor)\n\(policy)")
                return
            }
        }
        // An nfa policy is measured as it is.
        let flat = ModelFixtures.recursive.flattened()
        let sizes = SharedFlatSizes(policy: flat)
        XCTAssertEqual(sizes.states, flat.functions.reduce(0) { $0 + $1.automaton.stateCount })
        XCTAssertEqual(sizes.branchingFactor, flat.branchingFactor())
    }

    /// SQLite's shape (most callbacks in one component of the call graph): a
    /// dispatcher whose one indirect site calls `n` callbacks, each of which calls
    /// libc and may call the dispatcher again. `flattened()` copies the program once
    /// per root (quadratic); the checker's model is one copy, linear in the policy,
    /// and a check runs on it. Sizes only, no timing.
    func testCheckerModelOfOneLargeComponentIsLinear() {
        let n = 1500, symbols = 8
        let policy = CallbackDispatcher.policy(n, symbols: symbols)
        let states = policy.functions.reduce(0) { $0 + $1.automaton.stateCount }
        let edges = policy.functions.reduce(0) { $0 + $1.automaton.edges.count }
        let calleeEntries = policy.sites.reduce(0) { $0 + $1.callees.count }

        // What flattened() builds before reducing: a copy of every reachable function
        // per root, (n + 1) copies of the callbacks' component.
        let perRoot = 3 + (n + 1) * (states - 3)
        XCTAssertGreaterThan(perRoot, 1000 * states)

        let checker = SharedFlatChecker(policy: policy)
        let nodes = checker.flat.copies.reduce(0) { $0 + $1.stateCount }
        let epsilon = checker.flat.copies.reduce(0) { $0 + $1.epsTo.count }
        let libc = checker.flat.copies.reduce(0) { $0 + $1.libcTo.count }
        // Two copies (main's component, the dispatcher's), each of function states,
        // an exit node per function and two nodes per site.
        XCTAssertEqual(checker.flat.copies.count, 2)
        XCTAssertLessThanOrEqual(nodes, 2 * (states + policy.functions.count + 2 * policy.sites.count))
        XCTAssertLessThanOrEqual(epsilon, 2 * (states + 2 * edges + 2 * calleeEntries))
        XCTAssertLessThanOrEqual(libc, 2 * edges)

        // A run through the dispatcher: main's libc 0 after callbacks' calls. (A
        // check costs, per event, the nodes times the roots / 64 in the worst case,
        // which a debug build makes slow at this size: a smaller ring runs it.)
        let small = SharedFlatChecker(policy: CallbackDispatcher.policy(150, symbols: symbols))
        let verdict = small.check([3, 5, 1, 0])
        XCTAssertTrue(verdict.allowed)
        XCTAssertEqual(verdict.allowedNext, Array(0..<symbols))
        XCTAssertEqual(small.check([3, 5, 1, 0, nil]).refusedIndex, 4)
    }
}
