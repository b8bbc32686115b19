import DyckModel
import Foundation
import SbxTrace
import XCTest

/// The offline false-positive hunt of the binding: real programs built with `dyck-cc`
/// (whose policy carries the system-call sets derived from this machine's libc,
/// `Policy.syscalls`) and recorded with `sbx record`, checked with `TraceChecker` in
/// both modes. Every system call of every run must be in its window.
///
/// (Before the start window covered the whole dynamic loader, this test found that
/// every program calls access, arch_prctl, set_tid_address, set_robust_list and rseq
/// before its first marker, outside the derived start set.)
final class DerivedSetsTests: XCTestCase {
    static let programs = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("DyckInstrumentTests/Programs")

    var dir: URL!

    override func setUpWithError() throws {
        dir = try Run.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func tool(_ name: String) throws -> String {
        let path = Run.binDir.appendingPathComponent(name).path
        guard FileManager.default.isExecutableFile(atPath: path) else { throw XCTSkip("\(path) is not built") }
        return path
    }

    func testProgramsRunInTheirWindows() throws {
        let sources = try FileManager.default.contentsOfDirectory(at: Self.programs, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "c" }.sorted { $0.path < $1.path }
        var failures: [String] = []
        var checked = 0
        for source in sources {
            let name = source.deletingPathExtension().lastPathComponent
            for level in ["-O0", "-O2"] {
                let exe = dir.appendingPathComponent(name + level)
                let build = try Run.process(
                    try tool("dyck-cc"), [level, "-g", "-o", exe.path, source.path, "-lpthread"])
                XCTAssertEqual(build.status, 0, "\(name)\(level): \(build.stderrText)")
                let policy = try Policy.load(path: exe.path + ".dyck")
                XCTAssertNotNil(policy.syscalls, "dyck-cc's policy carries the system-call sets")
                for args in [[], ["a", "b", "c", "d", "e", "f"]] {
                    let tracePath = dir.appendingPathComponent("\(name)\(level)-\(args.count).trace").path
                    _ = try Run.process(try Run.sbx(), ["record", "-o", tracePath, "--", exe.path] + args)
                    let trace = try Trace.load(path: tracePath)
                    for mode in [TraceChecker.Mode.dyck, .nfa] {
                        let outcome = try TraceChecker(policy: policy, mode: mode).check(trace)
                        XCTAssertTrue(outcome.systemCallsBound)
                        checked += outcome.checkedSystemCalls
                        if let refusal = outcome.refusal {
                            failures.append(
                                "\(name)\(level) \(args.count) args:\n" + refusal.report(mode: mode, path: tracePath))
                        }
                    }
                }
            }
        }
        print("derived sets: \(checked) system calls checked, \(failures.count) refusals")
        XCTAssertGreaterThan(checked, 1000)
        XCTAssertEqual(failures, [], failures.joined(separator: "\n"))
    }
}
