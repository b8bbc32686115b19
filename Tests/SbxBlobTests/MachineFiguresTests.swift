import DyckModel
import Foundation
import TestSupport
import XCTest
@testable import SbxBlob

/// `sbx stats`'s nfa-machine row (`MachineFigures`): the size and static ABF of the
/// machine `sbx blob --mode nfa` builds, on random policies against the per-root
/// flattening `Policy.flattened()`, and on a large callback dispatcher for its cost.
final class MachineFiguresTests: XCTestCase {
    /// At every macro-state a run can reach (found with a witness: a root and a word of
    /// libc calls from its entry), the machine's next libc calls are those the root's
    /// automaton in `flattened()` allows after that word. The figures are then
    /// recounted from the witnesses.
    func testNextSetsAgreeWithTheFlattenedPolicy() throws {
        var rng = SplitMix64(seed: 0x17_0e11)
        var positionsSeen = 0
        var emptyNext = 0
        for round in 0..<300 {
            let policy = RandomPolicies.policy(&rng, maxFunctions: 4, maxStates: 4, maxEdges: 6, symbols: 3)
            let machine = try MacroMachine(policy: policy, mode: .nfa)
            let figures = MachineFigures(machine)
            let flat = policy.flattened()
            var roots: [Int] = []
            for r in [policy.entry] + policy.callbacks where !roots.contains(r) { roots.append(r) }

            var witness: [Int: (root: Int, word: [Int])] = [:]
            for (k, r) in roots.enumerated() {
                let start =
                    r == policy.entry
                    ? machine.initial : try XCTUnwrap(machine.callbackEntries.first { $0.function == r }).entered
                var queue = [(start, [Int]())]
                var seen: Set<Int> = [start]
                var i = 0
                while i < queue.count {
                    let (m, word) = queue[i]
                    i += 1
                    if m != 0, witness[m] == nil { witness[m] = (k, word) }
                    for (key, target) in machine.transitions[m] {
                        guard case .libc(let l) = key else { continue }
                        if seen.insert(target).inserted { queue.append((target, word + [l])) }
                    }
                }
            }
            XCTAssertEqual(figures.branchingFactor.positions, witness.count, "round \(round)")
            var sum = 0
            for (m, (k, word)) in witness {
                let machineNext = machine.transitions[m].compactMap { t -> Int? in
                    if case .libc(let l) = t.key { return l }
                    return nil
                }
                sum += Set(machineNext).count
                let automaton = flat.functions[k].automaton
                let outgoing = automaton.outgoing()
                var states: Set<Int> = [automaton.initial]
                for l in word {
                    states = Set(states.flatMap { outgoing[$0].filter { $0.label == .libc(l) }.map(\.to) })
                }
                var expected = Set<Int>()
                for q in states {
                    for edge in outgoing[q] { if case .libc(let l) = edge.label { expected.insert(l) } }
                }
                XCTAssertEqual(
                    Set(machineNext), expected, "round \(round), macro-state \(m), root \(roots[k]), word \(word)")
                if expected.isEmpty { emptyNext += 1 }
                positionsSeen += 1
            }
            XCTAssertEqual(figures.branchingFactor.sum, sum, "round \(round)")
            XCTAssertEqual(figures.states, machine.macroStateCount)
            XCTAssertEqual(figures.edges, machine.transitionCount)
        }
        // The comparison saw real machines, and positions where nothing may follow.
        XCTAssertGreaterThan(positionsSeen, 400)
        XCTAssertGreaterThan(emptyNext, 0)
    }

    /// The shape of SQLite's shell (most callbacks in one component): `sbx stats`'s
    /// nfa row summed one reduced automaton per root (`SharedFlatSizes(policy:)`), which
    /// is roots × component; the machine's figures are linear. At 1,500 callbacks the
    /// per-root reduction is over 2,251,500 root-positions (1,501 roots, each reaching
    /// all 1,500 callbacks' libc edges); the machine has a few thousand macro-states.
    func testFiguresOfOneLargeComponentAreLinear() throws {
        let policy = CallbackDispatcher.policy(1500)
        let clock = ContinuousClock()
        var figures: MachineFigures?
        let took = try clock.measure {
            figures = MachineFigures(try MacroMachine(policy: policy, mode: .nfa))
        }
        let result = try XCTUnwrap(figures)
        XCTAssertLessThan(result.states, 20 * policy.functions.count, "\(result)")
        XCTAssertLessThan(result.edges, 20 * policy.functions.count, "\(result)")
        XCTAssertGreaterThan(result.branchingFactor.positions, 0)
        // A generous bound for a loaded debug build; the per-root sum takes minutes.
        XCTAssertLessThan(took, .seconds(60), "\(took)")
    }
}
