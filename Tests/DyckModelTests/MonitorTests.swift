import XCTest
@testable import DyckModel

final class MonitorTests: XCTestCase {
    func run(
        _ policy: Policy, _ markers: [Marker], stackLimit: Int = ThreadMonitor.defaultStackLimit,
        maxDepth: Int = ThreadMonitor.defaultMaxDepth
    ) -> (Int?, ThreadMonitor.Refusal?) {
        var monitor = ThreadMonitor(tables: MonitorTables(policy: policy), stackLimit: stackLimit, maxDepth: maxDepth)
        for (i, m) in markers.enumerated() {
            if let refusal = monitor.step(m) { return (i, refusal) }
        }
        return (nil, nil)
    }

    // Shared-helper policy: sites 0 main->a, 1 main->b, 2 a->h, 3 b->h; symbols open(0) read(1) write(2).
    let policy = sharedHelperPolicy()

    func testRealRunIsAccepted() {
        let markers: [Marker] = [
            .init(.call, 0), .init(.call, 2), .init(.libc, 1), .init(.ret, 2), .init(.libc, 0), .init(.ret, 0),
            .init(.call, 1), .init(.call, 3), .init(.libc, 1), .init(.ret, 3), .init(.libc, 2), .init(.ret, 1)
        ]
        XCTAssertNil(run(policy, markers).0)
    }

    func testReturnToTheWrongSiteIsRefused() {
        // Entered h from a (site 2), claims to return to b's site 3.
        let markers: [Marker] = [.init(.call, 0), .init(.call, 2), .init(.libc, 1), .init(.ret, 3)]
        let (index, refusal) = run(policy, markers)
        XCTAssertEqual(index, 3)
        XCTAssertEqual(refusal, .returnToWrongSite(expected: .site(2)))
    }

    func testOutOfOrderLibcIsRefused() {
        let (index, refusal) = run(policy, [.init(.call, 0), .init(.libc, 0)])
        XCTAssertEqual(index, 1, "a must call h before open")
        XCTAssertEqual(refusal, .notAllowedHere)
    }

    func testReturnBeforeTheCalleeIsDoneIsRefused() {
        let (index, refusal) = run(policy, [.init(.call, 0), .init(.call, 2), .init(.ret, 2)])
        XCTAssertEqual(index, 2)
        XCTAssertEqual(refusal, .cannotReturnYet)
    }

    func testUnknownKindAndIdsAreRefused() {
        XCTAssertEqual(run(policy, [Marker(kind: 9, id: 0)]).1, .unknownKind)
        XCTAssertEqual(run(policy, [Marker(kind: 0, id: 0)]).1, .unknownKind)
        XCTAssertEqual(run(policy, [.init(.libc, 3)]).1, .idOutOfRange)
        XCTAssertEqual(run(policy, [.init(.call, 4)]).1, .idOutOfRange)
        XCTAssertEqual(run(policy, [.init(.callbackEnter, 1)]).1, .notACallback)
    }

    func testDeepRecursionOverflowsClosed() {
        let recursive = ModelFixtures.recursive  // main: f(); f: read; [f()]; write
        var markers: [Marker] = [.init(.call, 0)]
        // The root frame, main's call of f, then 9 recursive calls: 11 frames.
        for _ in 0..<9 { markers += [.init(.libc, 0), .init(.call, 1)] }
        XCTAssertNil(run(recursive, markers, maxDepth: 11).0)
        XCTAssertEqual(run(recursive, markers + [.init(.libc, 0), .init(.call, 1)], maxDepth: 11).1, .stackOverflow)
        // The suspended recursive frames are equal: they fold, 4 slots are enough.
        XCTAssertNil(run(recursive, markers + [.init(.libc, 0), .init(.call, 1)], stackLimit: 4).0)
        XCTAssertEqual(run(recursive, markers, stackLimit: 3).1, .storeFull)
    }

    /// Recursion of 5000 frames: logical frames as before, 4 entries in the store.
    func testRecursionFolds() {
        var monitor = ThreadMonitor(tables: MonitorTables(policy: ModelFixtures.recursive), stackLimit: 4)
        XCTAssertNil(monitor.step(.init(.call, 0)))
        for _ in 0..<5000 {
            XCTAssertNil(monitor.step(.init(.libc, 0)))
            XCTAssertNil(monitor.step(.init(.call, 1)))
        }
        XCTAssertEqual(monitor.depth, 5002)
        XCTAssertEqual(monitor.stack.count, 5002)
        XCTAssertEqual(monitor.entryCount, 4)
        XCTAssertEqual(monitor.stack[2], monitor.stack[5000], "folded frames are equal")
        let forked = monitor
        XCTAssertNil(monitor.step(.init(.libc, 0)))
        XCTAssertNil(monitor.step(.init(.libc, 2)))
        for _ in 0..<5000 {
            XCTAssertNil(monitor.step(.init(.ret, 1)))
            XCTAssertNil(monitor.step(.init(.libc, 2)))
        }
        XCTAssertNil(monitor.step(.init(.ret, 0)))
        XCTAssertEqual(monitor.entryCount, 1)
        XCTAssertEqual(forked.depth, 5002, "a copy (a fork) is independent")
        XCTAssertEqual(forked.entryCount, 4)
    }

    /// A setjmp record dies with its frame: the Lua pattern (a nested protected call
    /// returned, the stack grew back to the same depth) resumes the outer frame.
    func testStaleSetjmpRecordIsNotMatched() {
        // main: f().   f: read; f()*; write.
        let recursive = Policy(
            symbols: ["read", "open", "write"],
            functions: [
                PolicyFunction(name: "main", automaton: automaton(states: 2, finals: [1], [(0, .call(0), 1)])),
                PolicyFunction(
                    name: "f",
                    automaton: automaton(
                        states: 3, finals: [2],
                        [
                            (0, .libc(0), 1), (1, .call(1), 1), (1, .libc(2), 2)
                        ]))
            ],
            sites: [CallSite(caller: 0, callees: [1]), CallSite(caller: 1, callees: [1])], entry: 0)
        let markers: [Marker] = [
            .init(.call, 0), .init(.libc, 0), .init(.setjmpSave, 5),  // f at depth 2 saves
            .init(.call, 1), .init(.libc, 0), .init(.setjmpSave, 5),  // f at depth 3 saves
            .init(.libc, 2), .init(.ret, 1),  // and returns
            .init(.call, 1), .init(.libc, 0), .init(.setjmpResume, 5)  // depth 3 again: longjmp
        ]
        var monitor = ThreadMonitor(tables: MonitorTables(policy: recursive))
        for m in markers { XCTAssertNil(monitor.step(m), "\(m)") }
        XCTAssertEqual(monitor.depth, 2, "the outer frame's record, not the dead one at depth 3")
        XCTAssertEqual(monitor.top.kind, .site(0))
        XCTAssertEqual(monitor.top.frontier, [ThreadMonitor.State(function: 1, state: 1)])
        XCTAssertNil(monitor.step(.init(.libc, 2)))
        XCTAssertNil(monitor.step(.init(.ret, 0)))
        // Returning from the frame that saved kills its record.
        XCTAssertEqual(
            run(
                recursive,
                [
                    .init(.call, 0), .init(.libc, 0), .init(.setjmpSave, 1), .init(.libc, 2),
                    .init(.ret, 0), .init(.setjmpResume, 1)
                ]
            ).1, .noSetjmpRecord)
    }

    /// Setjmp records are never evicted: 40 levels with a record each, then main's.
    func testFortySetjmpDepths() {
        let recursive = ModelFixtures.recursive
        var markers: [Marker] = [.init(.setjmpSave, 0), .init(.call, 0)]
        for _ in 0..<40 { markers += [.init(.libc, 0), .init(.setjmpSave, 1), .init(.call, 1)] }
        var monitor = ThreadMonitor(tables: MonitorTables(policy: recursive))
        for m in markers { XCTAssertNil(monitor.step(m)) }
        XCTAssertEqual(monitor.setjmpRecordCount, 41)
        XCTAssertEqual(monitor.entryCount, 42)
        XCTAssertNil(monitor.step(.init(.setjmpResume, 0)))
        XCTAssertEqual(monitor.depth, 1)
        XCTAssertEqual(monitor.setjmpRecordCount, 1)
        XCTAssertEqual(run(recursive, markers, stackLimit: 60).1, .storeFull)
    }

    func testCallbacksInterruptAndResume() {
        // main: qsort then free; cmp: strcmp.
        let main = automaton(states: 3, finals: [2], [(0, .libc(0), 1), (1, .libc(1), 2)])
        let cmp = automaton(states: 2, finals: [1], [(0, .libc(2), 1)])
        let p = Policy(
            symbols: ["qsort", "free", "strcmp"],
            functions: [PolicyFunction(name: "main", automaton: main), PolicyFunction(name: "cmp", automaton: cmp)],
            sites: [], entry: 0, callbacks: [1])
        let ok: [Marker] = [
            .init(.libc, 0), .init(.callbackEnter, 1), .init(.libc, 2), .init(.callbackExit, 1), .init(.libc, 1)
        ]
        XCTAssertNil(run(p, ok).0)
        XCTAssertEqual(
            run(p, [.init(.libc, 0), .init(.callbackEnter, 1), .init(.libc, 1)]).0, 2,
            "inside the callback only its own calls are allowed")
        XCTAssertEqual(run(p, [.init(.callbackEnter, 1), .init(.callbackExit, 1)]).1, .cannotReturnYet)
        var thread = ThreadMonitor.newThread(tables: MonitorTables(policy: p))
        XCTAssertEqual(thread.step(.init(.libc, 0)), .notAllowedHere, "a new thread starts in no function")
        XCTAssertNil(thread.step(.init(.callbackEnter, 1)))
    }

    func testTailCallReplacesTheFrame() {
        // main: f() then exit; f: read, then musttail g(); g: write.
        let main = automaton(states: 3, finals: [2], [(0, .call(0), 1), (1, .libc(2), 2)])
        let f = automaton(states: 3, finals: [2], [(0, .libc(0), 1), (1, .call(1), 2)])
        let g = automaton(states: 2, finals: [1], [(0, .libc(1), 1)])
        let p = Policy(
            symbols: ["read", "write", "exit"],
            functions: [
                PolicyFunction(name: "main", automaton: main), PolicyFunction(name: "f", automaton: f),
                PolicyFunction(name: "g", automaton: g)
            ],
            sites: [CallSite(caller: 0, callees: [1]), CallSite(caller: 1, callees: [2])], entry: 0)
        XCTAssertNil(
            run(
                p, [.init(.call, 0), .init(.libc, 0), .init(.tail, 1), .init(.libc, 1), .init(.ret, 0), .init(.libc, 2)]
            ).0)
        XCTAssertEqual(
            run(p, [.init(.call, 0), .init(.libc, 0), .init(.tail, 1), .init(.libc, 1), .init(.ret, 1)]).1,
            .returnToWrongSite(expected: .site(0)))
    }

    func testLongjmpUnwindsToTheSetjmpFrame() {
        // main: setjmp; sj-save; f(); exit.   f: read; f() | longjmp.
        let main = automaton(
            states: 4, finals: [3], [(0, .libc(0), 1), (1, .call(0), 2), (2, .libc(3), 3), (1, .libc(3), 3)])
        let f = automaton(states: 3, finals: [], [(0, .libc(1), 1), (1, .call(1), 2), (1, .libc(2), 2)])
        let p = Policy(
            symbols: ["_setjmp", "read", "longjmp", "exit"],
            functions: [PolicyFunction(name: "main", automaton: main), PolicyFunction(name: "f", automaton: f)],
            sites: [CallSite(caller: 0, callees: [1]), CallSite(caller: 1, callees: [1])], entry: 0)
        let markers: [Marker] = [
            .init(.libc, 0), .init(.setjmpSave, 0), .init(.call, 0), .init(.libc, 1), .init(.call, 1), .init(.libc, 1),
            .init(.call, 1), .init(.libc, 1), .init(.libc, 2), .init(.setjmpResume, 0), .init(.libc, 3)
        ]
        XCTAssertNil(run(p, markers).0)
        XCTAssertEqual(run(p, [.init(.libc, 0), .init(.setjmpResume, 0)]).1, .noSetjmpRecord)
    }

    /// Random runs of random policies, as full marker streams: the monitor accepts
    /// every one, and the libc projection of every stream the monitor accepts is
    /// accepted by the Earley checker (two independent implementations of one model).
    func testRandomRunsAgreeWithChecker() {
        var rng = SplitMix64(seed: 7)
        for _ in 0..<300 {
            let p = ModelFixtures.randomPolicy(&rng)
            let tables = MonitorTables(policy: p)
            for _ in 0..<5 {
                let markers = randomRun(p, &rng, length: 12)
                var monitor = ThreadMonitor(tables: tables)
                for m in markers { XCTAssertNil(monitor.step(m), "\(markers) on \(p)") }
                let libc = markers.filter { $0.kind == MarkerKind.libc.rawValue }.map { Optional($0.id) }
                XCTAssertTrue(PolicyChecker(policy: p).check(libc).allowed)
                // A corrupted stream that the monitor still accepts is a real run too.
                var mutated = markers
                if !mutated.isEmpty {
                    mutated[rng.int(0...(mutated.count - 1))] = Marker(kind: rng.int(1...3), id: rng.int(0...2))
                    var m2 = ThreadMonitor(tables: tables)
                    if mutated.allSatisfy({ m2.step($0) == nil }) {
                        let projected = mutated.filter { $0.kind == 1 }.map { Optional($0.id) }
                        XCTAssertTrue(PolicyChecker(policy: p).check(projected).allowed)
                    }
                }
            }
        }
    }

    /// A random walk that emits the markers an instrumented program would.
    func randomRun(_ p: Policy, _ rng: inout SplitMix64, length: Int) -> [Marker] {
        var stack: [(function: Int, state: Int, site: Int?)] = [(p.entry, p.functions[p.entry].automaton.initial, nil)]
        var markers: [Marker] = []
        for _ in 0..<length {
            guard let top = stack.last else { break }
            let automaton = p.functions[top.function].automaton
            var moves: [() -> Void] = []
            for edge in automaton.edges where edge.from == top.state {
                switch edge.label {
                case .libc(let l):
                    moves.append {
                        stack[stack.count - 1].state = edge.to; markers.append(.init(.libc, l))
                    }
                case .call(let c):
                    for callee in p.sites[c].callees where stack.count < 20 {
                        moves.append {
                            stack[stack.count - 1].state = edge.to
                            stack.append((callee, p.functions[callee].automaton.initial, c))
                            markers.append(.init(.call, c))
                        }
                    }
                }
            }
            if automaton.finals.contains(top.state), let site = top.site {
                moves.append {
                    stack.removeLast(); markers.append(.init(.ret, site))
                }
            }
            if moves.isEmpty { break }
            moves[rng.int(0...(moves.count - 1))]()
        }
        return markers
    }
}
