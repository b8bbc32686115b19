import TestSupport
import DyckModel
import SbxBlob
import Foundation
import XCTest
@testable import SbxRun

/// `sbx run`'s blob cache: named by contents only, so that `sbx blob --cache` on one
/// machine seeds what `sbx run` finds on another (a guest) that runs the same files.
final class BlobCacheTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("sbx-blobcache-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    static let program = #"""
        #include <stdio.h>
        #include <stdlib.h>

        static int by_value(const void *a, const void *b)
        {
            fputs("cmp\n", stderr);
            return *(const int *)a - *(const int *)b;
        }

        int main(void)
        {
            int v[] = { 3, 1, 2 };
            qsort(v, 3, sizeof v[0], by_value);
            printf("%d %d %d\n", v[0], v[1], v[2]);
            return 0;
        }
        """#

    /// Seeds the cache with the CLI in one directory, then binds a copy of the program
    /// and its policy elsewhere (other path, inode and times): the lookup is a hit,
    /// without parsing the policy, and gives the blob `sbx run` compiles on a miss.
    func testSeededEntryIsHitByACopyElsewhere() throws {
        let source = dir.appendingPathComponent("prog.c").path
        try Self.program.write(toFile: source, atomically: true, encoding: .utf8)
        let built = dir.appendingPathComponent("a/prog").path
        try FileManager.default.createDirectory(
            at: dir.appendingPathComponent("a"), withIntermediateDirectories: true)
        try Tools.mustRun(try Tools.binary("dyck-cc"), ["-O2", "-o", built, source])
        let cache = dir.appendingPathComponent("cache").path
        let seeded = try Tools.run(
            try Tools.binary("sbx"), ["blob", "--mode", "nfa", "--exe", built, "--cache", cache, built + ".dyck"])
        XCTAssertEqual(seeded.status, 0, seeded.stderr)
        XCTAssertTrue(seeded.stderr.contains("compiled into the cache"), seeded.stderr)
        let entry = seeded.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        // The compiler tag: SHA-256 of what `sbx --version` prints after "sbx ", as
        // sha256sum prints it, first 12 hex digits.
        let version = try Tools.run(try Tools.binary("sbx"), ["--version"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertTrue(version.hasPrefix("sbx "), version)
        let versionFile = dir.appendingPathComponent("version.txt").path
        try String(version.dropFirst(4)).write(toFile: versionFile, atomically: true, encoding: .utf8)
        let tag = try Tools.run("/usr/bin/sha256sum", [versionFile]).stdout.prefix(12)
        XCTAssertTrue(
            entry.hasPrefix(cache + "/") && entry.contains("-nfa-")
                && entry.hasSuffix("-v\(BlobLimits.version)-c\(tag).blob"), "\(entry) vs \(tag)")
        // Another compiler is another entry: an upgraded sbx does not load this one.
        let fd0 = try SandboxRun.openProgram(built)
        defer { close(fd0) }
        let bound0 = try SandboxRun.bind(path: built + ".dyck", program: built, exeFD: fd0)
        let other = SandboxRun.blobCacheFile(
            directory: cache, policyDigest: bound0.digest, pins: bound0.table.blobPins,
            eventBuffer: bound0.eventBuffer, mode: .nfa, bounds: StackBounds(), compiler: "000000000000")
        XCTAssertNotEqual(other, entry)
        let entryBytes = try XCTUnwrap(FileManager.default.contents(atPath: entry))
        // The name starts with the policy file's SHA-256, as sha256sum prints it.
        let sum = try Tools.run("/usr/bin/sha256sum", [built + ".dyck"]).stdout.prefix(64)
        XCTAssertTrue(entry.hasPrefix(cache + "/" + sum + "-"), "\(entry) vs \(sum)")

        // Seeding again keeps the entry.
        let again = try Tools.run(
            try Tools.binary("sbx"), ["blob", "--mode", "nfa", "--exe", built, "--cache", cache, built + ".dyck"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("already in the cache"), again.stderr)
        XCTAssertEqual(again.stdout, seeded.stdout)

        // A copy elsewhere, made later: other path, inode and modification time.
        let copyDir = dir.appendingPathComponent("b/c")
        try FileManager.default.createDirectory(at: copyDir, withIntermediateDirectories: true)
        let copy = copyDir.appendingPathComponent("renamed").path
        try FileManager.default.copyItem(atPath: built, toPath: copy)
        try FileManager.default.copyItem(atPath: built + ".dyck", toPath: copy + ".policy")
        try FileManager.default.setAttributes(
            [.modificationDate: Date(timeIntervalSince1970: 1_000_000)], ofItemAtPath: copy + ".policy")
        let fd = try SandboxRun.openProgram(copy)
        defer { close(fd) }
        let bound = try SandboxRun.bind(path: copy + ".policy", program: copy, exeFD: fd)
        XCTAssertEqual(
            SandboxRun.blobCacheFile(
                directory: cache, policyDigest: bound.digest, pins: bound.table.blobPins,
                eventBuffer: bound.eventBuffer, mode: .nfa, bounds: StackBounds()),
            entry)
        let hit = try SandboxRun.cachedBlob(bound, mode: .nfa, bounds: StackBounds(), directory: cache)
        XCTAssertNil(hit.enforced, "the seeded entry was not used")
        XCTAssertEqual(hit.blob, [UInt8](entryBytes))

        // What sbx run compiles without a cache is the seeded entry, byte for byte.
        let fresh = try SandboxRun.cachedBlob(bound, mode: .nfa, bounds: StackBounds(), directory: nil)
        XCTAssertNotNil(fresh.enforced)
        XCTAssertEqual(fresh.blob, hit.blob)

        // Another mode is another entry: a miss, compiled and then written.
        let dyck = try SandboxRun.cachedBlob(bound, mode: .dyck, bounds: StackBounds(), directory: cache)
        XCTAssertNotNil(dyck.enforced, "a dyck blob came from an nfa entry")
        XCTAssertNotEqual(dyck.blob, hit.blob)
        let dyckAgain = try SandboxRun.cachedBlob(bound, mode: .dyck, bounds: StackBounds(), directory: cache)
        XCTAssertNil(dyckAgain.enforced)
        XCTAssertEqual(dyckAgain.blob, dyck.blob)

        // Other stack bounds are another entry too.
        let deeper = try SandboxRun.cachedBlob(
            bound, mode: .nfa, bounds: StackBounds(stackLimit: 32, maxDepth: 500), directory: cache)
        XCTAssertNotNil(deeper.enforced)
    }

    /// A policy that is not the program's is refused before any cache look-up, as
    /// when it was parsed first: an entry cannot stand in for the binding check.
    func testWrongPolicyIsRefusedWithASeededCache() throws {
        let source = dir.appendingPathComponent("prog.c").path
        try Self.program.write(toFile: source, atomically: true, encoding: .utf8)
        let other = dir.appendingPathComponent("other.c").path
        try Self.program.replacingOccurrences(of: "return 0;", with: "puts(\"other\");\n    return 0;")
            .write(toFile: other, atomically: true, encoding: .utf8)
        let one = dir.appendingPathComponent("one").path
        let two = dir.appendingPathComponent("two").path
        try Tools.mustRun(try Tools.binary("dyck-cc"), ["-O2", "-o", one, source])
        try Tools.mustRun(try Tools.binary("dyck-cc"), ["-O2", "-o", two, other])
        let cache = dir.appendingPathComponent("cache").path
        for exe in [one, two] {
            let seeded = try Tools.run(
                try Tools.binary("sbx"), ["blob", "--exe", exe, "--cache", cache, exe + ".dyck"])
            XCTAssertEqual(seeded.status, 0, seeded.stderr)
        }
        let fd = try SandboxRun.openProgram(one)
        defer { close(fd) }
        XCTAssertThrowsError(try SandboxRun.bind(path: two + ".dyck", program: one, exeFD: fd)) { error in
            guard case RunError.wrongPolicy = error else { return XCTFail("\(error)") }
        }
        // A file that is no policy at all is reported as such.
        let garbage = dir.appendingPathComponent("garbage.dyck").path
        try "not a policy\n".write(toFile: garbage, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try SandboxRun.bind(path: garbage, program: one, exeFD: fd)) { error in
            guard case RunError.policyUnusable = error else { return XCTFail("\(error)") }
        }
    }
}
