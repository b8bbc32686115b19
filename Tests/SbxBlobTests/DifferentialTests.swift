import DyckModel
import Foundation
import XCTest
@testable import SbxBlob

/// The kernel's C monitor, stepping the blob, against the Swift reference
/// `ThreadMonitor` on the same policy: they must agree on every event of every
/// stream (allowed or refused, and why), and their states must correspond (same
/// depth and frame kinds, and each kernel frame's macro-state is the Swift frame's
/// frontier). In nfa mode the reference is `sbx check --mode nfa`'s: `ThreadMonitor`
/// on the flattened policy, fed the original policy's markers through
/// `FlattenedMarkers` (the streams use the original ids in both modes: one
/// instrumented binary).
///
/// Most policies carry a random system-call binding, and the streams interleave
/// system calls with the markers, on several threads: new threads (in their
/// creator's window) and forks (copies). Both sides must agree on the window after
/// every event and on every system call (allowed, outside the window, executable
/// mapping), as `sbx check --trace` and the kernel must.
final class DifferentialTests: XCTestCase {
    struct Pair {
        var monitor: ThreadMonitor
        var kernel: KernelMonitor
    }

    var eventsCompared = 0
    /// Log mode's resynchronisation tried on each refused marker.
    var resyncOutcomes: [String: Int] = [:]
    var outcomes: [String: Int] = [:]
    var maxDepth = 0
    /// The most frames a stream's store saved by folding.
    var entriesSaved = 0

    func refusal(_ r: ThreadMonitor.Refusal) -> KernelRefusal {
        switch r {
        case .unknownKind: return .unknownKind
        case .idOutOfRange: return .idOutOfRange
        case .notAllowedHere: return .notAllowedHere
        case .returnToWrongSite: return .returnToWrongSite
        case .cannotReturnYet: return .cannotReturnYet
        case .notACallback: return .notACallback
        case .stackOverflow: return .stackOverflow
        case .noSetjmpRecord: return .noSetjmpRecord
        case .storeFull: return .storeFull
        case .systemCallOutsideWindow: return .systemCallOutsideWindow
        case .executableMapping: return .executableMapping
        case .bufferedEvent: return .bufferedEvent
        // Module rules, not the core's: never produced by systemCall(number:protection:).
        case .compatSystemCall, .ioUring: return .badState
        }
    }

    func window(_ w: SystemCallWindow) -> KernelWindow {
        switch w {
        case .start: return .start
        case .none: return .none
        case .libc(let l): return .libc(l)
        }
    }

    var systemCallsCompared = 0
    var systemCallOutcomes: [String: Int] = [:]
    var windowsSeen: [String: Int] = [:]

    /// Both must be in the same window.
    func assertSameWindow(_ pair: Pair, _ context: @autoclosure () -> String) -> Bool {
        let w = pair.monitor.window
        windowsSeen["\(w)".components(separatedBy: "(")[0], default: 0] += 1
        guard window(w) == pair.kernel.window else {
            XCTFail("window: swift \(w), kernel \(pair.kernel.window): \(context())")
            return false
        }
        return true
    }

    /// One system call on both; false (after recording a failure) if they disagree.
    func systemCall(_ pair: Pair, _ number: UInt64, _ protection: UInt64, _ context: @autoclosure () -> String) -> Bool
    {
        let expected = pair.monitor.systemCall(number: number, protection: protection)
        let actual = pair.kernel.checkSystemCall(number: number, protection: protection)
        systemCallsCompared += 1
        systemCallOutcomes[expected.map { "\($0)" } ?? "allowed", default: 0] += 1
        guard expected.map(refusal) == actual else {
            XCTFail(
                "system call \(number) prot \(protection) in \(pair.monitor.window): swift \(String(describing: expected)), "
                    + "kernel \(String(describing: actual)): \(context())")
            return false
        }
        return true
    }

    func frameKind(_ k: ThreadMonitor.FrameKind, _ flat: FlattenedMarkers?) -> KernelFrameKind {
        switch flat?.originalKind(k) ?? k {
        case .root: return .root
        case .site(let s): return .site(s)
        case .callback(let f): return .callback(f)
        }
    }

    /// Checks that the two monitors are in corresponding states.
    func assertSameState(_ pair: Pair, _ machine: MacroMachine, _ context: @autoclosure () -> String) -> Bool {
        let flat = machine.flatMarkers
        let stack = pair.kernel.stack
        guard stack.count == pair.monitor.stack.count, pair.kernel.depth == pair.monitor.depth else {
            XCTFail("depth \(stack.count) vs \(pair.monitor.stack.count): \(context())")
            return false
        }
        // The same store use: entries (runs of folded frames) and setjmp records.
        guard pair.kernel.entryCount == pair.monitor.entryCount,
            pair.kernel.setjmpRecordCount == pair.monitor.setjmpRecordCount
        else {
            XCTFail(
                "entries \(pair.kernel.entryCount) vs \(pair.monitor.entryCount), records "
                    + "\(pair.kernel.setjmpRecordCount) vs \(pair.monitor.setjmpRecordCount): \(context())")
            return false
        }
        entriesSaved = max(entriesSaved, pair.kernel.depth - pair.kernel.entryCount)
        for (k, s) in zip(stack, pair.monitor.stack) {
            let frontier = s.frontier.map { MacroMachine.Pair(function: $0.function, state: $0.state) }
            let same: Bool
            if machine.shared != nil {
                // nfa mode of a Dyck policy: the machine's frontiers are positions of the
                // shared flattening, not states of the reduced `flattened()`; the frame must
                // allow the same libc symbols next and be final exactly when the reference is.
                same = nfaView(machine, k.macroState) == referenceView(pair.monitor.tables.policy, s.frontier)
            } else {
                same = machine.frontiers[k.macroState] == frontier
            }
            guard k.kind == frameKind(s.kind, flat), same else {
                XCTFail("frame \(k) vs \(s): \(context())")
                return false
            }
        }
        return true
    }

    struct FrameView: Equatable {
        var libc: [Int]
        var final: Bool
    }

    func nfaView(_ machine: MacroMachine, _ m: Int) -> FrameView {
        FrameView(
            libc: machine.transitions[m].compactMap { if case .libc(let l) = $0.key { l } else { nil } },
            final: machine.finals[m])
    }

    func referenceView(_ model: Policy, _ frontier: [ThreadMonitor.State]) -> FrameView {
        var libc = Set<Int>()
        var final = false
        for s in frontier {
            let automaton = model.functions[s.function].automaton
            if automaton.finals.contains(s.state) { final = true }
            for edge in automaton.edges where edge.from == s.state {
                if case .libc(let l) = edge.label { libc.insert(l) }
            }
        }
        return FrameView(libc: libc.sorted(), final: final)
    }

    /// Feeds one marker to both; false (after recording a failure) if they disagree.
    func step(_ pair: inout Pair, _ marker: Marker, _ machine: MacroMachine, _ context: @autoclosure () -> String)
        -> Bool
    {
        let expected = machine.flatMarkers.map { pair.monitor.step(marker, flattened: $0) } ?? pair.monitor.step(marker)
        let actual = pair.kernel.step(marker)
        eventsCompared += 1
        outcomes[expected.map { "\($0)".components(separatedBy: "(")[0] } ?? "allowed", default: 0] += 1
        maxDepth = max(maxDepth, pair.kernel.depth)
        switch (expected, actual) {
        case (nil, nil):
            break
        case let (e?, a?):
            guard refusal(e) == a.refusal else {
                XCTFail("\(marker): swift \(e), kernel \(a): \(context())")
                return false
            }
            if case .returnToWrongSite(let top) = e, frameKind(top, machine.flatMarkers) != a.top {
                XCTFail("\(marker): swift expected \(top), kernel \(a.top): \(context())")
                return false
            }
            XCTAssertEqual(a.depth, pair.monitor.depth)
            // Log mode: the module tries to resynchronise on the refused marker (the
            // thread is lost from here); both sides must agree whether it does and
            // where it resumes (checked below with the state). Libc ids are the same
            // in the flattening, so the reference reads the marker as it is.
            // A frame whose macro-state has no any macro-state (a group the writer left
            // out, specs/kernel-abi.md) never resumes there: the thread stays lost.
            let canResume = machine.resync[a.macroState] != nil
            let resumed = canResume && pair.monitor.resynchronise(marker)
            guard resumed == pair.kernel.resync(marker) else {
                XCTFail("\(marker): resync swift \(resumed), kernel \(!resumed): \(context())")
                return false
            }
            resyncOutcomes[resumed ? "resumed" : marker.kind == 1 ? "libc, not resumed" : "other", default: 0] += 1
        default:
            XCTFail(
                "\(marker): swift \(String(describing: expected)), kernel \(String(describing: actual)): \(context())")
            return false
        }
        return assertSameState(pair, machine, context()) && assertSameWindow(pair, context())
    }

    /// The next marker of a stream: mostly one the reference monitor allows (so that
    /// runs go deep), otherwise something random: unknown kinds, out-of-range ids,
    /// wrong returns, setjmp records. Setjmp numbers stay within 32 bits (see
    /// testSetjmpNumbersAre32Bit). `policy` is the instrumented one, whose ids the
    /// markers carry; `flat` reads them for a monitor of its flattening (nfa mode).
    func nextMarker(
        _ monitor: ThreadMonitor, _ policy: Policy, _ flat: FlattenedMarkers?, _ rng: inout SplitMix64,
        setjmpHeavy: Bool = false
    ) -> Marker {
        // Setjmp-heavy streams fill the store with records.
        if setjmpHeavy, rng.int(0...1) == 0 {
            return Marker(kind: rng.int(0...3) == 0 ? 8 : 7, id: rng.int(0...24))
        }
        var allowed: [Marker] = []
        let (libc, sites, mayReturn) = monitor.expected()
        allowed += libc.map { Marker(.libc, $0) }
        for c in sites { allowed += [Marker(.call, c), Marker(.tail, c)] }
        // nfa mode: any site marker passes, in any order.
        if flat != nil, !policy.sites.isEmpty {
            allowed += [MarkerKind.call, .ret, .tail].map { Marker($0, rng.int(0...(policy.sites.count - 1))) }
        }
        switch flat?.originalKind(monitor.top.kind) ?? monitor.top.kind {
        case .site(let c) where mayReturn: allowed.append(Marker(.ret, c))
        case .callback(let f) where mayReturn: allowed.append(Marker(.callbackExit, f))
        default: break
        }
        if rng.int(0...9) < 7, !allowed.isEmpty { return rng.pick(allowed) }
        let counts = [
            policy.symbols.count, policy.sites.count, policy.sites.count, policy.functions.count,
            policy.functions.count, policy.sites.count, 3, 3
        ]
        switch rng.int(0...9) {
        case 0:
            return Marker(kind: rng.pick([-1, 0, 9, 10, 255, Int(UInt32.max), 1 << 32 | 1]), id: rng.int(0...2))
        case 1:
            let kind = rng.int(1...6)
            return Marker(
                kind: kind,
                id: rng.pick([
                    -1, counts[kind - 1], counts[kind - 1] + 1, Int(UInt32.max),
                    1 << 32, Int.max, Int.min
                ]))
        case 2, 3:
            // Few numbers reuse records; many fill the store.
            return Marker(kind: rng.int(7...8), id: rng.int(0...(rng.int(0...1) == 0 ? 2 : 24)))
        case 4:
            return Marker(kind: rng.pick([7, 8]), id: rng.pick([Int(UInt32.max), -1, Int.min]))
        default:
            let kind = rng.int(1...6)
            return Marker(kind: kind, id: rng.int(0...max(counts[kind - 1], 1)))
        }
    }

    /// Runs `streams` random streams of `length` events on `policy` in both modes:
    /// markers, system calls, new threads and forks, on up to four threads at once.
    func differential(_ policy: Policy, _ rng: inout SplitMix64, streams: Int, length: Int, name: String) throws {
        for mode in BlobMode.allCases {
            let machine = try MacroMachine(policy: policy, mode: mode)
            let stackLimit = rng.pick([1, 2, 3, 5, 8, 1024])
            let maxDepth = rng.pick([1, 3, 6, 12, 1 << 20])
            let kernel = try KernelPolicy(blob: encodeBlob(machine, stackLimit: stackLimit, maxDepth: maxDepth))
            let tables = MonitorTables(policy: machine.policy)
            XCTAssertEqual(machine.flatMarkers?.flattened, mode == .nfa ? policy.flattened() : nil)
            XCTAssertEqual(kernel.siteCount, policy.sites.count)
            XCTAssertEqual(kernel.functionCount, policy.functions.count)
            XCTAssertEqual(kernel.callbackCount, policy.callbacks.count)
            for s in 0..<streams {
                let newThread = rng.int(0...7) == 0
                let setjmpHeavy = rng.int(0...3) == 0
                // Streams with few system calls go deep; others interleave many.
                let callShare = rng.pick([0, 1, 3, 5])
                var threads = [
                    Pair(
                        monitor: newThread
                            ? .newThread(tables: tables, stackLimit: stackLimit, maxDepth: maxDepth)
                            : ThreadMonitor(tables: tables, stackLimit: stackLimit, maxDepth: maxDepth),
                        kernel: KernelMonitor(policy: kernel, newThread: newThread))
                ]
                var history: [String] = []
                func context() -> String {
                    "\(name) \(mode) limit \(stackLimit) depth \(maxDepth) stream \(s): \(history) on \(policy)"
                }
                guard assertSameState(threads[0], machine, "\(name) \(mode) start"),
                    assertSameWindow(threads[0], "\(name) \(mode) start")
                else { return }
                for _ in 0..<length {
                    let t = rng.int(0...(threads.count - 1))
                    let roll = rng.int(0...39)
                    let isCall = roll >= 3 && roll < 3 + 4 * callShare
                    switch roll {
                    case 0 where threads.count < 4:
                        // Fork: a new process continues with a copy of the thread.
                        threads.append(
                            Pair(monitor: threads[t].monitor, kernel: KernelMonitor(copying: threads[t].kernel)))
                        history.append("fork \(t)")
                        guard assertSameState(threads.last!, machine, context()),
                            assertSameWindow(threads.last!, context())
                        else { return }
                    case 1 where threads.count < 4:
                        // A new thread, in its creator's window.
                        threads.append(
                            Pair(
                                monitor: .newThread(createdBy: threads[t].monitor),
                                kernel: KernelMonitor(policy: kernel, newThread: true, creator: threads[t].kernel)))
                        history.append("thread \(t)")
                        guard assertSameState(threads.last!, machine, context()),
                            assertSameWindow(threads.last!, context())
                        else { return }
                    case 2:
                        // Fork in place (the old behaviour of these streams).
                        threads[t].kernel = KernelMonitor(copying: threads[t].kernel)
                    case _ where isCall:
                        let call = BlobFixtures.randomSystemCall(&rng)
                        history.append("\(t): sys \(call.number) prot \(call.protection)")
                        guard systemCall(threads[t], call.number, call.protection, context()) else { return }
                    default:
                        let marker = nextMarker(
                            threads[t].monitor, policy, machine.flatMarkers, &rng, setjmpHeavy: setjmpHeavy)
                        history.append("\(t): \(marker.kind) \(marker.id)")
                        guard step(&threads[t], marker, machine, context()) else { return }
                    }
                }
            }
        }
    }

    func testRandomPoliciesAgree() throws {
        var rng = SplitMix64(seed: 2024)
        let start = Date()
        for i in 0..<2000 {
            var policy = BlobFixtures.randomPolicy(&rng)
            // Three in four bound: windows are tracked either way.
            if rng.int(0...3) != 0 { policy.syscalls = BlobFixtures.randomBinding(&rng, symbols: policy.symbols.count) }
            try differential(policy, &rng, streams: 6, length: 40, name: "small #\(i)")
        }
        for i in 0..<600 {
            var policy = BlobFixtures.randomPolicy(&rng, maxFunctions: 6, maxStates: 6, maxEdges: 12, symbols: 4)
            if rng.int(0...3) != 0 { policy.syscalls = BlobFixtures.randomBinding(&rng, symbols: policy.symbols.count) }
            try differential(policy, &rng, streams: 6, length: 60, name: "larger #\(i)")
        }
        print(
            "differential: \(eventsCompared) events compared in \(String(format: "%.1f", Date().timeIntervalSince(start))) s; "
                + "max depth \(maxDepth), most frames folded \(entriesSaved); outcomes \(outcomes.sorted { $0.key < $1.key }); "
                + "\(systemCallsCompared) system calls: \(systemCallOutcomes.sorted { $0.key < $1.key }); "
                + "windows after events \(windowsSeen.sorted { $0.key < $1.key })")
        // The streams must reach both bounds, and fold recursion.
        for outcome in ["stackOverflow", "storeFull", "noSetjmpRecord"] {
            XCTAssertGreaterThan(outcomes[outcome] ?? 0, 100, outcome)
        }
        XCTAssertGreaterThan(entriesSaved, 2, "no stream folded frames")
        print("resync on refused markers: \(resyncOutcomes.sorted { $0.key < $1.key })")
        for outcome in ["resumed", "libc, not resumed", "other"] {
            XCTAssertGreaterThan(resyncOutcomes[outcome] ?? 0, 100, outcome)
        }
        // The streams must reach every outcome of the binding, and every kind of window.
        for outcome in ["allowed", "systemCallOutsideWindow", "executableMapping"] {
            XCTAssertGreaterThan(systemCallOutcomes[outcome] ?? 0, 100, outcome)
        }
        for w in ["start", "none", "libc"] { XCTAssertGreaterThan(windowsSeen[w] ?? 0, 100, w) }
    }

    /// The marker ABI makes ids 32-bit (the upper half of %rsi is zero), so the
    /// kernel refuses a setjmp number of 2^32 or more; ThreadMonitor, which takes
    /// any non-negative Int, accepts it. The only known difference.
    func testSetjmpNumbersAre32Bit() throws {
        let p = BlobTests.sharedHelper
        let k = KernelMonitor(policy: try KernelPolicy(blob: buildBlob(policy: p, mode: .dyck)))
        XCTAssertEqual(k.step(.init(.setjmpSave, 1 << 32))?.refusal, .idOutOfRange)
        XCTAssertEqual(k.step(.init(.setjmpResume, 1 << 32))?.refusal, .idOutOfRange)
    }

    /// Real policies: the analysis fixtures (Tests/DyckAnalysisTests/Fixtures/*.c,
    /// compiled with clang-19 at -O0 and -O2), and the .dyck files of the directory
    /// SBX_BLOB_POLICY_DIR if set. Blobs in both modes, the size of the machine, and
    /// the differential on each.
    func testRealPolicies() throws {
        var policies: [(String, Policy)] = []
        for name in RealPolicies.fixtureNames {
            for level in ["-O0", "-O2"] {
                policies.append(("\(name).c \(level)", try RealPolicies.analyze(name, level)))
            }
        }
        if let dir = ProcessInfo.processInfo.environment["SBX_BLOB_POLICY_DIR"] {
            for file in try FileManager.default.contentsOfDirectory(atPath: dir).filter({ $0.hasSuffix(".dyck") })
                .sorted()
            {
                policies.append((file, try Policy.load(path: dir + "/" + file)))
            }
        }
        XCTAssertGreaterThan(policies.count, 20)
        var rng = SplitMix64(seed: 99)
        for (name, original) in policies {
            var policy = original
            // Real sets when the policy has them, else random ones.
            if policy.syscalls == nil {
                policy.syscalls = BlobFixtures.randomBinding(&rng, symbols: policy.symbols.count)
            }
            let states = policy.functions.reduce(0) { $0 + $1.automaton.stateCount }
            var line = "\(name): \(policy.functions.count) functions, \(states) states, \(policy.sites.count) sites"
            for mode in BlobMode.allCases {
                let start = Date()
                let machine = try MacroMachine(policy: policy, mode: mode)
                let blob = try encodeBlob(machine)
                let seconds = Date().timeIntervalSince(start)
                let kernel = try KernelPolicy(blob: blob)
                XCTAssertEqual(kernel.macroStateCount, machine.macroStateCount)
                let modeStates = machine.policy.functions.reduce(0) { $0 + $1.automaton.stateCount }
                line +=
                    "; \(mode): \(modeStates) states -> \(machine.macroStateCount) macro-states, "
                    + "\(machine.transitionCount) transitions, \(blob.count) bytes, \(String(format: "%.3f", seconds)) s"
            }
            print(line)
            try differential(policy, &rng, streams: 30, length: 150, name: name)
        }
        print(
            "real policies: \(policies.count), \(eventsCompared) events and \(systemCallsCompared) system calls compared"
        )
    }
}
