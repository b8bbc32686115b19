import DyckModel
import Foundation
import SbxBlob
import XCTest
@testable import SbxRun

/// `sbx events`: the JSON line, the journal's native protocol, --since, and the
/// policy path the registry remembers.
final class EventsTests: XCTestCase {
    /// The hijack of Tests/e2e/hijack.c under an installed policy (as in
    /// ViolationReportTests.testHijackedIndirectCall), explained.
    func hijackEvent(note: String? = nil) throws -> SandboxEvent {
        let m = try MacroMachine(policy: try Policy.parse(ViolationReportTests.policyText), mode: .dyck)
        var record = ViolationRecord(
            sequence: 42, pid: 7, tid: 8, command: "hi\"jack\n", policyID: 3, reason: 3, kind: 1, id: 0,
            tag: 0x4000_0001, macroState: UInt32(m.siteEntries[1]), depth: 2, flags: 0x1 | 0x8,
            stack: [0x4000_0001, 0])
        record.timeNanoseconds = 5
        let source = PolicySource(exe: "/root/hijack", policyPath: "/root/hijack.dyck", mode: .dyck, installed: true)
        return SandboxEvent(
            record: record, time: 1_796_617_800_123_000_000, source: source,
            report: ViolationReport(record: record, machine: note == nil ? m : nil), note: note)
    }

    func testJSONLineIsOneParseableObjectWithTheBriefsKeys() throws {
        let line = try hijackEvent().jsonLine
        XCTAssertFalse(line.contains("\n"), line)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        XCTAssertEqual(object["time"] as? String, "2026-12-07T04:30:00.123Z")
        XCTAssertEqual(object["policy"] as? Int, 3)
        XCTAssertEqual(object["exe"] as? String, "/root/hijack")
        XCTAssertEqual(object["policy_file"] as? String, "/root/hijack.dyck")
        XCTAssertEqual(object["pid"] as? Int, 7)
        XCTAssertEqual(object["tid"] as? Int, 8)
        XCTAssertEqual(object["command"] as? String, "hi\"jack\n")
        XCTAssertEqual(object["event"] as? String, "call of libc function fprintf()")
        XCTAssertEqual(object["event_kind"] as? String, "libc")
        XCTAssertEqual(object["function"] as? String, "greet")
        XCTAssertEqual(object["location"] as? String, "hijack.c:57")
        XCTAssertEqual(object["action"] as? String, "killed")
        XCTAssertEqual(object["killed"] as? Bool, true)
        XCTAssertEqual(object["reason"] as? String, "not allowed here")
        XCTAssertEqual(object["seq"] as? Int, 42)
        XCTAssertEqual(
            object["stack"] as? [String], ["greet() (indirect) in main at hijack.c:57", "main() (program entry)"])
        XCTAssertEqual(object["allowed"] as? [String], ["printf() at hijack.c:18"])
        XCTAssertTrue(object["note"] is NSNull)
    }

    func testUnexplainedEventKeepsTheRawRecordAndSaysWhy() throws {
        let event = try hijackEvent(note: "cannot explain it with /root/hijack.dyck: gone")
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(event.jsonLine.utf8)) as? [String: Any])
        XCTAssertEqual(object["note"] as? String, "cannot explain it with /root/hijack.dyck: gone")
        XCTAssertTrue(object["policy_file"] is NSNull)
        XCTAssertEqual(object["event"] as? String, "call of libc function #0")
        XCTAssertTrue(event.text.contains("note:     cannot explain it"), event.text)
        XCTAssertTrue(event.text.contains("record:   reason 3 syscall 999 kind 1 id 0 tag 0x40000001"), event.text)
        XCTAssertFalse(event.text.contains("allowed:"), event.text)
        XCTAssertTrue(try hijackEvent().text.contains("  allowed:  printf() at hijack.c:18\n"))
    }

    /// A log-mode thread that ended still lost (reason 28): the JSON line has its
    /// unchecked events; other lines have no such key.
    func testUnresynchronisedThreadHasItsUncheckedEvents() throws {
        let m = try MacroMachine(policy: try Policy.parse(ViolationReportTests.policyText), mode: .dyck)
        let record = ViolationRecord(
            sequence: 43, pid: 7, tid: 7, command: "hijack", policyID: 3, reason: 28, action: 2, syscall: 0,
            kind: 0, id: 12, tag: 0x4000_0001, macroState: UInt32(m.siteEntries[1]), depth: 2, flags: 0,
            stack: [0x4000_0001, 0])
        let event = SandboxEvent(
            record: record, time: 1_796_617_800_123_000_000, source: nil,
            report: ViolationReport(record: record, machine: m), note: nil)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(event.jsonLine.utf8)) as? [String: Any])
        XCTAssertEqual(object["unchecked_events"] as? Int, 12)
        XCTAssertEqual(object["event_kind"] as? String, "unchecked")
        XCTAssertEqual(object["action"] as? String, "logged")
        XCTAssertEqual(object["function"] as? String, "greet")
        XCTAssertEqual(object["allowed"] as? [String], [])
        XCTAssertTrue(event.text.contains("sbx: monitoring lost: pid 7 [hijack]: never resynchronised"), event.text)
        let other = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(try hijackEvent().jsonLine.utf8)) as? [String: Any])
        XCTAssertNil(other["unchecked_events"])
    }

    func testJSONEscapes() {
        XCTAssertEqual(JSONValue.string("a\"b\\c\u{1}\té").encoded, "\"a\\\"b\\\\c\\u0001\\té\"")
        XCTAssertEqual(
            JSONValue.object([("k", .array([.null, .bool(false), .int(-3)]))]).encoded, "{\"k\":[null,false,-3]}")
    }

    func testJournalFieldsOfAKill() throws {
        let fields = Dictionary(try hijackEvent().journalFields, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(fields["SBX_POLICY"], "3")
        XCTAssertEqual(fields["SBX_EXE"], "/root/hijack")
        XCTAssertEqual(fields["SBX_EVENT"], "call of libc function fprintf()")
        XCTAssertEqual(fields["SBX_FUNCTION"], "greet")
        XCTAssertEqual(fields["SBX_LOCATION"], "hijack.c:57")
        XCTAssertEqual(fields["SBX_ACTION"], "killed")
        XCTAssertEqual(fields["PRIORITY"], "4")
        XCTAssertEqual(fields["SYSLOG_IDENTIFIER"], "sbx")
        XCTAssertEqual(
            fields["MESSAGE"],
            "sbx: KILLED: pid 7 [hi\"jack\n]: not allowed here: call of libc function fprintf() in greet() at hijack.c:57"
        )
        XCTAssertEqual(fields["SBX_STACK"], "greet() (indirect) in main at hijack.c:57\nmain() (program entry)")
    }

    func testJournalNativeEncoding() {
        let bytes = JournalProtocol.encode([("MESSAGE", "one line"), ("SBX_STACK", "a\nb")])
        let expected = Array("MESSAGE=one line\nSBX_STACK\n".utf8) + [3, 0, 0, 0, 0, 0, 0, 0] + Array("a\nb\n".utf8)
        XCTAssertEqual(bytes, expected)
        XCTAssertEqual(JournalProtocol.encode([("EMPTY", "")]), Array("EMPTY=\n".utf8))
    }

    /// A datagram reaches a socket bound at a path, as journald's would.
    func testJournalSendToADatagramSocket() throws {
        let path = NSTemporaryDirectory() + "/sbx-journal-\(getpid()).sock"
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd); unlink(path) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() { raw[i] = b }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        XCTAssertEqual(bound, 0)
        XCTAssertNil(JournalProtocol.send([("SBX_POLICY", "3"), ("SBX_STACK", "x\ny")], socketPath: path))
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
        XCTAssertEqual(
            Array(buffer.prefix(max(n, 0))), JournalProtocol.encode([("SBX_POLICY", "3"), ("SBX_STACK", "x\ny")]))
        XCTAssertEqual(JournalProtocol.send([("A", "b")], socketPath: path + ".none"), ENOENT)
    }

    func testSinceTimes() {
        let now: Int64 = 1_800_000_000_000_000_000
        XCTAssertEqual(parseSinceTime("@100", now: now), 100_000_000_000)
        XCTAssertEqual(parseSinceTime("300", now: now), now - 300_000_000_000)
        XCTAssertEqual(parseSinceTime("5m", now: now), now - 300_000_000_000)
        XCTAssertEqual(parseSinceTime("2h", now: now), now - 7_200_000_000_000)
        XCTAssertEqual(parseSinceTime("now", now: now), now)
        XCTAssertEqual(parseSinceTime("2026-12-07T04:30:00Z", now: now), 1_796_617_800_000_000_000)
        XCTAssertEqual(parseSinceTime("2026-12-07T04:30:00.5Z", now: now), 1_796_617_800_500_000_000)
        XCTAssertEqual(parseSinceTime("2026-12-07T06:30:00+02:00", now: now), 1_796_617_800_000_000_000)
        XCTAssertEqual(parseSinceTime("2026-12-07T00:30:00-04:00", now: now), 1_796_617_800_000_000_000)
        XCTAssertEqual(parseSinceTime("2026-12-07Z", now: now), 1_796_601_600_000_000_000)
        XCTAssertNil(parseSinceTime("bogus", now: now))
        XCTAssertNil(parseSinceTime("2026-13-01", now: now))
        XCTAssertNil(parseSinceTime("2026-12-07T25:00", now: now))
        XCTAssertNil(parseSinceTime("", now: now))
    }

    /// The registry's file keeps the policy path after a tab; older lines still read.
    func testRememberedPolicyPath() throws {
        let file = NSTemporaryDirectory() + "/sbx-installed-\(getpid())"
        let saved = Registry.pathsFile
        Registry.pathsFile = file
        defer { Registry.pathsFile = saved; unlink(file) }
        let digest = String(repeating: "ab", count: 32)
        try ("1:2 \(digest) /usr/bin/my prog\t/etc/sbx/my prog.dyck\n3:4 \(digest) /bin/x\n5:6 /old/format path\n")
            .write(toFile: file, atomically: true, encoding: .utf8)
        let entries = Registry.remembered()
        XCTAssertEqual(
            entries["1:2"],
            Registry.Remembered(
                path: "/usr/bin/my prog", digest: digest,
                policy: "/etc/sbx/my prog.dyck"))
        XCTAssertEqual(entries["3:4"], Registry.Remembered(path: "/bin/x", digest: digest, policy: nil))
        XCTAssertEqual(entries["5:6"], Registry.Remembered(path: "/old/format path", digest: nil, policy: nil))
    }
}
