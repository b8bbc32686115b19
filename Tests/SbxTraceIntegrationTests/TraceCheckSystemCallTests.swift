import DyckModel
import Foundation
import SbxTrace
import XCTest

/// `sbx check --trace` on the system calls of a trace (`specs/checking.md`, "System
/// calls"): each is checked against its thread's window with the kernel's rules, in
/// both modes, with hand-made bindings (dyck-gen's policies have none yet).
final class TraceCheckSystemCallTests: XCTestCase {
    typealias F = TraceBranchingFactorTests

    // Numbers.
    static let read: UInt64 = 0, write: UInt64 = 1, open: UInt64 = 2, mmap: UInt64 = 9, mprotect: UInt64 = 10,
        brk: UInt64 = 12, clone3: UInt64 = 435, execve: UInt64 = 59, exitGroup: UInt64 = 231, futex: UInt64 = 202

    /// The policy of TraceBranchingFactorTests (open 0, read 1, write 2; main: h() read
    /// h() write; h: open; worker, a callback: write) with sets: open {open, mmap, maps
    /// code}, read {read, clone3, futex}, write {write}; start {brk, mmap, mprotect, maps
    /// code}; ambient {brk, mmap, mprotect, exit_group}.
    static func bound(_ change: (inout SystemCallBinding) -> Void = { _ in }) -> Policy {
        var p = F.policy
        var binding = SystemCallBinding(
            sets: [
                .empty,
                SystemCallSet(numbers: [2, 9], mapsExecutable: true),
                SystemCallSet(numbers: [0, 435, 202]),
                SystemCallSet(numbers: [1]),
                SystemCallSet(numbers: [12, 9, 10], mapsExecutable: true),
                SystemCallSet(numbers: [12, 9, 10, 231])
            ],
            symbolSets: [1, 2, 3], startSet: 4, ambientSet: 5)
        change(&binding)
        p.syscalls = binding
        return p
    }

    static func s(_ pid: Int32, _ tid: Int32, _ nr: UInt64, _ arg: UInt64 = 0, abi: SystemCallABI = .x86_64)
        -> TraceEvent
    {
        .systemCall(pid: pid, tid: tid, abi: abi, number: nr, argument: arg)
    }

    static func m(_ pid: Int32, _ tid: Int32, _ kind: TraceMarkerKind, _ id: UInt64) -> TraceEvent {
        .marker(pid: pid, tid: tid, kind: kind, id: id)
    }

    /// A run of the policy with system calls in every kind of window: the loader's
    /// executable mapping at the start, h's open and its mapping of code, read, a
    /// thread made in read's window (its start in libc there, then the worker's
    /// write), a fork in read's window (the child's futex there), and the exit.
    static let run = Trace(events: [
        .start(pid: 1, path: "/p"),
        s(1, 1, brk), s(1, 1, mmap, 5), s(1, 1, mprotect, 1),
        m(1, 1, .known(.call), 0), s(1, 1, brk), s(1, 1, mmap, 3),
        m(1, 1, .known(.libc), 0), s(1, 1, open), s(1, 1, mmap, 5), s(1, 1, mprotect, 5),
        m(1, 1, .known(.ret), 0),
        m(1, 1, .known(.libc), 1), s(1, 1, read), s(1, 1, clone3),
        .thread(pid: 1, parentTID: 1, newTID: 2),
        s(1, 2, futex),
        m(1, 2, .known(.callbackEnter), 2), m(1, 2, .known(.libc), 2), s(1, 2, write),
        m(1, 2, .known(.callbackExit), 2),
        s(1, 2, futex), s(1, 2, 60),
        .fork(parentPID: 1, parentTID: 1, childPID: 3),
        s(3, 3, futex), s(3, 3, exitGroup),
        .exit(pid: 3, tid: 3, status: .exited(0)),
        .exit(pid: 1, tid: 2, status: .exited(0)),
        m(1, 1, .known(.call), 1), m(1, 1, .known(.libc), 0), m(1, 1, .known(.ret), 1), m(1, 1, .known(.libc), 2),
        s(1, 1, write),
        s(1, 1, exitGroup),
        .exit(pid: 1, tid: 1, status: .exited(0))
    ])

    func check(_ policy: Policy, _ trace: Trace, _ mode: TraceChecker.Mode) throws -> TraceChecker.Outcome {
        try TraceChecker(policy: policy, mode: mode).check(trace)
    }

    func testARunInItsWindowsIsAllowed() throws {
        // The thread's exit (60, exit) is in read's window too: add it there.
        let policy = Self.bound { $0.sets[2] = SystemCallSet(numbers: [0, 435, 202, 60]) }
        for mode in [TraceChecker.Mode.dyck, .nfa] {
            let outcome = try check(policy, Self.run, mode)
            XCTAssertNil(outcome.refusal, "\(mode): \(outcome.refusal.map { $0.report(mode: mode, path: "t") } ?? "")")
            XCTAssertTrue(outcome.systemCallsBound)
            XCTAssertEqual(outcome.checkedSystemCalls, 18)
        }
    }

    /// The first refusal of `trace` in `mode`, which must exist.
    func refusal(
        _ policy: Policy, _ trace: Trace, _ mode: TraceChecker.Mode = .dyck,
        file: StaticString = #filePath, line: UInt = #line
    ) throws -> TraceChecker.Refusal {
        let outcome = try check(policy, trace, mode)
        return try XCTUnwrap(outcome.refusal, "not refused", file: file, line: line)
    }

    func testEachWindowIsEnforced() throws {
        let policy = Self.bound()
        // The new thread exits (60) in pthread_create's window, whose set lacks it.
        var r = try refusal(policy, Self.run)
        XCTAssertEqual(r.reason, .systemCallOutsideWindow)
        XCTAssertEqual(Self.run.events[r.eventIndex], Self.s(1, 2, 60))
        XCTAssertEqual(r.window, "libc read", "the thread runs in its creator's window after its start routine")
        XCTAssertEqual(r.stack, ["main"])
        XCTAssertEqual(r.functions, [], "a new thread's root frame has no function")
        let report = r.report(mode: .dyck, path: "run.trace")
        XCTAssertTrue(report.hasPrefix("refused: system call exit (60) (dyck mode)\n"), report)
        XCTAssertTrue(report.contains("  why: system call in neither the window's set nor the ambient set\n"), report)
        XCTAssertTrue(report.contains("  window: libc read\n"), report)
        XCTAssertTrue(report.contains("  where: pid 1 tid 2, event \(r.eventIndex + 1) of run.trace\n"), report)
        XCTAssertTrue(
            report.contains(
                "allowed here: the window's set: {read, futex, clone3}; the ambient set: {mmap, mprotect, brk, exit_group}"
            ), report)

        // open in the start window.
        var trace = Self.run
        trace.events.insert(Self.s(1, 1, Self.open), at: 2)
        r = try refusal(policy, trace)
        XCTAssertEqual(r.eventIndex, 2)
        XCTAssertEqual(r.reason, .systemCallOutsideWindow)
        XCTAssertTrue(r.window?.hasPrefix("start") ?? false)

        // read in program code (after CALL, before LIBC): only the ambient set.
        trace = Self.run
        trace.events.insert(Self.s(1, 1, Self.read), at: 5)
        r = try refusal(policy, trace)
        XCTAssertEqual(r.eventIndex, 5)
        XCTAssertEqual(r.reason, .systemCallOutsideWindow)
        XCTAssertTrue(r.window?.hasPrefix("none") ?? false)
        XCTAssertEqual(r.stack, ["main", "site 0: h()"])
        XCTAssertEqual(r.functions, ["h"])
    }

    func testExecutableMappings() throws {
        let policy = Self.bound()
        // PROT_EXEC in program code: mmap is ambient, code is not.
        var trace = Self.run
        trace.events.insert(Self.s(1, 1, Self.mprotect, 7), at: 5)
        var r = try refusal(policy, trace)
        XCTAssertEqual(r.eventIndex, 5)
        XCTAssertEqual(r.reason, .executableMapping)
        XCTAssertEqual(r.event, "system call mprotect (10) with PROT_EXEC (protection 0x7)")
        XCTAssertTrue(r.report(mode: .dyck, path: "t").contains("why: executable mapping (PROT_EXEC)"))
        // In read's window (a set without the bit), even with other bits above.
        trace = Self.run
        trace.events.insert(Self.s(1, 1, Self.mmap, 1 << 40 | 4), at: 13)
        r = try refusal(policy, trace)
        XCTAssertEqual(r.eventIndex, 13)
        XCTAssertEqual(r.reason, .executableMapping)
        XCTAssertEqual(r.window, "libc read")
        // Without the bit on open's set, h's mapping of code is refused.
        r = try refusal(Self.bound { $0.sets[1].mapsExecutable = false }, Self.run)
        XCTAssertEqual(Self.run.events[r.eventIndex], Self.s(1, 1, Self.mmap, 5))
        XCTAssertEqual(r.reason, .executableMapping)
        // With the bit, never writable and executable at once (W^X).
        trace = Self.run
        let at = try XCTUnwrap(trace.events.lastIndex(of: Self.s(1, 1, Self.mmap, 5)))
        trace.events[at] = Self.s(1, 1, Self.mmap, 7)
        r = try refusal(policy, trace)
        XCTAssertEqual(r.eventIndex, at)
        XCTAssertEqual(r.reason, .executableMapping)
        XCTAssertEqual(r.window, "libc open")
    }

    func testCallbacksRestoreTheWindowAndForksCopyIt() throws {
        let policy = Self.bound { $0.sets[2] = SystemCallSet(numbers: [0, 435, 202, 60]) }
        // A write after the worker's CB_EXIT is back in read's window: refused.
        var trace = Self.run
        let exit = try XCTUnwrap(trace.events.firstIndex(of: Self.m(1, 2, .known(.callbackExit), 2)))
        trace.events.insert(Self.s(1, 2, Self.write), at: exit + 1)
        var r = try refusal(policy, trace)
        XCTAssertEqual(r.eventIndex, exit + 1)
        XCTAssertEqual(r.window, "libc read")
        // The forked child is in read's window: open is refused there.
        trace = Self.run
        let fork = try XCTUnwrap(trace.events.firstIndex(of: .fork(parentPID: 1, parentTID: 1, childPID: 3)))
        trace.events.insert(Self.s(3, 3, Self.open), at: fork + 1)
        r = try refusal(policy, trace)
        XCTAssertEqual(r.eventIndex, fork + 1)
        XCTAssertEqual(r.pid, 3)
        XCTAssertEqual(r.window, "libc read")
    }

    func testNFAModeSetsNoneAtSiteMarkers() throws {
        // After `ret 0` the window is none in both modes, though nfa skips the marker.
        var trace = Self.run
        let ret = try XCTUnwrap(trace.events.firstIndex(of: Self.m(1, 1, .known(.ret), 0)))
        trace.events.insert(Self.s(1, 1, Self.open), at: ret + 1)
        for mode in [TraceChecker.Mode.dyck, .nfa] {
            let r = try refusal(Self.bound(), trace, mode)
            XCTAssertEqual(r.eventIndex, ret + 1, "\(mode)")
            XCTAssertTrue(r.window?.hasPrefix("none") ?? false, "\(mode)")
        }
    }

    func testModuleRulesAndUnboundPolicies() throws {
        // Without a binding nothing is checked against windows...
        var trace = Self.run
        trace.events.insert(Self.s(1, 1, Self.execve), at: 5)
        var outcome = try check(F.policy, trace, .dyck)
        XCTAssertNil(outcome.refusal)
        XCTAssertFalse(outcome.systemCallsBound)
        XCTAssertEqual(outcome.checkedSystemCalls, 19)
        // ... but io_uring and 32-bit system calls are refused whatever the policy.
        for (call, reason) in [
            (Self.s(1, 1, 426), ThreadMonitor.Refusal.ioUring),
            (Self.s(1, 1, 1 << 30 | 1), .compatSystemCall),
            (Self.s(1, 1, 4, abi: .ia32), .compatSystemCall),
            (Self.s(1, 1, 999, abi: .ia32), .compatSystemCall)
        ] {
            trace = Self.run
            trace.events.insert(call, at: 5)
            for policy in [F.policy, Self.bound()] {
                let r = try refusal(policy, trace)
                XCTAssertEqual(r.eventIndex, 5, "\(call)")
                XCTAssertEqual(r.reason, reason, "\(call)")
                XCTAssertEqual(r.expected, [])
            }
        }
        trace = Self.run
        trace.events.insert(Self.s(1, 1, 4, abi: .ia32), at: 5)
        XCTAssertEqual(try refusal(F.policy, trace).event, "ia32 system call 4")
        trace = Self.run
        trace.events.insert(Self.s(1, 1, 1000), at: 5)
        XCTAssertEqual(try refusal(Self.bound(), trace).event, "system call #1000")
        // A version-1 trace has no system calls to check.
        outcome = try check(Self.bound(), Self.run.markersOnly(version: 1), .dyck)
        XCTAssertNil(outcome.refusal)
        XCTAssertFalse(outcome.systemCallsBound)
    }

    func testExecsEndOrRestartTheWindows() throws {
        // Another program's system calls are not checked; a re-exec of the traced
        // program starts again in the start window.
        let base: [TraceEvent] = [
            .start(pid: 1, path: "/p"), Self.s(1, 1, Self.brk), Self.m(1, 1, .known(.call), 0),
            Self.s(1, 1, Self.execve),
            .exec(pid: 1, tid: 1, path: "/bin/sh"), Self.s(1, 1, Self.open), Self.s(1, 1, Self.execve)
        ]
        var trace = Trace(events: base + [.exit(pid: 1, tid: 1, status: .exited(0))])
        var r = try refusal(Self.bound(), trace)
        XCTAssertEqual(r.eventIndex, 3, "the execve itself is checked")
        XCTAssertEqual(r.reason, .systemCallOutsideWindow, "the execve itself is checked")
        let execAllowed = Self.bound {
            $0.ambientSet = 6; $0.sets.append(SystemCallSet(numbers: [12, 9, 10, 231, 59]))
        }
        let outcome = try check(execAllowed, trace, .dyck)
        XCTAssertNil(outcome.refusal)
        XCTAssertEqual(outcome.checkedSystemCalls, 2)
        trace = Trace(
            events: base + [
                .exec(pid: 1, tid: 1, path: "/p"), Self.s(1, 1, Self.mmap, 5), Self.s(1, 1, Self.open),
                .exit(pid: 1, tid: 1, status: .exited(0))
            ])
        r = try refusal(execAllowed, trace)
        XCTAssertEqual(
            r.eventIndex, 9, "the re-exec'd program's loader maps code in the start window, then open is refused")
        XCTAssertTrue(r.window?.hasPrefix("start") ?? false)
    }

    /// A real recording (`sbx record`'s recorder, the `syscalls` test program) under a
    /// hand-made binding: its start window holds what the loader did, libc 1 may
    /// getppid, libc 2 may map code. Its mprotect RWX is refused (W^X); without it, the
    /// x32 call after `call 3` is; so are getppid and the mapping when their windows lack them.
    func testARealRecording() throws {
        var (trace, _) = try TraceRecorder.record(command: [try TestPrograms.path("syscalls")])
        let p = try XCTUnwrap(trace.startPID)
        let first = try XCTUnwrap(
            trace.events.firstIndex {
                if case .marker = $0 { return true }; return false
            })
        let loader = trace.events[..<first].compactMap { e -> Int? in
            if case .systemCall(_, _, _, let nr, _) = e { return Int(nr) }
            return nil
        }
        XCTAssertGreaterThan(loader.count, 5)
        let main = Automaton(
            stateCount: 4, initial: 0, finals: [3],
            edges: [
                Edge(from: 0, label: .libc(1), to: 1), Edge(from: 1, label: .libc(2), to: 2),
                Edge(from: 2, label: .call(3), to: 3)
            ])
        var policy = Policy(
            symbols: ["s0", "s1", "s2"],
            functions: [
                PolicyFunction(name: "main", automaton: main),
                PolicyFunction(name: "f", automaton: Automaton(stateCount: 1, initial: 0, finals: [0], edges: []))
            ],
            sites: (0..<4).map { _ in CallSite(caller: 0, callees: [1]) }, entry: 0)
        func bind(getppid: Bool = true, maps: Bool = true) {
            policy.syscalls = SystemCallBinding(
                sets: [
                    .empty, SystemCallSet(numbers: loader, mapsExecutable: true),
                    SystemCallSet(numbers: getppid ? [110] : []), SystemCallSet(numbers: [9, 10], mapsExecutable: maps),
                    SystemCallSet(numbers: [231])
                ],
                symbolSets: [0, 2, 3], startSet: 1, ambientSet: 4)
        }
        func index(_ event: TraceEvent) throws -> Int { try XCTUnwrap(trace.events.firstIndex(of: event)) }
        bind()
        // The program's mprotect RWX, in a window that may map code: refused (W^X).
        let rwx = try index(.systemCall(pid: p, tid: p, abi: .x86_64, number: 10, argument: 7))
        for mode in [TraceChecker.Mode.dyck, .nfa] {
            let r = try XCTUnwrap(try TraceChecker(policy: policy, mode: mode).check(trace).refusal)
            XCTAssertEqual(r.eventIndex, rwx)
            XCTAssertEqual(r.reason, .executableMapping)
            XCTAssertEqual(r.window, "libc s2")
        }
        trace.events.remove(at: rwx)
        for mode in [TraceChecker.Mode.dyck, .nfa] {
            let r = try XCTUnwrap(try TraceChecker(policy: policy, mode: mode).check(trace).refusal)
            XCTAssertEqual(
                r.eventIndex, try index(.systemCall(pid: p, tid: p, abi: .x86_64, number: 1 << 30 | 39, argument: 5)))
            XCTAssertEqual(r.reason, .compatSystemCall)
            XCTAssertTrue(r.window?.hasPrefix("none") ?? false)
        }
        bind(maps: false)
        var r = try XCTUnwrap(try TraceChecker(policy: policy, mode: .dyck).check(trace).refusal)
        XCTAssertEqual(
            r.eventIndex, try index(.systemCall(pid: p, tid: p, abi: .x86_64, number: 9, argument: 1 << 40 | 5)))
        XCTAssertEqual(r.reason, .executableMapping)
        XCTAssertEqual(r.window, "libc s2")
        bind(getppid: false)
        r = try XCTUnwrap(try TraceChecker(policy: policy, mode: .nfa).check(trace).refusal)
        XCTAssertEqual(r.eventIndex, try index(.systemCall(pid: p, tid: p, abi: .x86_64, number: 110, argument: 77)))
        XCTAssertEqual(r.reason, .systemCallOutsideWindow)
        XCTAssertEqual(r.window, "libc s1")
    }

    func testRunBasedABFIgnoresSystemCalls() throws {
        var trace = Self.run
        trace.events.insert(Self.s(1, 1, Self.execve), at: 5)
        let measured = try TraceBranchingFactor(policy: Self.bound()).measure(trace)
        XCTAssertNil(measured.refusal.map { $0.refusal.report(mode: $0.mode, path: "t") })
        XCTAssertGreaterThan(measured.positions, 0)
    }
}

extension Trace {
    /// The same run as a version-1 recorder would have written it.
    func markersOnly(version: Int) -> Trace {
        Trace(
            events: events.filter {
                if case .systemCall = $0 { return false }
                return true
            }, version: version)
    }
}
