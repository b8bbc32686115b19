import XCTest
@testable import DyckModel

/// Next-libc sets of monitor configurations (`NextLibcSets`), the per-position
/// measure of the run-based ABF (`specs/checking.md`, "Run-based ABF").
final class RunBranchingFactorTests: XCTestCase {
    /// Symbols open(0), read(1), write(2).
    /// main: h() /*site 0*/; read(); h() /*site 1*/; write();   h: open();
    static var helperTwice: Policy {
        Policy(
            symbols: ["open", "read", "write"],
            functions: [
                PolicyFunction(
                    name: "main",
                    automaton: ModelFixtures.automaton(
                        5, finals: [4],
                        [
                            (0, .call(0), 1), (1, .libc(1), 2), (2, .call(1), 3), (3, .libc(2), 4)
                        ])),
                PolicyFunction(name: "h", automaton: ModelFixtures.automaton(2, finals: [1], [(0, .libc(0), 1)]))
            ],
            sites: [CallSite(caller: 0, callees: [1]), CallSite(caller: 0, callees: [1])],
            entry: 0)
    }

    /// Steps both monitors (the nfa one through `FlattenedMarkers`), failing on refusal.
    func step(
        _ dyck: inout ThreadMonitor, _ nfa: inout ThreadMonitor, _ map: FlattenedMarkers, _ kind: MarkerKind, _ id: Int,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertNil(dyck.step(Marker(kind, id)), "dyck \(kind) \(id)", file: file, line: line)
        XCTAssertNil(nfa.step(Marker(kind, id), flattened: map), "nfa \(kind) \(id)", file: file, line: line)
    }

    func testSharedHelperDyckKnowsTheCaller() {
        let policy = Self.helperTwice
        let map = FlattenedMarkers(policy: policy)
        let dyckSets = NextLibcSets(policy: policy)
        let nfaSets = NextLibcSets(policy: map.flattened)
        var dyck = ThreadMonitor(tables: MonitorTables(policy: policy))
        var nfa = ThreadMonitor(tables: MonitorTables(policy: map.flattened))
        var observed: [([Int], [Int])] = []
        func position() { observed.append((dyckSets.labels(dyck), nfaSets.labels(nfa))) }
        // The run open, read, open, write with its calls and returns.
        position()
        step(&dyck, &nfa, map, .call, 0)
        step(&dyck, &nfa, map, .libc, 0)
        position()
        step(&dyck, &nfa, map, .ret, 0)
        step(&dyck, &nfa, map, .libc, 1)
        position()
        step(&dyck, &nfa, map, .call, 1)
        step(&dyck, &nfa, map, .libc, 0)
        position()
        step(&dyck, &nfa, map, .ret, 1)
        step(&dyck, &nfa, map, .libc, 2)
        position()
        // dyck: start {open}; after open in h from site 0 h can return, then main
        // does read: {read}; {open}; after open from site 1: {write}; end ∅.
        XCTAssertEqual(observed.map(\.0), [[0], [1], [0], [2], []])
        // nfa (one copy of h): after open, either return point: {read, write}.
        XCTAssertEqual(observed.map(\.1), [[0], [1, 2], [0], [1, 2], []])
        // Sums 4 and 6 over 5 positions: ABF 0.8 and 1.2.
        XCTAssertEqual(observed.map(\.0.count).reduce(0, +), 4)
        XCTAssertEqual(observed.map(\.1.count).reduce(0, +), 6)
    }

    func testSilentCalleeAndWalkDownThroughNullableFrames() {
        // Symbols read(0), open(1), write(2).
        // main: a() /*0*/; write();   a: g() /*1*/; h() /*2*/;   g: if (...) read();   h: open(); [open();]
        let policy = Policy(
            symbols: ["read", "open", "write"],
            functions: [
                PolicyFunction(
                    name: "main",
                    automaton: ModelFixtures.automaton(3, finals: [2], [(0, .call(0), 1), (1, .libc(2), 2)])),
                PolicyFunction(
                    name: "a", automaton: ModelFixtures.automaton(3, finals: [2], [(0, .call(1), 1), (1, .call(2), 2)])),
                PolicyFunction(name: "g", automaton: ModelFixtures.automaton(2, finals: [0, 1], [(0, .libc(0), 1)])),
                PolicyFunction(
                    name: "h",
                    automaton: ModelFixtures.automaton(3, finals: [1, 2], [(0, .libc(1), 1), (1, .libc(1), 2)]))
            ],
            sites: [
                CallSite(caller: 0, callees: [1]), CallSite(caller: 1, callees: [2]), CallSite(caller: 1, callees: [3])
            ],
            entry: 0)
        let sets = NextLibcSets(policy: policy)
        var monitor = ThreadMonitor(tables: MonitorTables(policy: policy))
        var cursor = NextLibcCursor(monitor)
        func next() -> [Int] {
            let memoized = sets.labels(monitor, cursor: &cursor)
            XCTAssertEqual(memoized, sets.labels(monitor))
            XCTAssertEqual(sets.count(monitor, cursor: &cursor), memoized.count)
            return memoized
        }
        func step(_ kind: MarkerKind, _ id: Int) {
            XCTAssertNil(monitor.step(Marker(kind, id)))
            cursor.observe(monitor)
        }
        // main.0: enter a, enter g: read; g may finish silently: h's open. h is not
        // nullable, so a is not, so main.0 is not: write is not next.
        XCTAssertEqual(next(), [0, 1])
        step(.call, 0)
        step(.call, 1)
        // In g at g.0: read, or return to a.1 (FIRST {open}); a.1 not nullable.
        XCTAssertEqual(next(), [0, 1])
        step(.libc, 0)
        XCTAssertEqual(next(), [1])
        step(.ret, 1)
        step(.call, 2)
        step(.libc, 1)
        // h.1: open again, or return: a.2 is final, return to main.1: write.
        XCTAssertEqual(next(), [1, 2])
        step(.libc, 1)
        XCTAssertEqual(next(), [2])
        step(.ret, 2)
        step(.ret, 0)
        step(.libc, 2)
        XCTAssertEqual(next(), [])
    }

    func testCallbackFrameIsNotWalkedThrough() {
        // Symbols read(0), open(1), write(2). main: read(); write();   cb: open();
        let policy = Policy(
            symbols: ["read", "open", "write"],
            functions: [
                PolicyFunction(
                    name: "main",
                    automaton: ModelFixtures.automaton(3, finals: [2], [(0, .libc(0), 1), (1, .libc(2), 2)])),
                PolicyFunction(name: "cb", automaton: ModelFixtures.automaton(2, finals: [1], [(0, .libc(1), 1)]))
            ],
            sites: [], entry: 0, callbacks: [1])
        let sets = NextLibcSets(policy: policy)
        var monitor = ThreadMonitor(tables: MonitorTables(policy: policy))
        XCTAssertNil(monitor.step(Marker(.libc, 0)))
        XCTAssertEqual(sets.labels(monitor), [2])
        XCTAssertNil(monitor.step(Marker(.callbackEnter, 1)))
        XCTAssertEqual(sets.labels(monitor), [1])
        XCTAssertNil(monitor.step(Marker(.libc, 1)))
        // cb may return, but that resumes libc: nothing below the callback counts.
        XCTAssertEqual(sets.labels(monitor), [])
        // A new thread has nothing until its start routine is entered.
        var thread = ThreadMonitor.newThread(tables: MonitorTables(policy: policy))
        XCTAssertEqual(sets.labels(thread), [])
        XCTAssertNil(thread.step(Marker(.callbackEnter, 1)))
        XCTAssertEqual(sets.labels(thread), [1])
    }

    func testDeepRecursionMemoMatchesFreshComputation() {
        // main: f();   f: read(); if (...) f(); write();  — every return point of f
        // (f.2, then write) is not nullable, but f.3 is: the walk after the write of
        // the innermost frame goes down while frames are at f.3.
        let policy = ModelFixtures.recursive
        let sets = NextLibcSets(policy: policy)
        var monitor = ThreadMonitor(tables: MonitorTables(policy: policy))
        var cursor = NextLibcCursor(monitor)
        func step(_ kind: MarkerKind, _ id: Int) {
            XCTAssertNil(monitor.step(Marker(kind, id)))
            cursor.observe(monitor)
        }
        step(.call, 0)
        for _ in 0..<50 {
            step(.libc, 0)
            XCTAssertEqual(sets.labels(monitor, cursor: &cursor), [0, 2])
            step(.call, 1)
        }
        step(.libc, 0)
        for depth in stride(from: 50, to: 0, by: -1) {
            step(.libc, 2)
            // f.3 in a frame of site 1 returns to f.2 (write): {write}.
            XCTAssertEqual(sets.labels(monitor, cursor: &cursor), [2], "depth \(depth)")
            XCTAssertEqual(sets.labels(monitor), [2])
            step(.ret, 1)
        }
        step(.libc, 2)
        // Outermost f at f.3 returns to main.1: nothing.
        XCTAssertEqual(sets.labels(monitor, cursor: &cursor), [])
    }

    func testDeepNullableChainWalksToTheRoot() {
        // Symbols read(0), write(1).  main: f() /*0*/; write();   f: read(); if (...) f() /*1*/;
        // Every frame of f can return after its read, so each position walks the whole
        // stack down to main: {read (enter f again), write (main after unwinding)}.
        let policy = Policy(
            symbols: ["read", "write"],
            functions: [
                PolicyFunction(
                    name: "main",
                    automaton: ModelFixtures.automaton(3, finals: [2], [(0, .call(0), 1), (1, .libc(1), 2)])),
                PolicyFunction(
                    name: "f",
                    automaton: ModelFixtures.automaton(3, finals: [1, 2], [(0, .libc(0), 1), (1, .call(1), 2)]))
            ],
            sites: [CallSite(caller: 0, callees: [1]), CallSite(caller: 1, callees: [1])],
            entry: 0)
        let sets = NextLibcSets(policy: policy)
        var monitor = ThreadMonitor(tables: MonitorTables(policy: policy))
        var cursor = NextLibcCursor(monitor)
        func step(_ kind: MarkerKind, _ id: Int) {
            XCTAssertNil(monitor.step(Marker(kind, id)))
            cursor.observe(monitor)
        }
        step(.call, 0)
        for _ in 0..<300 {
            step(.libc, 0)
            XCTAssertEqual(sets.labels(monitor, cursor: &cursor), [0, 1])
            step(.call, 1)
        }
        XCTAssertEqual(sets.labels(monitor), [0])
        step(.libc, 0)
        XCTAssertEqual(sets.labels(monitor, cursor: &cursor), [0, 1])
        // Unwind half: at f.2, nothing more in f, write after unwinding the rest.
        for _ in 0..<150 { step(.ret, 1) }
        XCTAssertEqual(sets.labels(monitor, cursor: &cursor), [1])
        XCTAssertEqual(sets.labels(monitor), [1])
    }

    // MARK: Randomized: against a search over the monitor's own moves

    /// The libc ids the monitor accepts after some sequence of call, tail and return
    /// markers from `monitor`, with stacks at most `extraDepth` deeper, and whether the
    /// search was complete (it gives up after `budget` configurations).
    func searchedNext(_ monitor: ThreadMonitor, extraDepth: Int, budget: Int = 5000) -> (labels: [Int], complete: Bool)
    {
        let policy = monitor.tables.policy
        var result = Set<Int>()
        var seen: Set<[ThreadMonitor.Frame]> = [monitor.stack]
        var queue = [monitor]
        let limit = monitor.stack.count + extraDepth
        while let current = queue.popLast() {
            for l in policy.symbols.indices {
                var copy = current
                if copy.step(Marker(.libc, l)) == nil { result.insert(l) }
            }
            var moves = policy.sites.indices.flatMap { [Marker(.call, $0), Marker(.tail, $0)] }
            if case .site(let c) = current.top.kind { moves.append(Marker(.ret, c)) }
            for move in moves {
                var copy = current
                if copy.step(move) == nil, copy.stack.count <= limit, seen.insert(copy.stack).inserted {
                    queue.append(copy)
                }
            }
            if seen.count > budget { return (result.sorted(), false) }
        }
        return (result.sorted(), true)
    }

    func testRandomRunsMatchSearchAndStayBelowNFA() {
        var rng = SplitMix64(seed: 0x5eed_abf)
        var positions = 0
        var incomplete = 0
        for _ in 0..<400 {
            let policy = ModelFixtures.randomPolicy(&rng)
            let map = FlattenedMarkers(policy: policy)
            let dyckSets = NextLibcSets(policy: policy)
            let nfaSets = NextLibcSets(policy: map.flattened)
            var dyck = ThreadMonitor(tables: MonitorTables(policy: policy))
            var nfa = ThreadMonitor(tables: MonitorTables(policy: map.flattened))
            var cursor = NextLibcCursor(dyck)
            for _ in 0..<25 {
                var candidates = policy.symbols.indices.map { Marker(.libc, $0) }
                candidates += policy.sites.indices.flatMap { [Marker(.call, $0), Marker(.tail, $0)] }
                switch dyck.top.kind {
                case .site(let c): candidates.append(Marker(.ret, c))
                case .callback(let f): candidates.append(Marker(.callbackExit, f))
                case .root: break
                }
                candidates += policy.callbacks.map { Marker(.callbackEnter, $0) }
                let allowed = candidates.filter { marker in
                    var copy = dyck
                    return copy.step(marker) == nil
                }
                guard let marker = allowed.randomElement(using: &rng) else { break }
                XCTAssertNil(dyck.step(marker))
                XCTAssertNil(nfa.step(marker, flattened: map), "the flattened model accepts every dyck run")
                cursor.observe(dyck)
                guard marker.kind == MarkerKind.libc.rawValue else { continue }
                positions += 1
                let memoized = dyckSets.labels(dyck, cursor: &cursor)
                XCTAssertEqual(memoized, dyckSets.labels(dyck))
                let searched = searchedNext(dyck, extraDepth: 4)
                if searched.complete {
                    XCTAssertEqual(memoized, searched.labels, "\(policy) at \(dyck.stack)")
                } else {
                    incomplete += 1
                    XCTAssertTrue(Set(searched.labels).isSubset(of: memoized), "\(policy) at \(dyck.stack)")
                }
                let flat = nfaSets.labels(nfa)
                XCTAssertTrue(Set(memoized).isSubset(of: flat), "dyck \(memoized) ⊄ nfa \(flat)")
                // nfa: exactly the labels the flattened monitor accepts next.
                XCTAssertEqual(
                    flat,
                    policy.symbols.indices.filter { l in
                        var copy = nfa
                        return copy.step(Marker(.libc, l)) == nil
                    })
            }
        }
        XCTAssertGreaterThan(positions, 2000, "positions: \(positions)")
        XCTAssertLessThan(incomplete, positions / 20, "searches cut short: \(incomplete) of \(positions)")
    }
}
