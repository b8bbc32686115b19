import DyckModel
import Foundation
import SbxTrace
import XCTest

/// `sbx record` as a user runs it, on small C programs whose markers are known.
final class RecorderTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = try Run.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    var tracePath: String { dir.appendingPathComponent("run.trace").path }

    /// Records a test program with the built `sbx` and loads its trace, without its
    /// system calls (the markers and tasks tested here are exact; which system calls
    /// libc makes is not): `full` keeps them.
    func record(
        _ program: String, _ arguments: [String] = [], stdin: Data? = nil, full: Bool = false,
        file: StaticString = #filePath, line: UInt = #line
    ) throws -> (Run.Result, Trace) {
        let path = try TestPrograms.path(program)
        let result = try Run.process(try Run.sbx(), ["record", "-o", tracePath, "--", path] + arguments, stdin: stdin)
        let trace = try Trace.load(path: tracePath)
        XCTAssertEqual(trace.version, TraceFormat.version, file: file, line: line)
        return (result, full ? trace : trace.withoutSystemCalls)
    }

    func childPID(_ trace: Trace, _ index: Int = 0) -> Int32? {
        let children = trace.events.compactMap { event -> Int32? in
            if case .fork(_, _, let child) = event { return child }
            return nil
        }
        return index < children.count ? children[index] : nil
    }

    func newThreads(_ trace: Trace) -> [Int32] {
        trace.events.compactMap {
            if case .thread(_, _, let tid) = $0 { return tid }
            return nil
        }
    }

    func index(of event: TraceEvent, in trace: Trace) -> Int? {
        trace.events.firstIndex(of: event)
    }

    // MARK: Sequences

    func testSingleThreadExactSequence() throws {
        let (result, trace) = try record("single")
        XCTAssertEqual(result.status, 0, "the marker returned something else than -ENOSYS: \(result.stderrText)")
        XCTAssertEqual(result.stderrText, "", "the recorder is silent on success")
        let p = try XCTUnwrap(trace.startPID)
        func m(_ kind: TraceMarkerKind, _ id: UInt64) -> TraceEvent { .marker(pid: p, tid: p, kind: kind, id: id) }
        XCTAssertEqual(
            trace.events,
            [
                .start(pid: p, path: TracePath(try TestPrograms.path("single"))),
                m(.known(.libc), 0), m(.known(.call), 5), m(.known(.ret), 5), m(.known(.callbackEnter), 2),
                m(.known(.callbackExit), 2),
                m(.known(.tail), 9), m(.known(.setjmpSave), 0), m(.known(.setjmpResume), 0),
                m(.known(.libc), 4_294_967_295),
                m(.unknown(42), 7), m(.known(.libc), 1 << 32), m(.known(.libc), 3),
                .exit(pid: p, tid: p, status: .exited(0))
            ])
    }

    func testInMemoryRecording() throws {
        let path = try TestPrograms.path("single")
        let (trace, outcome) = try TraceRecorder.record(command: [path])
        XCTAssertEqual(outcome.termination, .exited(0))
        XCTAssertEqual(outcome.eventCount, trace.events.count)
        XCTAssertEqual(outcome.lostTasks, [])
        XCTAssertEqual(trace.withoutSystemCalls.events.count, 14)
        XCTAssertGreaterThan(trace.events.count, 14, "the loader's and libc's system calls")
        XCTAssertNoThrow(try trace.validate())
    }

    func testForkChildEventsBelongToTheChild() throws {
        let (result, trace) = try record("fork")
        XCTAssertEqual(result.status, 0, result.stderrText)
        let p = try XCTUnwrap(trace.startPID)
        let c = try XCTUnwrap(childPID(trace))
        XCTAssertNotEqual(c, p)
        XCTAssertEqual(
            trace.events,
            [
                .start(pid: p, path: TracePath(try TestPrograms.path("fork"))),
                .marker(pid: p, tid: p, kind: .known(.libc), id: 1),
                .fork(parentPID: p, parentTID: p, childPID: c),
                .marker(pid: c, tid: c, kind: .known(.libc), id: 100),
                .marker(pid: c, tid: c, kind: .known(.libc), id: 101),
                .exit(pid: c, tid: c, status: .exited(5)),
                .marker(pid: p, tid: p, kind: .known(.libc), id: 2),
                .exit(pid: p, tid: p, status: .exited(0))
            ])
    }

    func testManyForks() throws {
        let (result, trace) = try record("forks")
        XCTAssertEqual(result.status, 0, result.stderrText)
        for i in 0..<10 {
            let c = try XCTUnwrap(childPID(trace, i))
            XCTAssertEqual(trace.markerIDs(tid: c), (0..<20).map { UInt64(i * 100 + $0) })
            let forkAt = try XCTUnwrap(
                trace.events.firstIndex {
                    if case .fork(_, _, c) = $0 { return true }; return false
                })
            let firstMarker = try XCTUnwrap(trace.events.firstIndex { $0.tid == c })
            XCTAssertLessThan(forkAt, firstMarker)
            XCTAssertEqual(trace.events.filter { $0 == .exit(pid: c, tid: c, status: .exited(Int32(i))) }.count, 1)
        }
    }

    func testTwoThreadsKeepTheirOwnOrder() throws {
        let (result, trace) = try record("threads")
        XCTAssertEqual(result.status, 0, result.stderrText)
        let p = try XCTUnwrap(trace.startPID)
        let threads = newThreads(trace)
        XCTAssertEqual(threads.count, 2)
        XCTAssertEqual(Set(threads + [p]).count, 3, "distinct tids: \(threads), main \(p)")
        XCTAssertEqual(trace.markers(tid: p).map(\.0), [.known(.call), .known(.ret)])
        XCTAssertEqual(trace.markerIDs(tid: threads[0]), (1000..<1050).map(UInt64.init))
        XCTAssertEqual(trace.markerIDs(tid: threads[1]), (2000..<2050).map(UInt64.init))
        for tid in threads {
            XCTAssertTrue(trace.events.contains(.thread(pid: p, parentTID: p, newTID: tid)))
            // Not "before the main thread's marker after pthread_join": the kernel wakes
            // the joiner (the thread's tid futex) before the tracer is told of the exit,
            // so that order is only the observation order (specs/trace-format.md, Order).
            // The main thread's exit comes last, which the kernel does guarantee.
            let exit = try XCTUnwrap(index(of: .exit(pid: p, tid: tid, status: .exited(0)), in: trace))
            let mainExit = try XCTUnwrap(index(of: .exit(pid: p, tid: p, status: .exited(0)), in: trace))
            XCTAssertLessThan(exit, mainExit, "the main thread's exit comes after its other threads'")
            XCTAssertTrue(trace.events.allSatisfy { $0.tid != tid || $0.pid == p })
        }
        XCTAssertEqual(trace.events.last, .exit(pid: p, tid: p, status: .exited(0)))
    }

    func testManyThreads() throws {
        let (result, trace) = try record("manythreads")
        XCTAssertEqual(result.status, 0, result.stderrText)
        let threads = newThreads(trace)
        XCTAssertEqual(Set(threads).count, 8)
        var bases = Set<UInt64>()
        for tid in threads {
            let ids = trace.markerIDs(tid: tid)
            let base = try XCTUnwrap(ids.first)
            XCTAssertEqual(ids, (0..<300).map { base + UInt64($0) })
            bases.insert(base)
        }
        XCTAssertEqual(bases, Set((0..<8).map { UInt64($0 * 1000) }))
    }

    func testConcurrentForksAndThreads() throws {
        let (result, trace) = try record("storm")
        XCTAssertEqual(result.status, 0, result.stderrText)
        // Loading checked consistency: every creation line precedes the new task's
        // lines, and every task ended. Now who made whom: worker k's children mark
        // k*1000+i and exit with i.
        var bases: [Int32: [UInt64]] = [:]
        var innerThreads = 0
        for event in trace.events {
            switch event {
            case .fork(_, let creator, let child):
                let ids = trace.markerIDs(tid: child)
                XCTAssertEqual(ids.count, 1)
                guard let id = ids.first else { continue }
                bases[creator, default: []].append(id / 1000 * 1000)
                XCTAssertTrue(trace.events.contains(.exit(pid: child, tid: child, status: .exited(Int32(id % 1000)))))
            case .thread(_, _, let tid):
                if trace.markerIDs(tid: tid) == [7] { innerThreads += 1 }
            default:
                break
            }
        }
        XCTAssertEqual(bases.count, 8, "eight creating threads")
        XCTAssertTrue(bases.values.allSatisfy { $0.count == 20 && Set($0).count == 1 })
        XCTAssertEqual(Set(bases.values.compactMap(\.first)), Set((0..<8).map { UInt64($0 * 1000) }))
        XCTAssertEqual(innerThreads, 160)
    }

    // MARK: Signals

    func testKilledBySignal() throws {
        let (result, trace) = try record("killed")
        XCTAssertEqual(result.status, 128 + SIGTERM)
        let p = try XCTUnwrap(trace.startPID)
        XCTAssertEqual(
            Array(trace.events.dropFirst()),
            [
                .marker(pid: p, tid: p, kind: .known(.libc), id: 1),
                .exit(pid: p, tid: p, status: .killed(signal: SIGTERM))
            ])
    }

    func testSignalHandlerRunsAndItsMarkersAreRecorded() throws {
        let (result, trace) = try record("handler")
        XCTAssertEqual(result.status, 0, "the handler did not run exactly once")
        let p = try XCTUnwrap(trace.startPID)
        XCTAssertEqual(trace.markers(tid: p).map { "\($0.0) \($0.1)" }, ["libc 1", "cb-enter 3", "cb-exit 3", "libc 2"])
    }

    func testJobControlStopAndContinue() throws {
        let (result, trace) = try record("groupstop")
        XCTAssertEqual(result.status, 0, "the parent did not see its child stop and continue (status \(result.status))")
        let p = try XCTUnwrap(trace.startPID)
        let c = try XCTUnwrap(childPID(trace))
        let parentMark = try XCTUnwrap(index(of: .marker(pid: p, tid: p, kind: .known(.libc), id: 8), in: trace))
        let childMark = try XCTUnwrap(index(of: .marker(pid: c, tid: c, kind: .known(.libc), id: 9), in: trace))
        XCTAssertLessThan(parentMark, childMark, "the child ran before SIGCONT")
    }

    func testSIGTERMToTheRecorderReachesTheProgram() throws {
        let (process, pid) = try startInBackground("waiter")
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .exit)
        XCTAssertEqual(process.terminationStatus, 128 + SIGTERM)
        let trace = try Trace.load(path: tracePath)
        XCTAssertEqual(trace.events.last, .exit(pid: pid, tid: pid, status: .killed(signal: SIGTERM)))
    }

    func testKilledRecorderLeavesAnIncompleteTrace() throws {
        let (process, pid) = try startInBackground("waiter")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        XCTAssertThrowsError(try Trace.load(path: tracePath)) { error in
            guard let error = error as? TraceFileError, case .format(let format) = error.reason else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(format.kind, .truncated)
            XCTAssertTrue(
                error.description.contains(tracePath) && error.description.contains("incomplete"), error.description)
        }
        // The program does not outlive its recorder (PTRACE_O_EXITKILL).
        XCTAssertTrue(waitUntil { Self.isGone(pid) }, "traced program \(pid) survived its recorder")
    }

    /// Starts `sbx record` on a program that waits forever after a fork; returns once
    /// the trace holds the child's exit (flushed) and the program's pid.
    func startInBackground(_ program: String) throws -> (Process, Int32) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Run.sbx())
        process.arguments = ["record", "-o", tracePath, try TestPrograms.path(program)]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        var pid: Int32?
        // 60 s: a loaded host can be slow, but a recording that never gets going is a
        // failure of the recorder, not a reason to skip.
        let ready = waitUntil(seconds: 60) {
            guard let text = try? String(contentsOfFile: self.tracePath, encoding: .utf8) else { return false }
            let lines = text.split(separator: "\n")
            if lines.count > 1, lines[1].hasPrefix("start ") { pid = Int32(lines[1].split(separator: " ")[1]) }
            return lines.contains { $0.hasPrefix("exit ") }
        }
        guard ready, let pid else {
            process.terminate()
            struct RecordingDidNotStart: Error, CustomStringConvertible {
                var description: String
            }
            throw RecordingDidNotStart(
                description: "sbx record of \(program) wrote no start and exit lines to \(tracePath) in 60 s")
        }
        return (process, pid)
    }

    func waitUntil(seconds: Double = 20, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }

    /// Gone, or a zombie waiting for init to reap it.
    static func isGone(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return true }
        return stat[stat.index(close, offsetBy: 2)] == "Z"
    }

    // MARK: Exec

    func testExecOfAnotherProgram() throws {
        let second = try TestPrograms.path("second")
        let (result, trace) = try record("exec", [second])
        XCTAssertEqual(result.status, 4)
        let p = try XCTUnwrap(trace.startPID)
        XCTAssertEqual(
            trace.events,
            [
                .start(pid: p, path: TracePath(try TestPrograms.path("exec"))),
                .marker(pid: p, tid: p, kind: .known(.libc), id: 1),
                .exec(pid: p, tid: p, path: TracePath(second)),
                .marker(pid: p, tid: p, kind: .known(.libc), id: 77),
                .exit(pid: p, tid: p, status: .exited(4))
            ])
    }

    func testVforkAndExec() throws {
        let second = try TestPrograms.path("second")
        let (result, trace) = try record("vfork", [second])
        XCTAssertEqual(result.status, 4)
        let p = try XCTUnwrap(trace.startPID)
        let c = try XCTUnwrap(childPID(trace))
        XCTAssertEqual(
            Array(trace.events.dropFirst()),
            [
                .marker(pid: p, tid: p, kind: .known(.libc), id: 1),
                .fork(parentPID: p, parentTID: p, childPID: c),
                .exec(pid: c, tid: c, path: TracePath(second)),
                .marker(pid: c, tid: c, kind: .known(.libc), id: 77),
                .exit(pid: c, tid: c, status: .exited(4)),
                .marker(pid: p, tid: p, kind: .known(.libc), id: 2),
                .exit(pid: p, tid: p, status: .exited(4))
            ])
    }

    func testExecFromASecondaryThread() throws {
        let second = try TestPrograms.path("second")
        let (result, trace) = try record("threadexec", [second])
        XCTAssertEqual(result.status, 4, result.stderrText)
        let p = try XCTUnwrap(trace.startPID)
        let threads = newThreads(trace)
        XCTAssertEqual(threads.count, 2)
        let (sleeper, worker) = (threads[0], threads[1])
        // The exec ends the main thread and the sleeper (reported as exit 0, in either
        // order), then the worker carries on as the process's main thread.
        XCTAssertEqual(
            Array(trace.events[0..<4]),
            [
                .start(pid: p, path: TracePath(try TestPrograms.path("threadexec"))),
                .thread(pid: p, parentTID: p, newTID: sleeper),
                .thread(pid: p, parentTID: p, newTID: worker),
                .marker(pid: p, tid: worker, kind: .known(.libc), id: 20)
            ])
        XCTAssertEqual(
            Set(trace.events[4..<6]),
            [
                .exit(pid: p, tid: p, status: .exited(0)), .exit(pid: p, tid: sleeper, status: .exited(0))
            ])
        XCTAssertEqual(
            Array(trace.events[6...]),
            [
                .exec(pid: p, tid: worker, path: TracePath(second)),
                .marker(pid: p, tid: p, kind: .known(.libc), id: 77),
                .exit(pid: p, tid: p, status: .exited(4))
            ])
    }

    // MARK: Input and output

    func testStandardStreamsPassThroughUnchanged() throws {
        let (result, trace) = try record("output", stdin: Data("from stdin\n".utf8))
        XCTAssertEqual(result.status, 0)
        XCTAssertEqual(result.stdout, Data("to stdout\nfrom stdin\n".utf8) + Data([0, 0xFF]) + Data("end".utf8))
        XCTAssertEqual(result.stderrText, "to stderr\n")
        XCTAssertEqual(trace.events.count, 3)
        // Its read, writes and exit_group are in the full trace.
        let full = try Trace.load(path: tracePath)
        let p = try XCTUnwrap(trace.startPID)
        let calls = full.systemCalls(tid: p).map(\.1)
        XCTAssertTrue(calls.contains(0) && calls.contains(1) && calls.last == 231, "\(calls)")
    }

    // MARK: Bad input

    func assertFails(
        _ arguments: [String], status: Int32, mentions: [String],
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let result = try Run.process(try Run.sbx(), ["record"] + arguments)
        XCTAssertEqual(result.status, status, result.stderrText, file: file, line: line)
        XCTAssertEqual(
            result.stderrText.split(separator: "\n").count, 1, "one line: \(result.stderrText)", file: file, line: line)
        for word in mentions {
            XCTAssertTrue(
                result.stderrText.contains(word), "'\(word)' in: \(result.stderrText)", file: file, line: line)
        }
        XCTAssertFalse(result.stderrText.contains("Fatal error"), file: file, line: line)
    }

    func testCommandThatCannotRun() throws {
        try assertFails(
            ["-o", tracePath, "--", "sbx-no-such-command"], status: 2, mentions: ["sbx-no-such-command", "not found"])
        try assertFails(
            ["-o", tracePath, dir.appendingPathComponent("missing").path], status: 2,
            mentions: ["missing", "No such file"])
        try assertFails(["-o", tracePath, dir.path], status: 2, mentions: ["directory"])
        let plain = dir.appendingPathComponent("plain.txt").path
        _ = FileManager.default.createFile(
            atPath: plain, contents: Data("hello\n".utf8), attributes: [.posixPermissions: 0o644])
        try assertFails(["-o", tracePath, plain], status: 2, mentions: ["plain.txt", "Permission denied"])
        // Executable, but not a program the kernel can run.
        let script = dir.appendingPathComponent("noshebang").path
        _ = FileManager.default.createFile(
            atPath: script, contents: Data("hello\n".utf8), attributes: [.posixPermissions: 0o755])
        try assertFails(["-o", tracePath, script], status: 2, mentions: ["noshebang", "Exec format error"])
        try assertFails(["-o", tracePath], status: 2, mentions: ["command"])
        XCTAssertFalse(
            FileManager.default.fileExists(atPath: tracePath), "no trace is left for a program that never ran")
    }

    func testUnwritableOutputDoesNotRunTheProgram() throws {
        let marker = dir.appendingPathComponent("ran").path
        let output = dir.appendingPathComponent("no/such/dir/run.trace").path
        try assertFails(["-o", output, "/usr/bin/touch", marker], status: 3, mentions: ["run.trace", "cannot write"])
        try assertFails(["-o", dir.path, "/usr/bin/touch", marker], status: 3, mentions: ["cannot write"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker))
    }

    func testCommandFoundInPATHAndOptionsAfterItBelongToIt() throws {
        let result = try Run.process(try Run.sbx(), ["record", "-o", tracePath, "sh", "-c", "exit 3", "-o", "ignored"])
        XCTAssertEqual(result.status, 3, result.stderrText)
        let trace = try Trace.load(path: tracePath)
        XCTAssertEqual(trace.withoutSystemCalls.events.count, 2)
    }

    // MARK: System calls

    func testSystemCallsAreRecordedInOrderWithTheMarkers() throws {
        let (result, trace) = try record("syscalls", full: true)
        XCTAssertEqual(result.status, 0, result.stderrText)
        let p = try XCTUnwrap(trace.startPID)
        // Nothing of the recorder's child before the start (its execve is not the
        // program's); the loader's first call follows it.
        guard case .systemCall(p, p, .x86_64, _, _)? = trace.events.dropFirst().first else {
            return XCTFail("the start is not followed by a system call of the program: \(trace.events.prefix(3))")
        }
        XCTAssertFalse(trace.systemCalls(tid: p).contains { $0.1 == 59 }, "no execve")
        let first = try XCTUnwrap(trace.events.firstIndex(of: .marker(pid: p, tid: p, kind: .known(.libc), id: 1)))
        func s(_ nr: UInt64, _ arg: UInt64, _ abi: SystemCallABI = .x86_64) -> TraceEvent {
            .systemCall(pid: p, tid: p, abi: abi, number: nr, argument: arg)
        }
        func m(_ kind: TraceMarkerKind, _ id: UInt64) -> TraceEvent { .marker(pid: p, tid: p, kind: kind, id: id) }
        let expected: [TraceEvent] = [
            m(.known(.libc), 1), s(110, 77), m(.known(.libc), 2), s(9, 1 << 40 | 5), s(10, 7), m(.known(.call), 3),
            s(1 << 30 | 39, 5), s(20, 1234, .ia32), s(999, 3, .ia32)
        ]
        XCTAssertEqual(Array(trace.events[first..<(first + 9)]), expected)
        XCTAssertEqual(trace.events[first + 9], m(.known(.ret), 3))
        XCTAssertEqual(trace.events.last, .exit(pid: p, tid: p, status: .exited(0)))
        XCTAssertEqual(trace.systemCalls(tid: p).last?.1, 231, "exit_group is the last call")
        // The text round-trips.
        XCTAssertEqual(try Trace.parse(trace.serialized()), trace)
    }

    func testSystemCallsOfThreadsForksAndExecs() throws {
        let (result, trace) = try record("threads", full: true)
        XCTAssertEqual(result.status, 0, result.stderrText)
        let p = try XCTUnwrap(trace.startPID)
        for (index, event) in trace.events.enumerated() {
            guard case .thread(_, let creator, let tid) = event else { continue }
            // The creator's clone (clone3 or clone) comes before the thread's line,
            // and the new thread makes system calls of its own (its start in libc).
            let before = trace.events[..<index].last { $0.tid == creator }
            guard case .systemCall(_, _, .x86_64, let nr, _)? = before else {
                XCTFail("the creator's last event before 'thread' is \(String(describing: before))")
                continue
            }
            XCTAssertTrue(nr == 435 || nr == 56, "clone3 or clone, not \(nr)")
            XCTAssertFalse(trace.systemCalls(tid: tid).isEmpty)
            XCTAssertEqual(creator, p)
        }

        let second = try TestPrograms.path("second")
        let (vforked, vtrace) = try record("vfork", [second], full: true)
        XCTAssertEqual(vforked.status, 4)
        let c = try XCTUnwrap(childPID(vtrace))
        let exec = try XCTUnwrap(vtrace.events.firstIndex(of: .exec(pid: c, tid: c, path: TracePath(second))))
        // Up to and including the execve, in the old image; after it the new image's.
        guard case .systemCall(c, c, .x86_64, 59, _)? = vtrace.events[..<exec].last(where: { $0.tid == c }) else {
            return XCTFail("the child's execve does not precede its exec line")
        }
        XCTAssertTrue(
            vtrace.events[(exec + 1)...].contains {
                if case .systemCall(c, c, _, _, _) = $0 { return true }; return false
            })
    }
}
