import DyckModel
import Foundation
import SbxTrace
import XCTest

/// The trace text format: exact writing, round trips, and one test per way a file can
/// be wrong (`specs/trace-format.md`).
final class TraceFormatTests: XCTestCase {
    /// Every kind of line, unknown marker kinds, the extreme numbers, and paths that
    /// need every escape (including bytes that are not UTF-8).
    static let sample = Trace(events: [
        .start(pid: 100, path: "/usr/bin/prog"),
        .marker(pid: 100, tid: 100, kind: .known(.libc), id: 0),
        .marker(pid: 100, tid: 100, kind: .known(.call), id: 4_294_967_295),
        .marker(pid: 100, tid: 100, kind: .known(.ret), id: 1),
        .marker(pid: 100, tid: 100, kind: .known(.callbackEnter), id: 2),
        .marker(pid: 100, tid: 100, kind: .known(.callbackExit), id: 2),
        .marker(pid: 100, tid: 100, kind: .known(.tail), id: 3),
        .marker(pid: 100, tid: 100, kind: .known(.setjmpSave), id: 0),
        .marker(pid: 100, tid: 100, kind: .known(.setjmpResume), id: 0),
        .marker(pid: 100, tid: 100, kind: .unknown(0), id: 7),
        .marker(pid: 100, tid: 100, kind: .unknown(UInt64.max), id: UInt64.max),
        .systemCall(pid: 100, tid: 100, abi: .x86_64, number: 0, argument: 0),
        .systemCall(pid: 100, tid: 100, abi: .x86_64, number: 9, argument: 7),
        .systemCall(pid: 100, tid: 100, abi: .x86_64, number: UInt64.max, argument: UInt64.max),
        .systemCall(pid: 100, tid: 100, abi: .ia32, number: 999, argument: 3),
        .thread(pid: 100, parentTID: 100, newTID: 101),
        .systemCall(pid: 100, tid: 101, abi: .x86_64, number: 1_073_741_863, argument: 5),
        .marker(pid: 100, tid: 101, kind: .known(.libc), id: 9),
        .fork(parentPID: 100, parentTID: 101, childPID: 2_147_483_647),
        .exec(pid: 2_147_483_647, tid: 2_147_483_647, path: TracePath(bytes: Array("/t/a b%#:@é".utf8) + [0xFF, 0x01])),
        .exit(pid: 2_147_483_647, tid: 2_147_483_647, status: .killed(signal: 64)),
        .exit(pid: 100, tid: 101, status: .exited(255)),
        .exit(pid: 100, tid: 100, status: .exited(0))
    ])

    static let sampleText = """
        sbx-trace 2
        start 100 /usr/bin/prog
        m 100 100 libc 0
        m 100 100 call 4294967295
        m 100 100 ret 1
        m 100 100 cb-enter 2
        m 100 100 cb-exit 2
        m 100 100 tail 3
        m 100 100 sj-save 0
        m 100 100 sj-resume 0
        m 100 100 kind-0 7
        m 100 100 kind-18446744073709551615 18446744073709551615
        s 100 100 0 0
        s 100 100 9 7
        s 100 100 18446744073709551615 18446744073709551615
        s32 100 100 999 3
        thread 100 100 101
        s 100 101 1073741863 5
        m 100 101 libc 9
        fork 100 101 2147483647
        exec 2147483647 2147483647 /t/a%20b%25%23%3A%40%C3%A9%FF%01
        exit 2147483647 2147483647 killed 64
        exit 100 101 exited 255
        exit 100 100 exited 0
        end

        """

    func testWritesExactText() throws {
        XCTAssertEqual(Self.sample.serialized(), Self.sampleText)
        XCTAssertNoThrow(try Self.sample.validate())
    }

    func testRoundTrip() throws {
        let parsed = try Trace.parse(Self.sampleText)
        XCTAssertEqual(parsed, Self.sample)
        XCTAssertEqual(parsed.serialized(), Self.sampleText)
    }

    func testMarkerKindNumbersFollowTheABIHeader() {
        let expected: [(TraceMarkerKind, UInt64, String)] = [
            (.known(.libc), 1, "libc"), (.known(.call), 2, "call"), (.known(.ret), 3, "ret"),
            (.known(.callbackEnter), 4, "cb-enter"),
            (.known(.callbackExit), 5, "cb-exit"), (.known(.tail), 6, "tail"), (.known(.setjmpSave), 7, "sj-save"),
            (.known(.setjmpResume), 8, "sj-resume")
        ]
        for (kind, value, name) in expected {
            XCTAssertEqual(kind.rawValue, value)
            XCTAssertEqual(kind.name, name)
            XCTAssertEqual(TraceMarkerKind(rawValue: value), kind)
        }
        XCTAssertEqual(TraceMarkerKind(rawValue: 9), .unknown(9))
        XCTAssertEqual(TraceMarkerKind(rawValue: 0).name, "kind-0")
    }

    func testCommentsBlankLinesAndFinalEndWithoutNewline() throws {
        let text = "sbx-trace 1\n# recorded by hand\n\nstart 5 /p\n#x\nexit 5 5 exited 1\nend\n\n# trailing"
        XCTAssertEqual(
            try Trace.parse(text).events, [.start(pid: 5, path: "/p"), .exit(pid: 5, tid: 5, status: .exited(1))])
        XCTAssertEqual(try Trace.parse("sbx-trace 1\nstart 5 /p\nexit 5 5 exited 1\nend").events.count, 2)
    }

    func testLowerCaseAndNeedlessEscapesAreRead() throws {
        let trace = try Trace.parse("sbx-trace 1\nstart 5 /%61%3a%c3%a9\nexit 5 5 exited 0\nend\n")
        XCTAssertEqual(trace.events.first, .start(pid: 5, path: TracePath("/a:é")))
    }

    // MARK: Malformed files

    func assertError(
        _ text: String, _ kind: TraceFormatError.Kind, line: Int?, mentions: [String] = [],
        file: StaticString = #filePath, testLine: UInt = #line
    ) {
        do {
            let trace = try Trace.parse(text)
            XCTFail("parsed: \(trace)", file: file, line: testLine)
        } catch {
            XCTAssertEqual(error.kind, kind, error.description, file: file, line: testLine)
            XCTAssertEqual(error.line, line, error.description, file: file, line: testLine)
            for word in mentions {
                XCTAssertTrue(
                    error.message.contains(word), "'\(word)' in: \(error.message)", file: file, line: testLine)
            }
        }
    }

    /// Body lines between a valid start and a valid end for process 5.
    func wrap(_ body: String) -> String {
        "sbx-trace 1\nstart 5 /p\n\(body)exit 5 5 exited 0\nend\n"
    }

    func testEveryCutOfAValidTraceIsTruncated() {
        let bytes = Array(Self.sampleText.utf8)
        // A cut just before the final LF leaves a complete "end", which is accepted.
        for length in 0..<(bytes.count - 1) {
            do {
                _ = try Trace.parse(bytes: Array(bytes[..<length]))
                XCTFail("a cut at byte \(length) was accepted")
            } catch {
                XCTAssertEqual(error.kind, .truncated, "cut at \(length): \(error)")
            }
        }
    }

    func testIncompleteTraceWithoutEnd() {
        assertError("sbx-trace 1\nstart 5 /p\nm 5 5 libc 1\n", .truncated, line: 4, mentions: ["incomplete", "end"])
        assertError("", .truncated, line: 1, mentions: ["empty"])
        assertError("sbx-trace 1\nstart 5 /p\nm 5 5 li", .truncated, line: 3, mentions: ["middle of line 3"])
    }

    func testVersionAndHeader() {
        assertError("sbx-trace 3\nstart 5 /p\nend\n", .unsupportedVersion, line: 1, mentions: ["version 3", "1 to 2"])
        assertError("sbx-trace 0\nstart 5 /p\nend\n", .unsupportedVersion, line: 1)
        assertError("sbx-trace 99999999999999999999999\n", .unsupportedVersion, line: 1)
        // The version decides before the rest of the line is judged.
        assertError("sbx-trace 3 with more words\n", .unsupportedVersion, line: 1)
        assertError("sbx-trace 01\n", .malformed, line: 1)
        assertError("sbx-trace 1 extra\nend\n", .malformed, line: 1)
        assertError("dyck-policy 1\nkind dyck\n", .malformed, line: 1, mentions: ["not an sbx trace"])
        assertError("# comment first\nsbx-trace 1\n", .malformed, line: 1)
        assertError("sbx-trace 1\r\nstart 5 /p\r\n", .malformed, line: 1, mentions: ["carriage return"])
    }

    // MARK: Versions and system calls

    /// A version-1 file (markers only) is still read, keeps its version, and is
    /// written back as it was.
    func testVersion1IsStillRead() throws {
        let text = "sbx-trace 1\nstart 5 /p\nm 5 5 libc 1\nexit 5 5 exited 0\nend\n"
        let trace = try Trace.parse(text)
        XCTAssertEqual(trace.version, 1)
        XCTAssertFalse(trace.recordsSystemCalls)
        XCTAssertEqual(
            trace.events,
            [
                .start(pid: 5, path: "/p"), .marker(pid: 5, tid: 5, kind: .known(.libc), id: 1),
                .exit(pid: 5, tid: 5, status: .exited(0))
            ])
        XCTAssertEqual(trace.serialized(), text)
        XCTAssertNoThrow(try trace.validate())
        // Upgraded in memory, it is written as version 2.
        var upgraded = trace
        upgraded.version = 2
        XCTAssertEqual(upgraded.serialized(), "sbx-trace 2" + text.dropFirst("sbx-trace 1".count))
        XCTAssertTrue(try Trace.parse(upgraded.serialized()).recordsSystemCalls)
        XCTAssertEqual(Trace(events: []).version, 2, "new traces are version 2")
    }

    func testSystemCallLines() {
        // Only from version 2 on.
        assertError(
            "sbx-trace 1\nstart 5 /p\ns 5 5 1 0\nexit 5 5 exited 0\nend\n", .malformed, line: 3,
            mentions: ["version 2", "version 1"])
        assertError("sbx-trace 1\nstart 5 /p\ns32 5 5 1 0\nexit 5 5 exited 0\nend\n", .malformed, line: 3)
        // A 64-bit 999 is a marker; through ia32 it is not.
        assertError(wrap2("s 5 5 999 0\n"), .malformed, line: 3, mentions: ["marker", "'m'"])
        XCTAssertNoThrow(try Trace.parse(wrap2("s32 5 5 999 0\n")))
        assertError(wrap2("s 5 5 1\n"), .malformed, line: 3, mentions: ["too few fields", "s PID TID NR ARG"])
        assertError(wrap2("s32 5 5 1 2 3\n"), .malformed, line: 3, mentions: ["too many fields", "s32 PID TID NR ARG"])
        assertError(wrap2("s 5 5 18446744073709551616 0\n"), .outOfRange, line: 3, mentions: ["system call number"])
        assertError(wrap2("s 5 5 1 18446744073709551616\n"), .outOfRange, line: 3, mentions: ["system call argument"])
        assertError(wrap2("s 5 5 01 0\n"), .malformed, line: 3)
        assertError(wrap2("s 5 5 read 0\n"), .malformed, line: 3)
        assertError(wrap2("s 5 5 1 -1\n"), .malformed, line: 3)
        assertError(wrap2("s 0 5 1 0\n"), .outOfRange, line: 3)
        assertError(wrap2("s 5 6 1 0\n"), .inconsistent, line: 3, mentions: ["thread 6 does not exist"])
        assertError(wrap2("S 5 5 1 0\n"), .malformed, line: 3, mentions: ["unknown record 'S'", "s32"])
        assertError("sbx-trace 2\ns 5 5 1 0\nend\n", .inconsistent, line: 2, mentions: ["'start'"])
    }

    func testValidateSystemCallsInMemory() {
        func problem(_ trace: Trace) -> TraceFormatError? {
            do {
                try trace.validate()
                return nil
            } catch {
                return error
            }
        }
        let call = TraceEvent.systemCall(pid: 3, tid: 3, abi: .x86_64, number: 1, argument: 0)
        let events: [TraceEvent] = [.start(pid: 3, path: "/p"), call, .exit(pid: 3, tid: 3, status: .exited(0))]
        XCTAssertNil(problem(Trace(events: events)))
        XCTAssertEqual(problem(Trace(events: events, version: 1))?.kind, .malformed)
        XCTAssertEqual(problem(Trace(events: events, version: 3))?.kind, .unsupportedVersion)
        XCTAssertEqual(
            problem(
                Trace(events: [
                    .start(pid: 3, path: "/p"),
                    .systemCall(pid: 3, tid: 3, abi: .x86_64, number: 999, argument: 0),
                    .exit(pid: 3, tid: 3, status: .exited(0))
                ]))?.kind, .malformed)
        XCTAssertNil(
            problem(
                Trace(events: [
                    .start(pid: 3, path: "/p"),
                    .systemCall(pid: 3, tid: 3, abi: .ia32, number: 999, argument: 0),
                    .exit(pid: 3, tid: 3, status: .exited(0))
                ])))
        XCTAssertEqual(
            problem(
                Trace(events: [
                    .start(pid: 3, path: "/p"),
                    .systemCall(pid: 3, tid: 4, abi: .x86_64, number: 1, argument: 0),
                    .exit(pid: 3, tid: 3, status: .exited(0))
                ]))?.kind, .inconsistent)
    }

    /// Body lines between a valid start and a valid end for process 5, version 2.
    func wrap2(_ body: String) -> String {
        "sbx-trace 2\nstart 5 /p\n\(body)exit 5 5 exited 0\nend\n"
    }

    func testBadKinds() {
        assertError(
            wrap("m 5 5 foo 1\n"), .malformed, line: 3, mentions: ["unknown marker kind 'foo'", "libc", "kind-N"])
        assertError(wrap("m 5 5 LIBC 1\n"), .malformed, line: 3)
        assertError(wrap("m 5 5 kind-1 1\n"), .malformed, line: 3, mentions: ["'libc'"])
        assertError(wrap("m 5 5 kind-8 1\n"), .malformed, line: 3, mentions: ["'sj-resume'"])
        assertError(wrap("m 5 5 kind-007 1\n"), .malformed, line: 3)
        assertError(wrap("m 5 5 kind- 1\n"), .malformed, line: 3)
        assertError(wrap("m 5 5 kind-18446744073709551616 1\n"), .outOfRange, line: 3)
    }

    func testGarbage() {
        assertError("\u{7F}ELF\u{02}\u{01}\u{01}\0\0\0", .malformed, line: 1)
        assertError(wrap("hello world\n"), .malformed, line: 3, mentions: ["unknown record 'hello'"])
        assertError(wrap("m 5 5 libc\n"), .malformed, line: 3, mentions: ["too few fields"])
        assertError(wrap("m 5 5 libc 1 2\n"), .malformed, line: 3, mentions: ["too many fields"])
        assertError(wrap("m  5 5 libc 1\n"), .malformed, line: 3, mentions: ["two spaces"])
        assertError(wrap(" m 5 5 libc 1\n"), .malformed, line: 3, mentions: ["starts with a space"])
        assertError(wrap("m 5 5 libc 1 \n"), .malformed, line: 3, mentions: ["ends with a space"])
        assertError(wrap("m\t5 5 libc 1\n"), .malformed, line: 3, mentions: ["tab"])
        assertError(wrap("   \n"), .malformed, line: 3)
        assertError(wrap("m 5 5 libc 01\n"), .malformed, line: 3, mentions: ["leading zeros"])
        assertError(wrap("m 5 5 libc -1\n"), .malformed, line: 3)
        assertError(wrap("m 5 5 libc 0x10\n"), .malformed, line: 3)
        assertError(wrap("m 5 5 libc 18446744073709551616\n"), .outOfRange, line: 3)
        assertError(wrap("m 0 5 libc 1\n"), .outOfRange, line: 3)
        assertError(wrap("m 2147483648 5 libc 1\n"), .outOfRange, line: 3)
        assertError(wrap("exit 5 5 exited 256\n"), .outOfRange, line: 3)
        assertError(wrap("exit 5 5 killed 0\n"), .outOfRange, line: 3)
        assertError(wrap("exit 5 5 killed 65\n"), .outOfRange, line: 3)
        assertError(wrap("exit 5 5 died 1\n"), .malformed, line: 3, mentions: ["'exited' or 'killed'"])
        assertError(wrap("m 5 5 libc 1\u{C3}\u{A9}\n"), .malformed, line: 3, mentions: ["non-ASCII"])
        assertError(wrap("") + "m 5 5 libc 1\n", .malformed, line: 5, mentions: ["after 'end'"])
    }

    func testBadPaths() {
        assertError("sbx-trace 1\nstart 5 /a%zz\n", .malformed, line: 2, mentions: ["percent escape"])
        assertError("sbx-trace 1\nstart 5 /a%4\n", .malformed, line: 2, mentions: ["percent escape"])
        assertError("sbx-trace 1\nstart 5 /a:b\n", .malformed, line: 2, mentions: ["%3A"])
        assertError("sbx-trace 1\nstart 5 /a@b\n", .malformed, line: 2, mentions: ["%40"])
        assertError("sbx-trace 1\nstart 5 /a%00b\n", .malformed, line: 2, mentions: ["NUL"])
        assertError("sbx-trace 1\nstart 5\n", .malformed, line: 2, mentions: ["too few fields"])
    }

    func testInconsistentTraces() {
        assertError("sbx-trace 1\nm 5 5 libc 1\nend\n", .inconsistent, line: 2, mentions: ["'start'"])
        assertError("sbx-trace 1\nend\n", .inconsistent, line: 2, mentions: ["no 'start'"])
        assertError(wrap("start 6 /q\n"), .inconsistent, line: 3, mentions: ["second 'start'"])
        assertError(wrap("m 5 6 libc 1\n"), .inconsistent, line: 3, mentions: ["thread 6 does not exist"])
        assertError(
            wrap("thread 5 5 6\nm 7 6 libc 1\nexit 5 6 exited 0\n"), .inconsistent, line: 4,
            mentions: ["belongs to process 5"])
        assertError(wrap("fork 5 5 5\n"), .inconsistent, line: 3, mentions: ["in use"])
        assertError(wrap("thread 5 5 6\nexec 5 5 /q\n"), .inconsistent, line: 4, mentions: ["other threads"])
        assertError(wrap("fork 5 5 6\n"), .inconsistent, line: 5, mentions: ["6 (process 6)"])
        // A thread that ended cannot act, and its id is free again afterwards.
        assertError(wrap("thread 5 5 6\nexit 5 6 exited 0\nm 5 6 libc 1\n"), .inconsistent, line: 5)
        XCTAssertNoThrow(try Trace.parse(wrap("thread 5 5 6\nexit 5 6 exited 0\nfork 5 5 6\nexit 6 6 exited 0\n")))
    }

    func testExecByAnotherThreadTakesTheProcessID() throws {
        // What the recorder writes when a non-main thread execs: the leader's and the
        // other threads' exits, then the exec, then the process continues as tid 5.
        let text = wrap("thread 5 5 6\nthread 5 5 7\nexit 5 7 exited 0\nexit 5 5 exited 0\nexec 5 6 /q\nm 5 5 libc 1\n")
        let trace = try Trace.parse(text)
        XCTAssertEqual(trace.events.count, 8)
        assertError(wrap("thread 5 5 6\nexit 5 5 exited 0\nexec 5 6 /q\nm 5 6 libc 1\n"), .inconsistent, line: 6)
    }

    func testValidateInMemory() {
        func problem(_ events: [TraceEvent]) -> TraceFormatError? {
            do {
                try Trace(events: events).validate()
                return nil
            } catch {
                return error
            }
        }
        XCTAssertEqual(problem([.start(pid: -3, path: "/p")])?.kind, .outOfRange)
        XCTAssertEqual(problem([.start(pid: 3, path: TracePath(bytes: []))])?.kind, .malformed)
        XCTAssertEqual(
            problem([.start(pid: 3, path: "/p"), .marker(pid: 3, tid: 3, kind: .unknown(2), id: 0)])?.kind, .malformed)
        XCTAssertEqual(
            problem([.start(pid: 3, path: "/p"), .exit(pid: 3, tid: 3, status: .exited(300))])?.kind, .outOfRange)
        XCTAssertEqual(problem([.start(pid: 3, path: "/p")])?.kind, .inconsistent)
        XCTAssertNil(problem([.start(pid: 3, path: "/p"), .exit(pid: 3, tid: 3, status: .killed(signal: 9))]))
        // Writing an invalid trace never traps, and no reader accepts the result.
        let text = Trace(events: [.start(pid: -3, path: "/p")]).serialized()
        XCTAssertThrowsError(try Trace.parse(text))
    }

    // MARK: Files

    func testLoadAndWriteFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sbx-trace-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("run.trace").path

        try Self.sample.write(to: path)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), Self.sampleText)
        XCTAssertEqual(try Trace.load(path: path), Self.sample)
        // Only the file itself is left: the temporary file was renamed.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["run.trace"])

        // An invalid trace is refused and the old file kept.
        XCTAssertThrowsError(try Trace(events: []).write(to: path)) { error in
            let error = error as? TraceFileError
            XCTAssertEqual(error?.category, .outputFailed)
            XCTAssertTrue(error?.description.contains("run.trace") ?? false)
        }
        XCTAssertEqual(try Trace.load(path: path), Self.sample)

        XCTAssertThrowsError(try Self.sample.write(to: dir.appendingPathComponent("no/such/dir.trace").path)) { error in
            XCTAssertEqual((error as? TraceFileError)?.category, .outputFailed)
        }

        // Errors name the file and the line.
        try "sbx-trace 1\nstart 5 /p\nm 5 5 bogus 1\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Trace.load(path: path)) { error in
            let error = error as? TraceFileError
            XCTAssertEqual(error?.category, .badInput)
            XCTAssertTrue(
                error?.description.hasPrefix("\(path):3: unknown marker kind 'bogus'") ?? false,
                "\(String(describing: error))")
        }
        XCTAssertThrowsError(try Trace.load(path: dir.appendingPathComponent("missing.trace").path)) { error in
            XCTAssertTrue((error as? TraceFileError)?.description.contains("missing.trace: cannot read") ?? false)
        }
        XCTAssertThrowsError(try Trace.load(path: dir.path)) { error in
            XCTAssertEqual((error as? TraceFileError)?.category, .badInput)
        }
    }

    func testLargeTraceParsesQuickly() throws {
        var events: [TraceEvent] = [.start(pid: 1, path: "/p")]
        for i in 0..<200_000 { events.append(.marker(pid: 1, tid: 1, kind: .known(.libc), id: UInt64(i))) }
        events.append(.exit(pid: 1, tid: 1, status: .exited(0)))
        let trace = Trace(events: events)
        let bytes = trace.serializedBytes()
        let start = Date()
        XCTAssertEqual(try Trace.parse(bytes: bytes), trace)
        // Generous for a debug build on a loaded machine; catches quadratic behaviour.
        XCTAssertLessThan(Date().timeIntervalSince(start), 20)
    }
}
