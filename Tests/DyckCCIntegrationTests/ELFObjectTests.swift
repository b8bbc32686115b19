import Foundation
import SbxSystem
import TestSupport
import XCTest

@testable import DyckCC

/// `ELFObject` over `SbxSystem.ELFFile`: what the driver takes from a real object, and
/// a malformed object refused with an error naming it (an archive member by
/// `archive(member)`), never read as an object without sections.
final class ELFObjectTests: XCTestCase {
    func testRealObjectAndTruncatedCopies() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dyckcc-elf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = dir.appendingPathComponent("o.c")
        try """
        __attribute__((section(".dyck.cc"), used)) static const char record[] = "-O1\\n-DX=1";
        extern int needed(int);
        extern int maybe(void) __attribute__((weak));
        int defined_here(int x) { return needed(x) + (maybe ? maybe() : 0); }

        """.write(to: source, atomically: true, encoding: .utf8)
        let object = dir.appendingPathComponent("o.o").path
        let clang = try ProcessRunner.run("/usr/bin/clang-19", ["-c", "-O1", "-o", object, source.path])
        XCTAssertEqual(clang.status, 0, clang.stderrText)
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: object)))

        let parsed = try ELFObject(bytes: bytes[...], path: object)
        XCTAssertEqual(parsed.defined, ["defined_here"])
        XCTAssertEqual(parsed.undefined, ["needed"], "weak references must not be listed")
        // The section holds the string and its NUL; split on lines as the driver does.
        XCTAssertEqual(parsed.flags, ["-O1", "-DX=1\u{0}"])
        XCTAssertNil(parsed.bitcode)

        for cut in [bytes.count / 2, bytes.count - 1] {
            let name = "lib.a(o.o)"
            XCTAssertThrowsError(try ELFObject(bytes: bytes.prefix(cut), path: name), "cut at \(cut)") { error in
                guard let error = error as? ELFError else { return XCTFail("\(error)") }
                XCTAssertEqual(error.path, name)
            }
        }
    }
}
