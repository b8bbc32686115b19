import DyckModel
import Foundation
import SbxTrace
import TestSupport
import XCTest

/// The run-based ABF over traces (`TraceBranchingFactor`, `sbx stats --trace`;
/// `specs/checking.md`, "Run-based ABF").
final class TraceBranchingFactorTests: XCTestCase {
    static func automaton(_ count: Int, finals: Set<Int>, _ edges: [(Int, Label, Int)]) -> Automaton {
        Automaton(
            stateCount: count, initial: 0, finals: finals, edges: edges.map { Edge(from: $0.0, label: $0.1, to: $0.2) })
    }

    /// Symbols open(0), read(1), write(2).
    /// main: h() /*site 0*/; read(); h() /*site 1*/; write();   h: open();
    /// worker (callback, a thread's start routine): write();
    static let policy = Policy(
        module: "t.c",
        symbols: ["open", "read", "write"],
        functions: [
            PolicyFunction(
                name: "main",
                automaton: automaton(
                    5, finals: [4],
                    [
                        (0, .call(0), 1), (1, .libc(1), 2), (2, .call(1), 3), (3, .libc(2), 4)
                    ])),
            PolicyFunction(name: "h", automaton: automaton(2, finals: [1], [(0, .libc(0), 1)])),
            PolicyFunction(name: "worker", automaton: automaton(2, finals: [1], [(0, .libc(2), 1)]))
        ],
        sites: [CallSite(caller: 0, callees: [1]), CallSite(caller: 0, callees: [1])],
        entry: 0, callbacks: [2])

    static func m(_ pid: Int32, _ tid: Int32, _ kind: TraceMarkerKind, _ id: UInt64) -> TraceEvent {
        .marker(pid: pid, tid: tid, kind: kind, id: id)
    }

    /// The run open, read, open, write.
    static let simple = Trace(events: [
        .start(pid: 1, path: "/p"),
        m(1, 1, .known(.call), 0), m(1, 1, .known(.libc), 0), m(1, 1, .known(.ret), 0), m(1, 1, .known(.libc), 1),
        m(1, 1, .known(.call), 1), m(1, 1, .known(.libc), 0), m(1, 1, .known(.ret), 1), m(1, 1, .known(.libc), 2),
        .exit(pid: 1, tid: 1, status: .exited(0))
    ])

    func testSharedHelperRun() throws {
        let measured = try TraceBranchingFactor(policy: Self.policy).measure(Self.simple, keepSets: true)
        XCTAssertNil(measured.refusal)
        // Positions: the start, then after each libc marker.
        XCTAssertEqual(measured.sets.map(\.position.eventIndex), [0, 2, 4, 6, 8])
        // dyck: {open}; after open in h called from site 0 h can only return, and main
        // then reads: {read}; {open}; after open from site 1: {write}; ∅.
        XCTAssertEqual(measured.sets.map(\.dyck), [[0], [1], [0], [2], []])
        // nfa (one copy of h, whose return goes to either site): {read, write} after open.
        XCTAssertEqual(measured.sets.map(\.nfa), [[0], [1, 2], [0], [1, 2], []])
        XCTAssertEqual(measured.positions, 5)
        XCTAssertEqual(measured.dyckSum, 4)
        XCTAssertEqual(measured.nfaSum, 6)
        XCTAssertEqual(measured.dyckAverage, 0.8, accuracy: 1e-12)
        XCTAssertEqual(measured.nfaAverage, 1.2, accuracy: 1e-12)
        XCTAssertEqual(measured.dyckAboveNFA, 0)
        // Every position but the last is followed by a libc call of the thread.
        XCTAssertEqual(measured.followed, 4)
        XCTAssertEqual(measured.floorAverage, 0.8, accuracy: 1e-12)
    }

    func testPlaces() throws {
        let measured = try TraceBranchingFactor(policy: Self.policy).measure(Self.simple, byPlace: true)
        typealias P = TraceBranchingFactor.Place
        typealias S = TraceBranchingFactor.PlaceSums
        // h after open, from each site: {read} then {write} in dyck, {read, write} twice in nfa.
        XCTAssertEqual(
            measured.places,
            [
                P(function: 0, libc: nil): S(positions: 1, dyckSum: 1, nfaSum: 1),
                P(function: 1, libc: 0): S(positions: 2, dyckSum: 2, nfaSum: 4),
                P(function: 0, libc: 1): S(positions: 1, dyckSum: 1, nfaSum: 1),
                P(function: 0, libc: 2): S(positions: 1, dyckSum: 0, nfaSum: 0)
            ])
        var twice = measured
        twice.add(measured)
        XCTAssertEqual(twice.places[P(function: 1, libc: 0)], S(positions: 4, dyckSum: 4, nfaSum: 8))
        XCTAssertTrue(try TraceBranchingFactor(policy: Self.policy).measure(Self.simple).places.isEmpty)
    }

    static let processes = Trace(events: [
        .start(pid: 1, path: "/p"),  // 0: position, {open}
        m(1, 1, .known(.call), 0),
        m(1, 1, .known(.libc), 0),  // 2: {read} / {read, write}
        .thread(pid: 1, parentTID: 1, newTID: 2),  // nothing yet: not a position
        m(1, 2, .known(.callbackEnter), 2),  // 4: the thread's start: {write}
        m(1, 2, .known(.libc), 2),  // 5: ∅ (returning resumes libc)
        m(1, 2, .known(.callbackExit), 2),
        .exit(pid: 1, tid: 2, status: .exited(0)),
        .fork(parentPID: 1, parentTID: 1, childPID: 3),  // 8: the parent's: {read} / {read, write}
        m(3, 3, .known(.ret), 0),
        m(3, 3, .known(.libc), 1),  // 10: {open}
        .exec(pid: 3, tid: 3, path: "/p"),  // 11: the program again: {open}
        m(3, 3, .known(.call), 0),
        m(3, 3, .known(.libc), 0),  // 13: {read} / {read, write}
        .fork(parentPID: 3, parentTID: 3, childPID: 4),  // 14: {read} / {read, write}
        .exec(pid: 4, tid: 4, path: "/bin/true"),  // another program: no longer measured
        m(4, 4, .known(.libc), 2),
        .exit(pid: 4, tid: 4, status: .exited(0)),
        .exit(pid: 3, tid: 3, status: .exited(0)),
        m(1, 1, .known(.ret), 0),
        m(1, 1, .known(.libc), 1),  // 20: {open}
        .exit(pid: 1, tid: 1, status: .exited(0))
    ])

    func testThreadsForksAndExecs() throws {
        XCTAssertNoThrow(try Self.processes.validate())
        let measured = try TraceBranchingFactor(policy: Self.policy).measure(Self.processes, keepSets: true)
        XCTAssertNil(measured.refusal)
        XCTAssertEqual(
            measured.sets.map(\.position),
            [
                .init(eventIndex: 0, tid: 1), .init(eventIndex: 2, tid: 1), .init(eventIndex: 4, tid: 2),
                .init(eventIndex: 5, tid: 2), .init(eventIndex: 8, tid: 3), .init(eventIndex: 10, tid: 3),
                .init(eventIndex: 11, tid: 3), .init(eventIndex: 13, tid: 3), .init(eventIndex: 14, tid: 4),
                .init(eventIndex: 20, tid: 1)
            ])
        XCTAssertEqual(measured.sets.map(\.dyck), [[0], [1], [2], [], [1], [0], [0], [1], [1], [0]])
        XCTAssertEqual(measured.sets.map(\.nfa), [[0], [1, 2], [2], [], [1, 2], [0], [0], [1, 2], [1, 2], [0]])
        XCTAssertEqual(measured.positions, 10)
        XCTAssertEqual(measured.dyckSum, 9)
        XCTAssertEqual(measured.nfaSum, 13)
        XCTAssertEqual(measured.unchecked, ["pid 4 exec'd /bin/true"])
        // Followed by a libc call of the same thread: 0, 2 (by 20), 4, 8, 11. Not: 5 and
        // 20 (last of their threads), 10 (the next position of tid 3 is the exec),
        // 13 (tid 3 makes none after), 14 (tid 4's calls are another program's).
        XCTAssertEqual(measured.followed, 5)
        // Counting without the sets gives the same figures.
        let counted = try TraceBranchingFactor(policy: Self.policy).measure(Self.processes)
        XCTAssertEqual([counted.positions, counted.dyckSum, counted.nfaSum], [10, 9, 13])
        XCTAssertTrue(counted.sets.isEmpty)
    }

    /// write after the first open: h was called from site 0, whose caller reads next.
    static let refused = Trace(events: [
        .start(pid: 1, path: "/p"),
        m(1, 1, .known(.call), 0), m(1, 1, .known(.libc), 0), m(1, 1, .known(.ret), 0), m(1, 1, .known(.libc), 2),
        .exit(pid: 1, tid: 1, status: .exited(0))
    ])

    func testRefusalIsReported() throws {
        let measured = try TraceBranchingFactor(policy: Self.policy).measure(Self.refused)
        let refusal = try XCTUnwrap(measured.refusal)
        XCTAssertEqual(refusal.mode, .dyck)
        XCTAssertEqual(refusal.refusal.eventIndex, 4)
        XCTAssertEqual(refusal.refusal.event, "libc write")
        XCTAssertEqual(refusal.refusal.reason, .notAllowedHere)
        XCTAssertEqual(refusal.refusal.expected, ["libc read"])
    }

    func testNeedsTheDyckPolicy() {
        XCTAssertThrowsError(try TraceBranchingFactor(policy: Self.policy.flattened())) { error in
            XCTAssertTrue(error is TraceChecker.NotADyckPolicy)
        }
    }

    func testStatsCommand() throws {
        let sbx = try Run.sbx()
        let dir = try Run.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let policy = dir.appendingPathComponent("p.dyck").path
        try Self.policy.write(to: policy)
        let flat = dir.appendingPathComponent("p.nfa").path
        try Self.policy.flattened().write(to: flat)
        var paths: [String: String] = [:]
        for (name, trace) in [("simple", Self.simple), ("processes", Self.processes), ("refused", Self.refused)] {
            paths[name] = dir.appendingPathComponent("\(name).trace").path
            try trace.write(to: paths[name]!)
        }

        let plain = try Run.process(sbx, ["stats", policy])
        XCTAssertEqual(plain.status, 0, plain.stderrText)
        let plainText = String(decoding: plain.stdout, as: UTF8.self)
        XCTAssertFalse(plainText.contains("run-abf"))

        // 15 positions: dyck 4 + 9 = 13, nfa 6 + 13 = 19, followed 4 + 5 = 9.
        let both = try Run.process(sbx, ["stats", policy, "--trace", paths["simple"]!, "--trace", paths["processes"]!])
        XCTAssertEqual(both.status, 0, both.stderrText)
        let text = String(decoding: both.stdout, as: UTF8.self)
        XCTAssertTrue(text.hasPrefix(plainText), "the static table comes first, unchanged:\n\(text)")
        XCTAssertEqual(
            text.dropFirst(plainText.count), "run-abf: traces=2 positions=15 dyck=0.87 nfa=1.27 floor=0.60\n")
        XCTAssertTrue(both.stderrText.contains("not measured after exec: pid 4 exec'd /bin/true"), both.stderrText)

        // Places of the simple run (testPlaces), largest dyck sum first, ties by function then libc.
        let placed = try Run.process(sbx, ["stats", policy, "--trace", paths["simple"]!, "--places", "3"])
        XCTAssertEqual(placed.status, 0, placed.stderrText)
        let placedText = String(decoding: placed.stdout, as: UTF8.self)
        XCTAssertTrue(
            placedText.hasSuffix(
                """
                run-abf: traces=1 positions=5 dyck=0.80 nfa=1.20 floor=0.80
                run-abf places: 3 of 4, by share of the dyck sum
                 positions   share   dyck    nfa  place
                         2   50.0%   1.00   2.00  h after open
                         1   25.0%   1.00   1.00  main thread start
                         1   25.0%   1.00   1.00  main after read

                """), placedText)
        let noTrace = try Run.process(sbx, ["stats", policy, "--places", "3"])
        XCTAssertEqual(noTrace.status, 2)
        XCTAssertTrue(noTrace.stderrText.contains("--places needs --trace"), noTrace.stderrText)

        let refusal = try Run.process(sbx, ["stats", policy, "--trace", paths["simple"]!, "--trace", paths["refused"]!])
        XCTAssertEqual(refusal.status, 1)
        let refusalText = String(decoding: refusal.stdout, as: UTF8.self)
        XCTAssertTrue(refusalText.contains("refused: libc write (dyck mode)"), refusalText)
        XCTAssertTrue(refusalText.contains("event 5 of \(paths["refused"]!)"), refusalText)
        XCTAssertTrue(refusalText.contains("allowed here: libc read"), refusalText)
        XCTAssertFalse(refusalText.contains("run-abf"))
        XCTAssertTrue(refusal.stderrText.contains(paths["refused"]!), refusal.stderrText)

        let nfa = try Run.process(sbx, ["stats", flat, "--trace", paths["simple"]!])
        XCTAssertEqual(nfa.status, 2)
        XCTAssertTrue(nfa.stderrText.contains("kind dyck"), nfa.stderrText)
        XCTAssertTrue(nfa.stdout.isEmpty, "nothing printed before the error")

        let missing = try Run.process(sbx, ["stats", policy, "--trace", dir.appendingPathComponent("none.trace").path])
        XCTAssertEqual(missing.status, 2)
    }

    // MARK: Generated runs

    /// TestSupport's generator (it was a copy of it).
    typealias Generator = SplitMix64

    /// A policy of `functionCount` functions with shared helpers, recursion and a
    /// callback, over `symbolCount` symbols.
    static func generatedPolicy(functionCount: Int, symbolCount: Int, _ rng: inout Generator) -> Policy {
        var functions: [PolicyFunction] = []
        var sites: [CallSite] = []
        for f in 0..<functionCount {
            let states = Int.random(in: 2...6, using: &rng)
            var edges: [(Int, Label, Int)] = []
            for from in 0..<states {
                for _ in 0..<Int.random(in: 1...2, using: &rng) {
                    let to = Int.random(in: 0..<states, using: &rng)
                    if Int.random(in: 0..<3, using: &rng) == 0 {
                        let callees = Set(
                            (0..<Int.random(in: 1...2, using: &rng)).map { _ in
                                Int.random(in: 1..<functionCount, using: &rng)
                            })
                        sites.append(CallSite(caller: f, callees: callees.sorted(), indirect: callees.count > 1))
                        edges.append((from, .call(sites.count - 1), to))
                    } else {
                        edges.append((from, .libc(Int.random(in: 0..<symbolCount, using: &rng)), to))
                    }
                }
            }
            var finals: Set<Int> = [states - 1]
            if Bool.random(using: &rng) { finals.insert(Int.random(in: 0..<states, using: &rng)) }
            functions.append(PolicyFunction(name: "f\(f)", automaton: automaton(states, finals: finals, edges)))
        }
        return Policy(
            symbols: (0..<symbolCount).map { "s\($0)" }, functions: functions, sites: sites, entry: 0,
            callbacks: [functionCount - 1])
    }

    /// A run of the policy: random markers its monitor accepts, on the main thread and
    /// on a second thread (started at the callback), with a fork.
    static func generatedTrace(_ policy: Policy, markers: Int, _ rng: inout Generator) -> Trace {
        let tables = MonitorTables(policy: policy)
        var events: [TraceEvent] = [.start(pid: 1, path: "/p")]
        var monitors: [Int32: ThreadMonitor] = [1: ThreadMonitor(tables: tables)]
        var pids: [Int32: Int32] = [1: 1]
        var live: [Int32] = [1]
        for n in 0..<markers {
            if n == markers / 3 {
                events.append(.thread(pid: 1, parentTID: 1, newTID: 2))
                var thread = ThreadMonitor.newThread(tables: tables)
                _ = thread.step(Marker(.callbackEnter, policy.callbacks[0]))
                events.append(m(1, 2, .known(.callbackEnter), UInt64(policy.callbacks[0])))
                monitors[2] = thread
                pids[2] = 1
                live.append(2)
            }
            if n == markers / 2, let parent = monitors[1] {
                events.append(.fork(parentPID: 1, parentTID: 1, childPID: 3))
                monitors[3] = parent
                pids[3] = 3
                live.append(3)
            }
            guard let tid = live.randomElement(using: &rng), var monitor = monitors[tid] else { break }
            var candidates = policy.symbols.indices.map { Marker(.libc, $0) }
            candidates += policy.sites.indices.map { Marker(.call, $0) }
            if case .site(let c) = monitor.top.kind {
                candidates += [Marker(.ret, c), Marker(.ret, c), Marker(.ret, c)]
            }
            let allowed = candidates.filter { marker in
                var copy = monitor
                return copy.step(marker) == nil
            }
            guard let marker = allowed.randomElement(using: &rng) else {
                live.removeAll { $0 == tid }
                continue
            }
            _ = monitor.step(marker)
            monitors[tid] = monitor
            events.append(m(pids[tid]!, tid, TraceMarkerKind(rawValue: UInt64(marker.kind)), UInt64(marker.id)))
        }
        return Trace(events: events)
    }

    func testGeneratedRunsDyckBelowNFAAtEveryPosition() throws {
        var rng = Generator(seed: 42)
        var positions = 0
        var strictlyBelow = 0
        for _ in 0..<6 {
            let policy = Self.generatedPolicy(functionCount: 40, symbolCount: 30, &rng)
            let trace = Self.generatedTrace(policy, markers: 3000, &rng)
            let measure = try TraceBranchingFactor(policy: policy)
            let measured = measure.measure(trace, keepSets: true)
            XCTAssertNil(measured.refusal.map { "\($0.mode): \($0.refusal.event) \($0.refusal.reason)" })
            XCTAssertEqual(measured.sets.count, measured.positions)
            for sets in measured.sets {
                XCTAssertTrue(
                    Set(sets.dyck).isSubset(of: sets.nfa), "at \(sets.position): dyck \(sets.dyck) ⊄ nfa \(sets.nfa)")
                if sets.dyck.count < sets.nfa.count { strictlyBelow += 1 }
            }
            XCTAssertEqual(measured.dyckAboveNFA, 0)
            let counted = measure.measure(trace)
            XCTAssertEqual(counted.positions, measured.positions)
            XCTAssertEqual(counted.dyckSum, measured.sets.reduce(0) { $0 + $1.dyck.count })
            XCTAssertEqual(counted.nfaSum, measured.sets.reduce(0) { $0 + $1.nfa.count })
            positions += measured.positions
        }
        XCTAssertGreaterThan(positions, 1000)
        XCTAssertGreaterThan(strictlyBelow, 0, "the dyck model should be tighter somewhere")
    }

    func testLongTraceIsMeasuredQuickly() throws {
        // 200k markers of a loop: main: for (;;) { h(); read(); h(); write(); }
        var policy = Self.policy
        policy.functions[0].automaton = Self.automaton(
            4, finals: [0],
            [
                (0, .call(0), 1), (1, .libc(1), 2), (2, .call(1), 3), (3, .libc(2), 0)
            ])
        var events: [TraceEvent] = [.start(pid: 1, path: "/p")]
        for _ in 0..<25_000 {
            events += [
                Self.m(1, 1, .known(.call), 0), Self.m(1, 1, .known(.libc), 0), Self.m(1, 1, .known(.ret), 0),
                Self.m(1, 1, .known(.libc), 1),
                Self.m(1, 1, .known(.call), 1), Self.m(1, 1, .known(.libc), 0), Self.m(1, 1, .known(.ret), 1),
                Self.m(1, 1, .known(.libc), 2)
            ]
        }
        events.append(.exit(pid: 1, tid: 1, status: .exited(0)))
        let start = Date()
        let measured = try TraceBranchingFactor(policy: policy).measure(Trace(events: events))
        let seconds = Date().timeIntervalSince(start)
        XCTAssertNil(measured.refusal)
        XCTAssertEqual(measured.positions, 100_001)
        // Per iteration: dyck {read} {open} {write} {open}, nfa {read, write} {open} ×2.
        XCTAssertEqual(measured.dyckSum, 100_001)
        XCTAssertEqual(measured.nfaSum, 150_001)
        // Generous for a debug build on a loaded machine; catches quadratic behaviour.
        XCTAssertLessThan(seconds, 20, "\(seconds) s")
    }
}
