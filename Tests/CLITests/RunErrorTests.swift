import Foundation
import XCTest

/// `sbx run`, `sbx policy` and `sbx status` on the build machine, where the module is
/// never loaded: every error that can be found before the kernel is involved has
/// its documented status and names what is wrong. (The kernel side, with the module
/// loaded, is Tests/e2e in a guest.)
final class RunErrorTests: XCTestCase {
    var dir: URL!
    var exe: String { dir.appendingPathComponent("hello").path }
    let missingDevice = "/nonexistent/sbx-device"

    override func setUpWithError() throws {
        dir = try CLI.temporaryDirectory()
        let source = dir.appendingPathComponent("hello.c")
        try "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n".write(
            to: source, atomically: true, encoding: .utf8)
        let build = try CLI.run("dyck-cc", ["-O1", "-o", exe, source.path])
        XCTAssertEqual(build.status, 0, build.stderr)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func sbx(_ args: [String]) throws -> (status: Int32, stderr: String) {
        let r = try CLI.run("sbx", args)
        return (r.status, r.stderr)
    }

    func testModuleNotLoaded() throws {
        let r = try sbx(["run", "--device", missingDevice, "--", exe])
        XCTAssertEqual(r.status, 101)
        XCTAssertTrue(r.stderr.contains("kernel module is not loaded") && r.stderr.contains("insmod"), r.stderr)
        let status = try CLI.run("sbx", ["status", "--device", missingDevice])
        XCTAssertEqual(status.status, 101)
        XCTAssertTrue(status.stdout.contains("module: not loaded"), status.stdout)
        XCTAssertEqual(try sbx(["policy", "list", "--device", missingDevice]).status, 101)
    }

    /// The JSON report's target is checked before anything runs: a report that could
    /// not be written after the run would lose it and replace the program's status.
    func testJSONReportCheckedBeforeTheRun() throws {
        // Control: a writable target gets past the check, to the (missing) module.
        let fine = try sbx([
            "run", "--device", missingDevice, "--json-report", dir.appendingPathComponent("r.json").path, "--", exe
        ])
        XCTAssertEqual(fine.status, 101, fine.stderr)
        let missingDir = dir.appendingPathComponent("no-such-dir/r.json").path
        let r = try sbx(["run", "--device", missingDevice, "--json-report", missingDir, "--", exe])
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertTrue(r.stderr.contains(missingDir) && r.stderr.contains("No such file or directory"), r.stderr)
        let isDir = try sbx(["run", "--device", missingDevice, "--json-report", dir.path, "--", exe])
        XCTAssertEqual(isDir.status, 3, isDir.stderr)
        XCTAssertTrue(isDir.stderr.contains("is a directory"), isDir.stderr)
        // "-" is stdout: no file check, so the run goes on to the module.
        XCTAssertEqual(try sbx(["run", "--device", missingDevice, "--json-report", "-", "--", exe]).status, 101)
    }

    func testPolicyMissingOrCorrupt() throws {
        try FileManager.default.removeItem(atPath: exe + ".dyck")
        let missing = try sbx(["run", "--device", missingDevice, "--", exe])
        XCTAssertEqual(missing.status, 102)
        XCTAssertTrue(missing.stderr.contains("hello.dyck: no policy"), missing.stderr)
        let corrupt = dir.appendingPathComponent("corrupt.dyck").path
        try "dyck-policy 1\nkind dyck\n".write(toFile: corrupt, atomically: true, encoding: .utf8)
        let bad = try sbx(["run", "--device", missingDevice, "--policy", corrupt, "--", exe])
        XCTAssertEqual(bad.status, 102)
        XCTAssertTrue(bad.stderr.contains("corrupt.dyck"), bad.stderr)
        // Messages a user reads: a policy named with --policy is not "missing, give
        // --policy", and a parse error with a line number names the file once.
        let named = try sbx([
            "run", "--device", missingDevice, "--policy", dir.appendingPathComponent("nosuch.dyck").path, "--", exe
        ])
        XCTAssertEqual(named.status, 102)
        XCTAssertTrue(
            named.stderr.contains("nosuch.dyck: no such policy file") && !named.stderr.contains("give --policy"),
            named.stderr)
        XCTAssertTrue(
            missing.stderr.contains("or give --policy"), "the default file's message keeps the hint: " + missing.stderr)
        let truncated = dir.appendingPathComponent("trunc.dyck").path
        try "dyck-policy 1\nkind dyck\nfunc".write(toFile: truncated, atomically: true, encoding: .utf8)
        let cut = try sbx(["run", "--device", missingDevice, "--policy", truncated, "--", exe])
        XCTAssertEqual(cut.status, 102)
        XCTAssertEqual(
            cut.stderr.components(separatedBy: "trunc.dyck").count - 1, 1, "the file named once: " + cut.stderr)
        XCTAssertTrue(cut.stderr.contains("trunc.dyck:3:"), cut.stderr)
    }

    func testNotInstrumented() throws {
        let r = try sbx(["run", "--device", missingDevice, "--", "/bin/true"])
        XCTAssertEqual(r.status, 103)
        XCTAssertTrue(r.stderr.contains("/bin/true: not instrumented"), r.stderr)
    }

    /// A policy edited after the build (one comment line added) is not the one the
    /// executable records.
    func testWrongPolicy() throws {
        let edited = dir.appendingPathComponent("edited.dyck").path
        let text = try String(contentsOfFile: exe + ".dyck", encoding: .utf8)
        try text.replacingOccurrences(of: "module hello", with: "module other").write(
            toFile: edited, atomically: true, encoding: .utf8)
        let r = try sbx(["run", "--device", missingDevice, "--policy", edited, "--", exe])
        XCTAssertEqual(r.status, 105)
        XCTAssertTrue(r.stderr.contains("is not its policy"), r.stderr)
    }

    func testHelpListsTheExitStatuses() throws {
        let help = try CLI.run("sbx", ["run", "--help"])
        XCTAssertEqual(help.status, 0, help.stderr)
        let flat = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for text in ["USAGE: sbx run", "100 the monitor killed", "101 the kernel module", "105 the policy"] {
            XCTAssertTrue(flat.contains(text), "no '\(text)' in\n\(help.stdout)")
        }
    }

    func testProgramNotFoundAndUsage() throws {
        XCTAssertEqual(try sbx(["run", "--", dir.appendingPathComponent("nope").path]).status, 127)
        XCTAssertEqual(try sbx(["run", "--", "sbx-no-such-program-in-path"]).status, 127)
        XCTAssertEqual(try sbx(["run", "--mode", "pda", "--", exe]).status, 2)
        XCTAssertEqual(try sbx(["run", "--action", "ignore", "--", exe]).status, 2)
        let bound = try sbx(["run", "--stack-limit", "0", "--", exe])
        XCTAssertEqual(bound.status, 2)
        XCTAssertTrue(bound.stderr.contains("--stack-limit must be within 1..."), bound.stderr)
        XCTAssertEqual(try sbx(["policy", "install", "--max-depth", "0", "x.dyck", "--exe", exe]).status, 2)
        XCTAssertEqual(try sbx(["run"]).status, 2)
        let directory = try sbx(["run", "--", dir.path])
        XCTAssertEqual(directory.status, 126, directory.stderr)
    }
}
