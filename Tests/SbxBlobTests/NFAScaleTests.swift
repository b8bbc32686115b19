import DyckModel
import Foundation
import TestSupport
import XCTest
@testable import SbxBlob

/// The shape that made `sbx blob --mode nfa` of SQLite's shell run for more than an
/// hour (issue 17): most callbacks of the program in one strongly connected component
/// of the call graph (SQLite: 639 of 655 roots reach the same 1,576 functions, through
/// indirect calls), so that a flattening with one copy of the program per root is
/// quadratic (7.6 million states for 13 thousand).
enum CallbackRing {
    /// `n` functions in a ring of indirect calls, each a callback but the entry 0:
    /// function `i` calls libc `i % symbols`, then through site `i` its successor and
    /// one random other function, and may end before or after the call. (Its machine
    /// is not small: the subset construction itself grows with such rings, so only
    /// small ones serve, for the differential test.)
    static func policy(_ n: Int, symbols: Int = 8, _ rng: inout SplitMix64) -> Policy {
        var functions: [PolicyFunction] = []
        var sites: [CallSite] = []
        for i in 0..<n {
            let callees = Array(Set([(i + 1) % n, rng.int(0...(n - 1))])).sorted()
            sites.append(CallSite(caller: i, callees: callees, indirect: callees.count > 1))
            var edges = [Edge(from: 0, label: .libc(i % symbols), to: 1), Edge(from: 1, label: .call(i), to: 2)]
            if rng.int(0...3) == 0 { edges.append(Edge(from: 2, label: .libc((i + 1) % symbols), to: 1)) }
            let finals: Set<Int> = rng.int(0...2) == 0 ? [1, 2] : [2]
            functions.append(
                PolicyFunction(
                    name: "f\(i)", automaton: Automaton(stateCount: 3, initial: 0, finals: finals, edges: edges)))
        }
        return Policy(
            symbols: (0..<symbols).map { "s\($0)" }, functions: functions, sites: sites,
            entry: 0, callbacks: Array(1..<n))
    }

    /// States of `Policy.flattened()` before reduction: one copy of every reachable
    /// function per root. This is what the old construction built and ε-reduced.
    static func perRootStates(_ policy: Policy) -> Int {
        var total = 0
        for root in [policy.entry] + policy.callbacks {
            var seen: Set<Int> = [root]
            var stack = [root]
            while let f = stack.popLast() {
                total += policy.functions[f].automaton.stateCount
                for edge in policy.functions[f].automaton.edges {
                    guard case .call(let c) = edge.label else { continue }
                    for g in policy.sites[c].callees where seen.insert(g).inserted { stack.append(g) }
                }
            }
        }
        return total
    }
}

extension DifferentialTests {
    /// 1,500 callbacks in one component: the per-root flattening has 6.75 million
    /// states (the old construction took 1.9 s for 150 callbacks and grows faster
    /// than quadratically); the shared one has one copy, and the machine stays linear
    /// in the policy. The bounds are on sizes, not on time.
    func testNFABlobOfOneLargeComponentIsLinear() throws {
        let n = 1500
        let policy = CallbackDispatcher.policy(n)
        try policy.validate()
        let states = policy.functions.reduce(0) { $0 + $1.automaton.stateCount }
        let edges = policy.functions.reduce(0) { $0 + $1.automaton.edges.count }
        let calleeEntries = policy.sites.reduce(0) { $0 + $1.callees.count }
        XCTAssertEqual(
            CallbackRing.perRootStates(policy), 3 + (n + 1) * (states - 3), "the old flattening: a copy per root")

        let start = Date()
        let machine = try MacroMachine(policy: policy, mode: .nfa)
        let blob = try encodeBlob(machine)
        let seconds = Date().timeIntervalSince(start)
        let shared = try XCTUnwrap(machine.shared)
        let nodes = shared.copies.reduce(0) { $0 + $1.stateCount }
        let epsilon = shared.copies.reduce(0) { $0 + $1.epsTo.count }
        print(
            "dispatcher of \(n): \(states) states, \(edges) edges; shared copies \(shared.copies.count), "
                + "\(nodes) nodes, \(epsilon) ε edges; \(machine.macroStateCount) macro-states, "
                + "\(machine.transitionCount) transitions, \(blob.count) bytes, \(String(format: "%.2f", seconds)) s")
        // Two components hold the roots (main's, and the one of the dispatcher and its
        // callbacks): two copies, each of function states plus one exit node per
        // function and two nodes per site; the second lacks main (3 states, 1 site).
        XCTAssertEqual(shared.copies.count, 2)
        let whole = states + policy.functions.count + 2 * policy.sites.count
        XCTAssertEqual(nodes, 2 * whole - (3 + 1 + 2))
        // ε edges: a final's one, a call edge's two, a callee's two, per copy.
        let finals = policy.functions.reduce(0) { $0 + $1.automaton.finals.count }
        XCTAssertLessThanOrEqual(epsilon, 2 * (finals + 2 * edges + 2 * calleeEntries))
        // The machine: linear in the policy (a frontier is a root's initial position or
        // the positions after one symbol, in one of few root classes; 3,018 for 3,014
        // functions here).
        XCTAssertLessThanOrEqual(machine.macroStateCount, 2 * policy.functions.count + 2 * policy.symbols.count + 2)
        XCTAssertLessThanOrEqual(machine.transitionCount, 10 * policy.functions.count)
        XCTAssertLessThanOrEqual(blob.count, 64 * (states + edges))
        XCTAssertNoThrow(try KernelPolicy(blob: blob))
    }

    /// The shared construction against the reference monitor on the per-root
    /// flattening (`policy.flattened()`), on callback rings and on random policies whose
    /// functions are all callbacks (components shared by several roots).
    func testSharedFlatteningAgreesWithTheFlattenedModel() throws {
        var rng = SplitMix64(seed: 1717)
        for n in 1...12 {
            try differential(
                CallbackDispatcher.policy(n, symbols: 1 + n % 4), &rng, streams: 10, length: 80, name: "dispatcher \(n)"
            )
        }
        for i in 0..<150 {
            let policy = CallbackRing.policy(rng.int(2...9), symbols: rng.int(1...4), &rng)
            try differential(policy, &rng, streams: 6, length: 60, name: "ring #\(i)")
        }
        for i in 0..<400 {
            var policy = BlobFixtures.randomPolicy(&rng, maxFunctions: 6, maxStates: 5, maxEdges: 10, symbols: 3)
            policy.callbacks = (1..<policy.functions.count).filter { _ in rng.int(0...2) != 0 }
            if rng.int(0...1) == 0 { policy.syscalls = BlobFixtures.randomBinding(&rng, symbols: policy.symbols.count) }
            try differential(policy, &rng, streams: 6, length: 60, name: "callbacks #\(i)")
        }
    }
}
