import TestSupport
import Foundation
import XCTest

/// Runs `dyck-cc`, clang-19, make and the built programs as a user would, each test in
/// its own directory and with its own TMPDIR, so that a test can check that dyck-cc
/// left no temporary file behind.
final class Workspace {
    let root: URL
    let tmp: URL

    /// The products directory that holds the test bundle also holds `dyck-cc`.
    static let binDir: URL = BuiltProducts.directory(holding: "dyck-cc")

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static var dyckCC: String { binDir.appendingPathComponent("dyck-cc").path }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    init() throws {
        guard FileManager.default.isExecutableFile(atPath: Workspace.dyckCC) else {
            throw XCTSkip("\(Workspace.dyckCC) is not built; run `swift build` before `swift test`")
        }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/clang-19") else {
            throw XCTSkip("clang-19 is not installed")
        }
        root = FileManager.default.temporaryDirectory.appendingPathComponent("dyck-cc-test-\(UUID().uuidString)")
        tmp = root.appendingPathComponent("tmp")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: root)
    }

    /// A copy of fixture project `name` in a new directory of the workspace.
    func copyFixture(_ name: String, as copy: String? = nil) throws -> URL {
        let destination = root.appendingPathComponent(copy ?? name)
        try FileManager.default.copyItem(at: Workspace.fixtures.appendingPathComponent(name), to: destination)
        return destination
    }

    func directory(_ name: String) throws -> URL {
        let url = root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Runs `executable` (a path, or a name looked up in PATH) in `directory`.
    @discardableResult
    func run(_ executable: String, _ arguments: [String], in directory: URL, environment extra: [String: String] = [:])
        throws -> Result
    {
        let (path, argv) =
            executable.contains("/") ? (executable, arguments) : ("/usr/bin/env", [executable] + arguments)
        var environment = ProcessInfo.processInfo.environment
        environment["TMPDIR"] = tmp.path
        environment["LC_ALL"] = "C"
        environment.removeValue(forKey: "DYCK_CC_VERBOSE")
        let outcome = try ProcessRunner.run(
            path, argv, environment: environment, extraEnvironment: extra, directory: directory)
        return Result(status: outcome.status, stdout: outcome.stdoutText, stderr: outcome.stderrText)
    }

    @discardableResult
    func dyckCC(_ arguments: [String], in directory: URL, environment: [String: String] = [:]) throws -> Result {
        try run(Workspace.dyckCC, arguments, in: directory, environment: environment)
    }

    @discardableResult
    func clang(_ arguments: [String], in directory: URL) throws -> Result {
        try run("/usr/bin/clang-19", arguments, in: directory)
    }

    /// Runs a command that must succeed, and returns what it printed.
    @discardableResult
    func succeed(
        _ executable: String, _ arguments: [String], in directory: URL, environment: [String: String] = [:],
        file: StaticString = #filePath, line: UInt = #line
    ) throws -> Result {
        let result = try run(executable, arguments, in: directory, environment: environment)
        XCTAssertEqual(
            result.status, 0,
            "\(executable) \(arguments.joined(separator: " ")) failed:\n\(result.stdout)\n\(result.stderr)",
            file: file, line: line)
        return result
    }

    /// dyck-cc must clean up after itself, whatever happened.
    func assertNoTemporariesLeft(file: StaticString = #filePath, line: UInt = #line) {
        let left = (try? FileManager.default.contentsOfDirectory(atPath: tmp.path)) ?? []
        XCTAssertEqual(left, [], "temporary files left in TMPDIR", file: file, line: line)
    }

    func read(_ url: URL) -> String {
        (try? String(contentsOf: url, encoding: .utf8)) ?? ""
    }

    func exists(_ url: URL) -> Bool {
        FileManager.default.fileExists(atPath: url.path)
    }

    /// Function names in a policy file (`func INDEX NAME ...` lines).
    func policyFunctions(_ url: URL) -> Set<String> {
        Set(
            read(url).split(separator: "\n").compactMap { line -> String? in
                let fields = line.split(separator: " ")
                guard fields.count >= 3, fields[0] == "func" else { return nil }
                return String(fields[2])
            })
    }

    /// Entries of a directory that look like leftovers of an interrupted write.
    func strayFiles(in directory: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter {
            $0.contains(".dyck-cc-")
        }
    }
}

/// Written by one reader thread, read after it has finished (the group's wait orders them).
private final class Collected: @unchecked Sendable {
    var data = Data()
}
