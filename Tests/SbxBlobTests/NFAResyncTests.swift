import CSbxCore
import DyckModel
import XCTest
@testable import SbxBlob

/// Log mode's resynchronisation in nfa mode (specs/kernel-abi.md, "Resynchronisation
/// entry"): the machine over the shared flattening has an any macro-state per
/// (copy, root class), so a thread lost in its root frame comes back.
final class NFAResyncTests: XCTestCase {
    /// main: 0 -printf-> 1 -printf-> 0 (two loops of printf), final 0 and 1; getppid
    /// (symbol 1) is allowed nowhere, as in Tests/e2e/audit5.c's relabelled policy.
    static var loops: Policy {
        let main = Automaton(
            stateCount: 2, initial: 0, finals: [0, 1],
            edges: [Edge(from: 0, label: .libc(0), to: 1), Edge(from: 1, label: .libc(0), to: 0)])
        return Policy(
            symbols: ["printf", "getppid"], functions: [PolicyFunction(name: "main", automaton: main)], sites: [],
            entry: 0)
    }

    func testEveryMacroStateOfTheRootHasItsAnyMacroState() throws {
        let machine = try MacroMachine(policy: BlobTests.sharedHelper, mode: .nfa)
        XCTAssertEqual(machine.resyncGroupsLeftOut, 0)
        for m in 0..<machine.macroStateCount {
            if machine.frontierCopies[m] < 0 {
                XCTAssertNil(machine.resync[m], "the empty frontier")
                continue
            }
            let any = try XCTUnwrap(machine.resync[m], "macro-state \(m)")
            XCTAssertEqual(machine.resync[any], any)
            XCTAssertEqual(machine.frontierCopies[any], machine.frontierCopies[m], "same copy")
        }
    }

    /// Five refused calls in two loops in main: five refusals, each followed by a
    /// resynchronisation at the next printf.
    func testFiveRefusalsInTwoLoopsAreFiveDeviations() throws {
        let k = try KernelPolicy(blob: buildBlob(policy: Self.loops, mode: .nfa))
        XCTAssertTrue(k.isNFA)
        let m = KernelMonitor(policy: k)
        var deviations = 0
        var lost = false
        for _ in 0..<5 {
            for marker in [Marker(.libc, 1), Marker(.libc, 0)] {
                if lost {
                    if m.resync(marker) { lost = false }
                    continue
                }
                if m.step(marker) != nil {
                    deviations += 1
                    lost = !m.resync(marker)
                }
            }
        }
        XCTAssertEqual(deviations, 5)
        XCTAssertFalse(lost, "resynchronised at the last printf")
        XCTAssertEqual(m.depth, 1)
    }

    /// The shared helper in nfa mode: a refused write at main's start resumes at the
    /// read of h (reached through a and b), and the flattened model goes on from there.
    func testResumesWhereTheFlattenedRootCanBe() throws {
        let k = try KernelPolicy(blob: buildBlob(policy: BlobTests.sharedHelper, mode: .nfa))
        let m = KernelMonitor(policy: k)
        XCTAssertEqual(m.step(.init(.libc, 1))?.refusal, .notAllowedHere, "open before read")
        XCTAssertFalse(m.resync(.init(.ret, 0)), "only libc markers resynchronise")
        XCTAssertTrue(m.resync(.init(.libc, 0)), "read: h's, which main reaches")
        XCTAssertEqual(m.window, .libc(0))
        // After h: back in a (open) or b (write), as the single copy allows.
        XCTAssertNil(m.step(.init(.libc, 2)))
        XCTAssertEqual(m.step(.init(.libc, 0))?.refusal, .notAllowedHere, "after b's write main has ended")
        // The callback's frame has its own group (cb's copy): write only.
        let c = KernelMonitor(policy: k)
        XCTAssertNil(c.step(.init(.callbackEnter, 4)))
        XCTAssertEqual(c.step(.init(.libc, 0))?.refusal, .notAllowedHere)
        XCTAssertFalse(c.resync(.init(.libc, 0)), "read is nowhere in cb")
        XCTAssertTrue(c.resync(.init(.libc, 2)))
        XCTAssertNil(c.step(.init(.callbackExit, 4)))
        // A new thread's root is the empty frontier: never.
        XCTAssertFalse(KernelMonitor(policy: k, newThread: true).resync(.init(.libc, 2)))
    }
}
