import CSbxCore
import DyckModel
import XCTest
@testable import SbxBlob

final class BlobTests: XCTestCase {
    /// main: a(); b();   a: h(); open();   b: h(); write();   h: read().
    /// Symbols read(0) open(1) write(2); sites 0 main→a, 1 main→b, 2 a→h, 3 b→h;
    /// callback cb (function 4): write.
    static var sharedHelper: Policy {
        func automaton(_ count: Int, finals: Set<Int>, _ edges: [(Int, Label, Int)]) -> Automaton {
            Automaton(
                stateCount: count, initial: 0, finals: finals,
                edges: edges.map { Edge(from: $0.0, label: $0.1, to: $0.2) })
        }
        return Policy(
            symbols: ["read", "open", "write"],
            functions: [
                PolicyFunction(
                    name: "main", automaton: automaton(3, finals: [2], [(0, .call(0), 1), (1, .call(1), 2)])),
                PolicyFunction(name: "a", automaton: automaton(3, finals: [2], [(0, .call(2), 1), (1, .libc(1), 2)])),
                PolicyFunction(name: "b", automaton: automaton(3, finals: [2], [(0, .call(3), 1), (1, .libc(2), 2)])),
                PolicyFunction(name: "h", automaton: automaton(2, finals: [1], [(0, .libc(0), 1)])),
                PolicyFunction(name: "cb", automaton: automaton(2, finals: [1], [(0, .libc(2), 1)]))
            ],
            sites: [
                CallSite(caller: 0, callees: [1]), CallSite(caller: 0, callees: [2]),
                CallSite(caller: 1, callees: [3]), CallSite(caller: 2, callees: [3])
            ],
            entry: 0, callbacks: [4])
    }

    func le32(_ b: [UInt8], _ off: Int) -> Int {
        Int(b[off]) | Int(b[off + 1]) << 8 | Int(b[off + 2]) << 16 | Int(b[off + 3]) << 24
    }

    func testBlobRoundTripsThroughTheCValidator() throws {
        let p = Self.sharedHelper
        for mode in BlobMode.allCases {
            let blob = try buildBlob(policy: p, mode: mode, stackLimit: 100)
            let kernel = try KernelPolicy(blob: blob)
            let machine = try MacroMachine(policy: p, mode: mode)
            XCTAssertEqual(kernel.macroStateCount, machine.macroStateCount)
            XCTAssertEqual(kernel.transitionCount, machine.transitionCount)
            XCTAssertEqual(kernel.stackLimit, 100)
            XCTAssertEqual(kernel.isNFA, mode == .nfa)
            XCTAssertEqual(le32(blob, 0), Int(SBX_BLOB_MAGIC))
            XCTAssertEqual(le32(blob, 16), blob.count)
            XCTAssertEqual(try buildBlob(policy: p, mode: mode, stackLimit: 100), blob, "deterministic")
            // Every cut and every single-bit flip of the header is refused or still valid, never a crash.
            for n in 0..<blob.count {
                XCTAssertThrowsError(try KernelPolicy(blob: Array(blob[0..<n])))
            }
            for bit in 0..<(80 * 8) {
                var mutated = blob
                mutated[bit / 8] ^= UInt8(1 << (bit % 8))
                if let k = try? KernelPolicy(blob: mutated) { _ = KernelMonitor(policy: k).step(.init(.libc, 0)) }
            }
        }
        // The machine of the example: the dyck one has one macro-state per state plus the
        // empty one (14), and log mode's any macro-state of each of the 5 functions (all
        // of its states), whose successors are all macro-states already.
        let machine = try MacroMachine(policy: p, mode: .dyck)
        XCTAssertEqual(machine.macroStateCount, 14 + 5)
        XCTAssertEqual(machine.resyncGroupsLeftOut, 0)
        for m in 0..<machine.macroStateCount {
            let functions = Set(machine.frontiers[m].map(\.function))
            guard let f = functions.first else {
                XCTAssertNil(machine.resync[m], "the empty frontier is in no function")
                continue
            }
            XCTAssertEqual(functions.count, 1)
            let any = try XCTUnwrap(machine.resync[m])
            XCTAssertEqual(
                machine.frontiers[any],
                (0..<p.functions[f].automaton.stateCount).map { MacroMachine.Pair(function: f, state: $0) })
            XCTAssertEqual(machine.resync[any], any)
        }
        XCTAssertEqual(machine.threadStart, 0, "numbering: the empty frontier first")
        XCTAssertEqual(machine.initial, 1, "then the entry")
        XCTAssertEqual(machine.frontiers[machine.threadStart], [])
        XCTAssertEqual(machine.frontiers[machine.initial], [.init(function: 0, state: 0)])
        XCTAssertEqual(
            machine.siteEntries.map { machine.frontiers[$0] },
            [
                [.init(function: 1, state: 0)], [.init(function: 2, state: 0)],
                [.init(function: 3, state: 0)], [.init(function: 3, state: 0)]
            ])
    }

    func testKernelMonitorSteps() throws {
        let k = try KernelPolicy(blob: buildBlob(policy: Self.sharedHelper, mode: .dyck))
        let m = KernelMonitor(policy: k)
        let run: [Marker] = [
            .init(.call, 0), .init(.call, 2), .init(.libc, 0), .init(.ret, 2), .init(.libc, 1), .init(.ret, 0),
            .init(.call, 1), .init(.callbackEnter, 4), .init(.libc, 2), .init(.callbackExit, 4)
        ]
        for marker in run { XCTAssertNil(m.step(marker), "\(marker)") }
        XCTAssertEqual(m.depth, 2)
        XCTAssertEqual(
            m.step(.init(.ret, 0)),
            KernelViolation(refusal: .returnToWrongSite, top: .site(1), macroState: m.stack[1].macroState, depth: 2))
        let child = KernelMonitor(copying: m)
        XCTAssertNil(child.step(.init(.call, 3)))
        XCTAssertEqual(m.depth, 2)
        XCTAssertEqual(child.depth, 3)
        let thread = KernelMonitor(policy: k, newThread: true)
        XCTAssertEqual(thread.step(.init(.libc, 2))?.refusal, .notAllowedHere)
        XCTAssertNil(thread.step(.init(.callbackEnter, 4)))
        // Ids are 32-bit: the upper half must be zero, for setjmp numbers too.
        XCTAssertEqual(m.step(kind: 7, id: 1 << 32)?.refusal, .idOutOfRange)
        XCTAssertNil(m.step(kind: 7, id: Int(UInt32.max)))
        XCTAssertEqual(m.step(kind: -1, id: 0)?.refusal, .unknownKind)
        XCTAssertEqual(m.step(kind: 1 + (1 << 32), id: 0)?.refusal, .unknownKind, "no truncation of the kind")
    }

    /// Log mode's resynchronisation through the blob (`sbx_resync`): a refused event
    /// in a frame resumes at the next libc call that its function allows anywhere.
    func testResynchronisation() throws {
        let k = try KernelPolicy(blob: buildBlob(policy: Self.sharedHelper, mode: .dyck))
        let m = KernelMonitor(policy: k)
        XCTAssertNil(m.step(.init(.call, 0)))
        // In a (at a0), open is refused; a allows it from a1, so it resumes at a2.
        XCTAssertEqual(m.step(.init(.libc, 1))?.refusal, .notAllowedHere)
        XCTAssertFalse(m.resync(.init(.libc, 0)), "read is h's, not a's")
        XCTAssertFalse(m.resync(.init(.ret, 0)), "only libc markers resynchronise")
        XCTAssertTrue(m.resync(.init(.libc, 1)))
        XCTAssertEqual(m.window, .libc(1))
        XCTAssertEqual(m.depth, 2, "the frame is kept")
        // From a2 a may return, and main goes on.
        XCTAssertNil(m.step(.init(.ret, 0)))
        XCTAssertNil(m.step(.init(.call, 1)))
        // The root: main has no libc call at all, so nothing resumes it.
        let root = KernelMonitor(policy: k)
        XCTAssertFalse(root.resync(.init(.libc, 2)))
        // A new thread's root is the empty frontier: never.
        XCTAssertFalse(KernelMonitor(policy: k, newThread: true).resync(.init(.libc, 2)))
        // The reference agrees.
        var reference = ThreadMonitor(tables: MonitorTables(policy: Self.sharedHelper))
        XCTAssertNil(reference.step(.init(.call, 0)))
        XCTAssertTrue(reference.resynchronise(.init(.libc, 1)))
        XCTAssertEqual(reference.top.frontier.map { [$0.function, $0.state] }, [[1, 2]], "a2")
    }

    /// A function group whose resynchronisation would take the machine over its
    /// caps is left out (its entries none), and the blob is still built. With 16
    /// macro-states for the 14 of the example, the groups are taken in macro-state
    /// order (1 main, 2 a, 3 b, 4 h, 5 cb): main's and a's any macro-states (14, 15)
    /// fit, b, h and cb are left out.
    func testResynchronisationOverTheCapIsLeftOut() throws {
        let p = Self.sharedHelper
        let machine = try MacroMachine(policy: p, mode: .dyck, macroStateCap: 16, transitionCap: 1 << 20)
        XCTAssertEqual(machine.macroStateCount, 16)
        XCTAssertEqual(machine.resyncGroupsLeftOut, 3)
        XCTAssertEqual(machine.resync.compactMap { $0 }.count, 8, "main's 3 and a's 3 macro-states and the two any")
        XCTAssertNil(machine.resync[machine.siteEntries[1]], "b is left out")
        XCTAssertNil(machine.resync[machine.siteEntries[2]], "h is left out")
        let k = try KernelPolicy(blob: encodeBlob(machine))
        let inH = KernelMonitor(policy: k)
        XCTAssertNil(inH.step(.init(.call, 0)))
        XCTAssertNil(inH.step(.init(.call, 2)))
        XCTAssertFalse(inH.resync(.init(.libc, 0)), "h allows read, but its group is left out")
        let inA = KernelMonitor(policy: k)
        XCTAssertNil(inA.step(.init(.call, 0)))
        XCTAssertTrue(inA.resync(.init(.libc, 1)))
    }

    /// An nfa blob is built from the instrumented (dyck) policy and enforces the
    /// flattened model on the same binary: site markers pass without effect (ids out
    /// of range are still refused), callbacks are entered by their original function
    /// index and keep their frames.
    func testNFABlobEnforcesTheFlattenedModelOnTheSameBinary() throws {
        let p = Self.sharedHelper
        let blob = try buildBlob(policy: p, mode: .nfa)
        let k = try KernelPolicy(blob: blob)
        XCTAssertTrue(k.isNFA)
        XCTAssertEqual(le32(blob, 28), 5, "nr_functions: the instrumented policy's")
        XCTAssertEqual(le32(blob, 32), 4, "nr_sites: the instrumented policy's")
        XCTAssertEqual(le32(blob, 64), le32(blob, 68), "no site section")
        let callbacks = le32(blob, 68)
        XCTAssertEqual(le32(blob, 120), callbacks + 8, "the resynchronisation section follows")
        XCTAssertEqual(blob.count, callbacks + 8 + 4 * k.macroStateCount + le32(blob, 124), "then the names")
        let machine = try MacroMachine(policy: p, mode: .nfa)
        XCTAssertEqual(machine.policy, p.flattened())
        XCTAssertEqual(machine.original, p)
        XCTAssertEqual(machine.siteEntries, [])
        XCTAssertEqual(machine.callbackEntries.map(\.function), [4], "the original index of cb")
        let cbRoot = p.flattened().callbacks[0]
        XCTAssertEqual(cbRoot, 1)
        // The nfa frontiers of a Dyck policy are positions of the shared flattening,
        // named by the original function and state: cb's initial state.
        XCTAssertEqual(
            machine.frontiers[machine.callbackEntries[0].entered],
            [.init(function: 4, state: p.functions[4].automaton.initial)])
        XCTAssertEqual(machine.frontierModel, p)
        XCTAssertEqual(le32(blob, callbacks), 4)
        XCTAssertEqual(le32(blob, callbacks + 4), machine.callbackEntries[0].entered)
        XCTAssertTrue(
            machine.transitions.allSatisfy { $0.allSatisfy { if case .libc = $0.key { true } else { false } } })

        // The dyck policy's run, as the instrumented program issues it.
        let m = KernelMonitor(policy: k)
        let run: [Marker] = [
            .init(.call, 0), .init(.call, 2), .init(.libc, 0), .init(.ret, 2), .init(.libc, 1), .init(.ret, 0),
            .init(.call, 1), .init(.callbackEnter, 4), .init(.libc, 2), .init(.callbackExit, 4)
        ]
        for marker in run { XCTAssertNil(m.step(marker), "\(marker)") }
        XCTAssertEqual(m.stack.map(\.kind), [.root], "site markers push nothing")
        XCTAssertNil(m.step(.init(.callbackEnter, 4)))
        XCTAssertEqual(m.stack.map(\.kind), [.root, .callback(4)], "callbacks keep their frames, original index")
        XCTAssertEqual(m.step(.init(.ret, 1))?.refusal, nil, "a return is no frame check here")
        XCTAssertEqual(m.step(.init(.libc, 1))?.refusal, .notAllowedHere, "inside the callback only its own calls")

        // The impossible path: h called from a returns into b. Dyck refuses it.
        let impossible: [Marker] = [.init(.call, 0), .init(.call, 2), .init(.libc, 0), .init(.ret, 2), .init(.libc, 2)]
        let nfa = KernelMonitor(policy: k)
        let dyck = KernelMonitor(policy: try KernelPolicy(blob: buildBlob(policy: p, mode: .dyck)))
        XCTAssertEqual(impossible.compactMap { nfa.step($0) }, [])
        XCTAssertEqual(impossible.compactMap { dyck.step($0)?.refusal }, [.notAllowedHere])

        // Ids out of range, and callback numbers of the instrumented policy.
        let fresh = KernelMonitor(policy: k)
        for kind in [MarkerKind.call, .ret, .tail] {
            XCTAssertEqual(fresh.step(.init(kind, 4))?.refusal, .idOutOfRange, "\(kind)")
            XCTAssertEqual(fresh.step(kind: kind.rawValue, id: -1)?.refusal, .idOutOfRange, "\(kind)")
            XCTAssertNil(fresh.step(.init(kind, 3)), "\(kind)")
        }
        XCTAssertEqual(fresh.step(.init(.callbackEnter, 1))?.refusal, .notACallback, "flattened index of cb")
        XCTAssertEqual(fresh.step(.init(.callbackEnter, 0))?.refusal, .notACallback)
        XCTAssertEqual(fresh.step(.init(.callbackEnter, 5))?.refusal, .idOutOfRange)
        XCTAssertEqual(fresh.step(.init(.callbackExit, 4))?.refusal, .returnToWrongSite)
        XCTAssertEqual(fresh.step(.init(.callbackExit, 3))?.refusal, .returnToWrongSite)

        // The reference reads the same markers the same way.
        let flat = FlattenedMarkers(policy: p)
        XCTAssertEqual(flat.rootOfCallback, [4: 1])
        XCTAssertEqual(flat.translate(.init(.call, 3), top: .root), .skip)
        XCTAssertEqual(flat.translate(.init(.tail, 4), top: .root), .refuse(.idOutOfRange))
        XCTAssertEqual(flat.translate(.init(.callbackEnter, 4), top: .root), .step(.init(.callbackEnter, 1)))
        XCTAssertEqual(flat.translate(.init(.callbackEnter, 1), top: .root), .refuse(.notACallback))
        XCTAssertEqual(
            flat.translate(.init(.callbackExit, 2), top: .callback(1)),
            .refuse(.returnToWrongSite(expected: .callback(1))))
        XCTAssertEqual(flat.originalKind(.callback(1)), .callback(4))
        XCTAssertEqual(flat.translate(.init(.libc, 9), top: .root), .step(.init(.libc, 9)))

        // A policy of kind nfa is its own flattening: the same blob in both modes.
        let flatPolicy = p.flattened()
        XCTAssertEqual(try buildBlob(policy: flatPolicy, mode: .dyck), try buildBlob(policy: flatPolicy, mode: .nfa))
        XCTAssertTrue(try KernelPolicy(blob: buildBlob(policy: flatPolicy, mode: .dyck)).isNFA)
    }

    func testCapsAndStackLimitAreChecked() throws {
        let p = Self.sharedHelper
        XCTAssertThrowsError(try buildBlob(policy: p, mode: .dyck, stackLimit: 0)) { error in
            XCTAssertEqual(error as? BlobError, .badStackLimit(0))
        }
        XCTAssertThrowsError(try buildBlob(policy: p, mode: .dyck, stackLimit: BlobLimits.maxStackLimit + 1))
        XCTAssertNoThrow(try buildBlob(policy: p, mode: .dyck, stackLimit: BlobLimits.maxStackLimit))
        var invalid = p
        invalid.entry = 9
        XCTAssertThrowsError(try buildBlob(policy: invalid, mode: .dyck)) { error in
            XCTAssertTrue(error is PolicyFormatError, "\(error)")
        }
        // Caps on the compiled machine name the table (smaller caps than the kernel's,
        // which take minutes to reach).
        XCTAssertThrowsError(try MacroMachine(policy: p, mode: .dyck, macroStateCap: 13, transitionCap: 100)) { error in
            XCTAssertEqual(error as? BlobError, .capExceeded(what: "macro-states", count: 14, cap: 13))
            XCTAssertEqual("\(error)", "the policy is too large for the kernel: 14 macro-states exceed the cap of 13")
        }
        XCTAssertThrowsError(try MacroMachine(policy: p, mode: .dyck, macroStateCap: 100, transitionCap: 7)) { error in
            XCTAssertEqual(error as? BlobError, .capExceeded(what: "transitions", count: 8, cap: 7))
        }
        XCTAssertNoThrow(try MacroMachine(policy: p, mode: .dyck, macroStateCap: 14, transitionCap: 8))
    }

    /// The classic exponential subset construction: (a|b)* a (a|b)^n has 2^(n+1)
    /// reachable frontiers. The caps stop it with an error naming the table.
    func testSubsetBlowUpIsCapped() throws {
        let n = 9
        var edges = [
            Edge(from: 0, label: .libc(0), to: 0), Edge(from: 0, label: .libc(1), to: 0),
            Edge(from: 0, label: .libc(0), to: 1)
        ]
        for i in 1...n {
            edges += [Edge(from: i, label: .libc(0), to: i + 1), Edge(from: i, label: .libc(1), to: i + 1)]
        }
        let p = Policy(
            symbols: ["a", "b"],
            functions: [
                PolicyFunction(
                    name: "main", automaton: Automaton(stateCount: n + 2, initial: 0, finals: [n + 1], edges: edges))
            ], sites: [], entry: 0)
        let machine = try MacroMachine(policy: p, mode: .dyck)
        XCTAssertEqual(
            machine.macroStateCount, (1 << (n + 1)) + 1, "every subset containing state 0, and the empty one")
        XCTAssertNoThrow(try KernelPolicy(blob: encodeBlob(machine)))
        XCTAssertThrowsError(try MacroMachine(policy: p, mode: .dyck, macroStateCap: 1000, transitionCap: 1 << 20)) {
            error in
            XCTAssertEqual(error as? BlobError, .capExceeded(what: "macro-states", count: 1001, cap: 1000))
        }
    }

    func testBlobErrorsCarryTheErrno() {
        XCTAssertEqual((try? KernelPolicy(blob: [])) == nil, true)
        XCTAssertThrowsError(try KernelPolicy(blob: [UInt8](repeating: 0, count: 80))) { error in
            XCTAssertEqual(error as? BlobError, .invalidBlob(errno: Int32(SBX_EINVAL)))
        }
    }
}
