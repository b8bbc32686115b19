import CSbxDevice
import DyckModel
import SbxBlob
import XCTest
@testable import SbxRun

/// `sbx run --json-report`'s document (RunReport) is written by the shared
/// `JSONOutput` encoder: paths keep plain slashes and every key is snake_case
/// (specs/json-output.md).
final class RunReportTests: XCTestCase {
    func report() throws -> RunReport {
        let text = ViolationReportTests.policyText.replacingOccurrences(of: "@hijack.c", with: "@src/app/hijack.c")
        let m = try MacroMachine(policy: try Policy.parse(text), mode: .dyck)
        let record = ViolationRecord(
            pid: 7, tid: 7, command: "hijack", reason: UInt32(SBX_REASON_NOT_ALLOWED), kind: UInt64(SBX_MARK_LIBC),
            id: 0, tag: 0x4000_0001,
            macroState: UInt32(m.siteEntries[1]), depth: 2, flags: UInt32(SBX_REC_F_MARKER | SBX_REC_F_KILLED),
            stack: [0x4000_0001, 0])
        return RunReport(
            program: "/usr/local/bin/hijack", arguments: ["--conf", "/etc/hijack.conf"],
            policy: "/etc/sbx/policies/hijack.dyck", mode: "dyck", action: "kill", exec: "registry", status: 100,
            signal: 9, killed_by_monitor: true, violations: [ViolationReport(record: record, machine: m)],
            lost_threads: [], utime_us: 1, stime_us: 2, wall_ns: 3, markers: 4, records_dropped: 0,
            killed_descendants: [])
    }

    func testPathsAreWrittenWithPlainSlashes() throws {
        let json = try report().json()
        XCTAssertFalse(json.contains("\\/"), json)
        XCTAssertTrue(json.contains("\"/usr/local/bin/hijack\""), json)
        XCTAssertTrue(json.contains("\"/etc/hijack.conf\""), json)
        XCTAssertTrue(json.contains("\"/etc/sbx/policies/hijack.dyck\""), json)
        XCTAssertTrue(json.contains("\"src/app/hijack.c:57\""), json)
        XCTAssertTrue(json.hasSuffix("}\n"))
    }

    func testKeysAreSnakeCase() throws {
        let object = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(try report().json().utf8)) as? [String: Any])
        var keys: [String] = []
        func collect(_ value: Any) {
            if let d = value as? [String: Any] {
                keys += d.keys
                d.values.forEach(collect)
            } else if let a = value as? [Any] {
                a.forEach(collect)
            }
        }
        collect(object)
        XCTAssertTrue(keys.contains("killed_by_monitor"))
        XCTAssertTrue(keys.contains("stack_truncated"), "ViolationReport.stackTruncated")
        let bad = keys.filter { $0.range(of: "^[a-z][a-z0-9_]*$", options: .regularExpression) == nil }
        XCTAssertEqual(bad, [], "keys that are not snake_case")
        XCTAssertEqual(object["program"] as? String, "/usr/local/bin/hijack")
    }
}
