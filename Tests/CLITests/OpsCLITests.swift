import Foundation
import XCTest

/// Issue 18's operator-facing options that work without the kernel module: the
/// version and commit, the --json outputs and their one key style, the policy
/// directory's errors before any kernel change. (The kernel side is in
/// Tests/e2e/guest.sh.)
final class OpsCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = try CLI.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    /// kmod/dkms.conf's PACKAGE_VERSION: the module's version, which the tools' must equal.
    func dkmsVersion() throws -> String {
        let conf = try String(contentsOf: CLI.packageRoot.appendingPathComponent("kmod/dkms.conf"), encoding: .utf8)
        let line = try XCTUnwrap(conf.split(separator: "\n").first { $0.hasPrefix("PACKAGE_VERSION=") })
        return line.dropFirst("PACKAGE_VERSION=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
    }

    func testVersionAndCommit() throws {
        let version = try dkmsVersion()
        XCTAssertFalse(version.isEmpty)
        // A plain `swift build` says "unknown"; the Makefile's builds name the commit.
        let pattern = try NSRegularExpression(pattern: "^(\\S+) (\\S+) \\(commit ([0-9a-f]{12}(-dirty)?|unknown)\\)\n$")
        for (tool, option) in [("sbx", "--version"), ("dyck-gen", "--version"), ("dyck-cc", "--dyck-version")] {
            let result = try CLI.run(tool, [option])
            XCTAssertEqual(result.status, 0, "\(tool) \(option): \(result.stderr)")
            let text = result.stdout
            let match = try XCTUnwrap(
                pattern.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)),
                "\(tool) \(option): '\(text)'")
            XCTAssertEqual((text as NSString).substring(with: match.range(at: 1)), tool)
            XCTAssertEqual(
                (text as NSString).substring(with: match.range(at: 2)), version,
                "\(tool)'s version is kmod/dkms.conf's")
        }
        // dyck-cc's --version stays clang's.
        let clang = try CLI.run("dyck-cc", ["--version"])
        XCTAssertTrue(clang.stdout.contains("clang version"), clang.stdout)
        XCTAssertEqual(try CLI.run("dyck-cc", ["--dyck-versio"]).status, 2)
    }

    func json(_ text: String, _ what: String) throws -> [String: Any] {
        let value = try JSONSerialization.jsonObject(with: Data(text.utf8))
        return try XCTUnwrap(value as? [String: Any], "\(what): not an object: \(text)")
    }

    /// Every key, recursively, is snake_case.
    func assertSnakeCase(_ value: Any, _ path: String = "", file: StaticString = #filePath, line: UInt = #line) {
        if let object = value as? [String: Any] {
            for (key, inner) in object {
                XCTAssertNotNil(
                    key.range(of: "^[a-z][a-z0-9_]*$", options: .regularExpression),
                    "key '\(path).\(key)' is not snake_case", file: file, line: line)
                assertSnakeCase(inner, path + "." + key, file: file, line: line)
            }
        } else if let array = value as? [Any] {
            for inner in array { assertSnakeCase(inner, path + "[]", file: file, line: line) }
        }
    }

    func testStatusJSONWithoutTheModule() throws {
        let missing = dir.appendingPathComponent("no-sbx").path
        let status = try CLI.run("sbx", ["status", "--json", "--device", missing])
        XCTAssertEqual(status.status, 101, status.stderr)
        let object = try json(status.stdout, "status --json")
        XCTAssertEqual(object["loaded"] as? Bool, false)
        XCTAssertEqual(object["device"] as? String, missing)
        XCTAssertEqual(try CLI.run("sbx", ["policy", "list", "--json", "--device", missing]).status, 101)
    }

    func testStatsJSON() throws {
        let source = CLI.packageRoot.appendingPathComponent("Tests/DyckInstrumentTests/Programs/jumps.c")
        let exe = dir.appendingPathComponent("jumps")
        XCTAssertEqual(try CLI.run("dyck-cc", ["-O0", "-g", "-o", exe.path, source.path]).status, 0)
        let policy = exe.path + ".dyck"
        let trace = dir.appendingPathComponent("jumps.trace").path
        XCTAssertEqual(try CLI.run("sbx", ["record", "-o", trace, "--", exe.path]).status, 0)

        let text = try CLI.run("sbx", ["stats", policy, "--trace", trace, "--places", "2"])
        XCTAssertEqual(text.status, 0, text.stderr)
        let stats = try CLI.run("sbx", ["stats", policy, "--json", "--trace", trace, "--places", "2"])
        XCTAssertEqual(stats.status, 0, stats.stderr)
        let object = try json(stats.stdout, "stats --json")
        assertSnakeCase(object)
        XCTAssertEqual(object["policy"] as? String, policy)
        XCTAssertEqual(object["kind"] as? String, "dyck")
        let modes = try XCTUnwrap(object["modes"] as? [[String: Any]])
        XCTAssertEqual(modes.compactMap { $0["mode"] as? String }, ["dyck", "nfa-machine"])
        // The same figures as the table: states and call sites of the dyck row.
        let dyckRow = try XCTUnwrap(text.stdout.split(separator: "\n").first { $0.hasPrefix("dyck ") })
            .split(separator: " ").map(String.init)
        XCTAssertEqual(modes[0]["states"] as? Int, Int(dyckRow[1]))
        XCTAssertEqual(modes[0]["edges"] as? Int, Int(dyckRow[2]))
        XCTAssertEqual(modes[0]["call_sites"] as? Int, Int(dyckRow[3]))
        XCTAssertNotNil(modes[0]["static_abf"] as? Double)
        let run = try XCTUnwrap(object["run_abf"] as? [String: Any], stats.stdout)
        let runLine = try XCTUnwrap(text.stdout.split(separator: "\n").first { $0.hasPrefix("run-abf: ") })
        XCTAssertTrue(runLine.contains("positions=\(try XCTUnwrap(run["positions"] as? Int)) "), "\(runLine) vs \(run)")
        XCTAssertEqual(run["traces"] as? Int, 1)
        let dyck = try XCTUnwrap(run["dyck"] as? Double), nfa = try XCTUnwrap(run["nfa"] as? Double)
        XCTAssertLessThanOrEqual(dyck, nfa)
        XCTAssertTrue(runLine.contains(String(format: "dyck=%.2f ", dyck)), "\(runLine) vs \(dyck)")
        let places = try XCTUnwrap(object["places"] as? [[String: Any]])
        XCTAssertEqual(places.count, min(2, try XCTUnwrap(object["places_total"] as? Int)))
        XCTAssertNotNil(places.first?["function"] as? String)
        // No trace: no run-based figures.
        let plain = try json(try CLI.run("sbx", ["stats", policy, "--json"]).stdout, "stats --json")
        XCTAssertNil(plain["run_abf"])
        // A bad trace: the error and no JSON.
        let bad = dir.appendingPathComponent("bad.trace").path
        try "garbage\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let failed = try CLI.run("sbx", ["stats", policy, "--json", "--trace", bad])
        XCTAssertEqual(failed.status, 2)
        XCTAssertEqual(failed.stdout, "")
    }

    /// `sbx policy install` checks the policy directory before touching the kernel:
    /// a directory that cannot be created is status 3 even without the module;
    /// --runtime does not save, so it gets as far as the device (101 here).
    func testInstallChecksThePolicyDirectoryFirst() throws {
        let missing = dir.appendingPathComponent("no-sbx").path
        let file = dir.appendingPathComponent("plain-file")
        try "x".write(to: file, atomically: true, encoding: .utf8)
        let blocked = file.path + "/policies"
        let install = try CLI.run(
            "sbx",
            [
                "policy", "install", "p.dyck", "--exe", "/bin/true", "--policy-dir", blocked,
                "--device", missing
            ])
        XCTAssertEqual(install.status, 3, install.stderr)
        XCTAssertTrue(install.stderr.contains(blocked), install.stderr)
        // The same through the environment variable.
        var environment = ProcessInfo.processInfo.environment
        environment["SBX_POLICY_DIR"] = blocked
        let viaEnvironment = try CLI.run(
            "sbx", ["policy", "install", "p.dyck", "--exe", "/bin/true", "--device", missing],
            environment: environment)
        XCTAssertEqual(viaEnvironment.status, 3, viaEnvironment.stderr)
        XCTAssertTrue(viaEnvironment.stderr.contains(blocked), viaEnvironment.stderr)
        let runtime = try CLI.run(
            "sbx",
            [
                "policy", "install", "p.dyck", "--exe", "/bin/true", "--policy-dir", blocked,
                "--runtime", "--device", missing
            ])
        XCTAssertEqual(runtime.status, 101, runtime.stderr)
        // A usable directory: created (with its parents), then the device is missing.
        let fresh = dir.appendingPathComponent("etc/sbx/policies").path
        let created = try CLI.run(
            "sbx",
            [
                "policy", "install", "p.dyck", "--exe", "/bin/true", "--policy-dir", fresh,
                "--device", missing
            ])
        XCTAssertEqual(created.status, 101, created.stderr)
        var isDirectory: ObjCBool = false
        XCTAssertTrue(FileManager.default.fileExists(atPath: fresh, isDirectory: &isDirectory) && isDirectory.boolValue)
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: fresh), [], "nothing saved without the kernel")
    }

    func testLoadAllErrors() throws {
        let missing = dir.appendingPathComponent("no-sbx").path
        // An empty or missing directory still needs the module (the service must not
        // pass silently without it).
        let none = try CLI.run(
            "sbx",
            [
                "policy", "load-all", "--policy-dir", dir.appendingPathComponent("none").path,
                "--device", missing
            ])
        XCTAssertEqual(none.status, 101, none.stderr)
        // A directory that cannot be read: 2, naming it.
        let file = dir.appendingPathComponent("plain-file")
        try "x".write(to: file, atomically: true, encoding: .utf8)
        let unreadable = try CLI.run("sbx", ["policy", "load-all", "--policy-dir", file.path, "--device", missing])
        XCTAssertEqual(unreadable.status, 2, unreadable.stderr)
        XCTAssertTrue(unreadable.stderr.contains(file.path), unreadable.stderr)
        XCTAssertEqual(try CLI.run("sbx", ["policy", "load-all", "--help"]).status, 0)
    }
}
