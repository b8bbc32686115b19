import TestSupport
import Foundation
import XCTest

/// Runs the built executables as a user would, and captures what they print.
enum CLI {
    /// The directory holding the test runner is the build products directory, where
    /// `swift build` put `dyck-gen` and `sbx`.
    static let binDir: URL = BuiltProducts.directory(holding: "sbx")

    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ tool: String, _ arguments: [String], environment: [String: String]? = nil) throws -> Result {
        let path = tool.hasPrefix("/") ? tool : binDir.appendingPathComponent(tool).path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw XCTSkip("\(path) is not built; run `swift build` before `swift test` (the Makefile does)")
        }
        // These tests show the model's mechanisms on call sites (the single-copy nfa's
        // impossible paths, call edges in pictures, diffs of sites) that inlining small
        // callees would remove: dyck-gen runs at K=0 unless a test asks for a K.
        // Inlining has its own tests (InlineTests, InliningGoldenTests).
        var arguments = arguments
        if tool == "dyck-gen" && !arguments.isEmpty
            && !arguments.contains(where: {
                $0.hasPrefix("--inline-limit") || ["--version", "--help", "-h"].contains($0)
            })
        {
            arguments.append("--inline-limit=0")
        }
        let outcome = try ProcessRunner.run(path, arguments, environment: environment)
        return Result(status: outcome.status, stdout: outcome.stdoutText, stderr: outcome.stderrText)
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sbx-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Compiles C source to textual IR with clang-19 at -O0 with debug info.
    static func compile(_ source: String, name: String, in dir: URL, flags: [String] = ["-O0", "-g"]) throws -> URL {
        let c = dir.appendingPathComponent("\(name).c")
        let ll = dir.appendingPathComponent("\(name).ll")
        try source.write(to: c, atomically: true, encoding: .utf8)
        let result = try run("/usr/bin/clang-19", flags + ["-S", "-emit-llvm", "-w", c.path, "-o", ll.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        return ll
    }
}
