import DyckAnalysis
import DyckModel
import Foundation
import XCTest
import TestSupport

/// Policies of real C programs: the analysis fixtures, compiled with clang-19 and
/// analysed in-process.
enum RealPolicies {
    static let fixtures = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("DyckAnalysisTests/Fixtures")

    static var fixtureNames: [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: fixtures.path)) ?? []
        return files.filter { $0.hasSuffix(".c") }.map { String($0.dropLast(2)) }.sorted()
    }

    static let workDirectory: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sbx-blob-tests-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    static func clang() throws -> String {
        for candidate in ["/usr/bin/clang-19", "/usr/lib/llvm-19/bin/clang"]
        where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        throw XCTSkip("clang-19 is not installed")
    }

    /// The policy of fixture `name`.c compiled at `level`.
    static func analyze(_ name: String, _ level: String) throws -> Policy {
        let source = fixtures.appendingPathComponent(name + ".c").path
        let ir = workDirectory.appendingPathComponent("\(name)\(level).ll").path
        let outcome = try ProcessRunner.run(try clang(), [level, "-g", "-S", "-emit-llvm", "-w", source, "-o", ir])
        guard outcome.shellStatus == 0 else {
            throw XCTSkip("clang-19 failed on \(name).c")
        }
        return try analyzeIR(atPath: ir).policy
    }
}
