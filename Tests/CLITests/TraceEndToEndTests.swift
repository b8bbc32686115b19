import Foundation
import XCTest

/// The whole offline loop on real programs: build with `dyck-cc`, run under
/// `sbx record`, and check the recorded marker trace against the policy with
/// `sbx check --trace`. The program's own traces must be accepted, at -O0 and -O2,
/// in both models; a trace with a libc event moved out of order must be refused.
final class TraceEndToEndTests: XCTestCase {
    static let programs = CLI.packageRoot.appendingPathComponent("Tests/DyckInstrumentTests/Programs")
    static let multiProject = CLI.packageRoot.appendingPathComponent("Tests/DyckCCIntegrationTests/Fixtures/multi")

    var dir: URL!

    override func setUpWithError() throws {
        dir = try CLI.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func sources() throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: Self.programs, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "c" }.sorted { $0.path < $1.path }
    }

    /// Records `exe` with `args`, checks that the recorded run behaved like the plain
    /// build, and returns the trace path.
    func record(_ exe: URL, _ args: [String], plain: URL, tag: String) throws -> String {
        let trace = dir.appendingPathComponent("\(tag).trace").path
        let recorded = try CLI.run("sbx", ["record", "-o", trace, "--", exe.path] + args)
        let reference = try CLI.run(plain.path, args)
        XCTAssertEqual(recorded.status, reference.status, "\(tag): exit status under sbx record")
        XCTAssertEqual(recorded.stdout, reference.stdout, "\(tag): stdout under sbx record")
        XCTAssertEqual(recorded.stderr, reference.stderr, "\(tag): stderr under sbx record")
        return trace
    }

    func assertAccepted(_ policy: String, _ trace: String, _ tag: String) throws {
        for mode in ["dyck", "nfa"] {
            let check = try CLI.run("sbx", ["check", policy, "--trace", trace, "--mode", mode])
            XCTAssertEqual(check.status, 0, "\(tag) (\(mode)): \(check.stdout)\(check.stderr)")
        }
    }

    func testProgramsOwnTracesAreAccepted() throws {
        for source in try sources() {
            let name = source.deletingPathExtension().lastPathComponent
            for level in ["-O0", "-O2"] {
                let tag = "\(name)\(level)"
                let exe = dir.appendingPathComponent(tag)
                let plain = dir.appendingPathComponent(tag + ".plain")
                let build = try CLI.run("dyck-cc", [level, "-g", "-o", exe.path, source.path, "-lpthread"])
                XCTAssertEqual(build.status, 0, "\(tag): \(build.stderr)")
                let reference = try CLI.run("/usr/bin/clang-19", [level, "-o", plain.path, source.path, "-lpthread"])
                XCTAssertEqual(reference.status, 0, reference.stderr)
                for args in [[], ["a", "b", "c", "d", "e", "f"]] {
                    let trace = try record(exe, args, plain: plain, tag: "\(tag)-\(args.count)")
                    try assertAccepted(exe.path + ".dyck", trace, "\(tag) \(args)")
                }
            }
        }
    }

    func testMultiFileProjectTraceIsAccepted() throws {
        let project = dir.appendingPathComponent("multi")
        try FileManager.default.copyItem(at: Self.multiProject, to: project)
        let make = try CLI.run(
            "/usr/bin/make", ["-s", "-C", project.path, "CC=\(CLI.binDir.path)/dyck-cc", "CFLAGS=-O2 -g"])
        XCTAssertEqual(make.status, 0, make.stderr)
        let exe = project.appendingPathComponent("prog")
        let plainDir = dir.appendingPathComponent("plain")
        try FileManager.default.copyItem(at: Self.multiProject, to: plainDir)
        XCTAssertEqual(try CLI.run("/usr/bin/make", ["-s", "-C", plainDir.path, "CC=clang-19", "CFLAGS=-O2"]).status, 0)
        let trace = try record(exe, ["alpha", "beta"], plain: plainDir.appendingPathComponent("prog"), tag: "multi")
        try assertAccepted(exe.path + ".dyck", trace, "multi")
    }

    /// Moving a libc event earlier in a real trace takes the run out of the policy.
    func testEditedTraceIsRefused() throws {
        let source = Self.programs.appendingPathComponent("jumps.c")
        let exe = dir.appendingPathComponent("jumps")
        XCTAssertEqual(try CLI.run("dyck-cc", ["-O0", "-g", "-o", exe.path, source.path]).status, 0)
        let trace = dir.appendingPathComponent("jumps.trace").path
        XCTAssertEqual(try CLI.run("sbx", ["record", "-o", trace, "--", exe.path]).status, 0)
        try assertAccepted(exe.path + ".dyck", trace, "jumps")

        var lines = try String(contentsOfFile: trace, encoding: .utf8).components(separatedBy: "\n")
        let libc = lines.indices.filter { lines[$0].hasPrefix("m ") && lines[$0].contains(" libc ") }
        let first = try XCTUnwrap(libc.first), last = try XCTUnwrap(libc.last)
        XCTAssertNotEqual(lines[first], lines[last], "the program makes different libc calls")
        let moved = lines.remove(at: last)
        lines.insert(moved, at: first)
        let edited = dir.appendingPathComponent("edited.trace").path
        try lines.joined(separator: "\n").write(toFile: edited, atomically: true, encoding: .utf8)

        let check = try CLI.run("sbx", ["check", exe.path + ".dyck", "--trace", edited])
        XCTAssertEqual(check.status, 1, check.stdout + check.stderr)
        XCTAssertTrue(check.stdout.contains("refused: libc"), check.stdout)
        XCTAssertTrue(check.stdout.contains("call stack: main"), check.stdout)
        XCTAssertTrue(check.stdout.contains("allowed here:"), check.stdout)
        XCTAssertTrue(check.stdout.contains("jumps.c:"), "sites are named with their source line: " + check.stdout)
    }

    /// A trace of one program checked against another's policy is bad input (2), said
    /// so, not a refusal about an out-of-range id: whether the traced program's file is
    /// there (recording another policy's digest) or gone.
    func testAnotherProgramsTraceIsSaidSo() throws {
        let jumps = dir.appendingPathComponent("jumps"), other = dir.appendingPathComponent("other")
        XCTAssertEqual(
            try CLI.run(
                "dyck-cc", ["-O0", "-g", "-o", jumps.path, Self.programs.appendingPathComponent("jumps.c").path]
            ).status, 0)
        let small = dir.appendingPathComponent("small.c")
        try "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n".write(
            to: small, atomically: true, encoding: .utf8)
        XCTAssertEqual(try CLI.run("dyck-cc", ["-O0", "-g", "-o", other.path, small.path]).status, 0)
        let trace = dir.appendingPathComponent("jumps.trace").path
        XCTAssertEqual(try CLI.run("sbx", ["record", "-o", trace, "--", jumps.path]).status, 0)
        // Control: its own policy accepts it.
        XCTAssertEqual(try CLI.run("sbx", ["check", jumps.path + ".dyck", "--trace", trace]).status, 0)

        let byDigest = try CLI.run("sbx", ["check", other.path + ".dyck", "--trace", trace])
        XCTAssertEqual(byDigest.status, 2, byDigest.stdout + byDigest.stderr)
        XCTAssertTrue(
            byDigest.stderr.contains("not a trace of the program of")
                && byDigest.stderr.contains("an id the policy does not have"), byDigest.stderr)

        try FileManager.default.removeItem(at: jumps)
        let byID = try CLI.run("sbx", ["check", other.path + ".dyck", "--trace", trace])
        XCTAssertEqual(byID.status, 2, byID.stdout + byID.stderr)
        XCTAssertTrue(
            byID.stderr.contains("not a trace of the program of")
                && byID.stderr.contains("an id the policy does not have"), byID.stderr)
    }

    /// `sbx stats --trace` of an unreadable trace: the error, and no table before it.
    func testStatsWithABadTracePrintsNoTable() throws {
        let source = Self.programs.appendingPathComponent("jumps.c")
        let exe = dir.appendingPathComponent("jumps")
        XCTAssertEqual(try CLI.run("dyck-cc", ["-O0", "-g", "-o", exe.path, source.path]).status, 0)
        let bad = dir.appendingPathComponent("bad.trace").path
        try "garbage\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let stats = try CLI.run("sbx", ["stats", exe.path + ".dyck", "--trace", bad])
        XCTAssertEqual(stats.status, 2, stats.stderr)
        XCTAssertEqual(stats.stdout, "", "no table")
        XCTAssertTrue(stats.stderr.contains("bad.trace:1: not an sbx trace"), stats.stderr)
        let table = try CLI.run("sbx", ["stats", exe.path + ".dyck"])
        XCTAssertTrue(
            table.stdout.contains("static-abf") && table.stdout.contains("not comparable between modes"), table.stdout)
    }

    /// The system calls of a recorded run: checked against the windows of dyck-cc's
    /// sets; one the window does not have, and io_uring, refused and named with the
    /// window; a policy without sets (version 1) and a trace without system calls
    /// (version 1) noted, not refused.
    func testSystemCallsOfATrace() throws {
        let source = Self.programs.appendingPathComponent("jumps.c")
        let exe = dir.appendingPathComponent("jumps")
        XCTAssertEqual(try CLI.run("dyck-cc", ["-O0", "-g", "-o", exe.path, source.path]).status, 0)
        let policy = exe.path + ".dyck"
        let trace = dir.appendingPathComponent("jumps.trace").path
        XCTAssertEqual(try CLI.run("sbx", ["record", "-o", trace, "--", exe.path]).status, 0)
        let text = try String(contentsOfFile: trace, encoding: .utf8)
        XCTAssertTrue(text.hasPrefix("sbx-trace 2\n"))
        let calls = text.components(separatedBy: "\n").filter { $0.hasPrefix("s ") }.count
        XCTAssertGreaterThan(calls, 10, "system-call lines")

        for mode in ["dyck", "nfa"] {
            let check = try CLI.run("sbx", ["check", policy, "--trace", trace, "--mode", mode])
            XCTAssertEqual(check.status, 0, check.stdout + check.stderr)
            XCTAssertTrue(
                check.stdout.contains(" markers and \(calls) system calls in 1 thread of 1 process (\(mode) mode)"),
                check.stdout)
        }

        // kexec_load (no libc function makes it) and io_uring_enter right after the
        // first libc marker.
        let lines = text.components(separatedBy: "\n")
        let first = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("m ") && $0.contains(" libc ") })
        let ids = lines[first].split(separator: " ")
        for (nr, name, why) in [
            (246, "kexec_load", "system call in neither the window's set nor the ambient set"),
            (426, "io_uring_enter", "io_uring, never allowed")
        ] {
            var edited = lines
            edited.insert("s \(ids[1]) \(ids[2]) \(nr) 0", at: first + 1)
            let path = dir.appendingPathComponent("\(name).trace").path
            try edited.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
            for mode in ["dyck", "nfa"] {
                let refused = try CLI.run("sbx", ["check", policy, "--trace", path, "--mode", mode])
                XCTAssertEqual(refused.status, 1, refused.stdout + refused.stderr)
                XCTAssertTrue(
                    refused.stdout.hasPrefix("refused: system call \(name) (\(nr)) (\(mode) mode)\n"), refused.stdout)
                XCTAssertTrue(refused.stdout.contains("  why: \(why)\n"), refused.stdout)
                XCTAssertTrue(refused.stdout.contains("  window: libc "), refused.stdout)
                XCTAssertTrue(refused.stdout.contains("event \(first + 1) of \(path)"), refused.stdout)
            }
        }

        // The policy without its sets, as policy format version 1 has it.
        var policyLines = try String(contentsOfFile: policy, encoding: .utf8).components(separatedBy: "\n")
        let sets = try XCTUnwrap(policyLines.firstIndex { $0.hasPrefix("syscall-sets ") })
        let ambient = try XCTUnwrap(policyLines.firstIndex { $0.hasPrefix("window ambient ") })
        policyLines.removeSubrange(sets...ambient)
        policyLines[0] = "dyck-policy 1"
        let unbound = dir.appendingPathComponent("unbound.dyck").path
        try policyLines.joined(separator: "\n").write(toFile: unbound, atomically: true, encoding: .utf8)
        let checkUnbound = try CLI.run("sbx", ["check", unbound, "--trace", trace])
        XCTAssertEqual(checkUnbound.status, 0, checkUnbound.stdout + checkUnbound.stderr)
        XCTAssertTrue(
            checkUnbound.stdout.contains(
                "system calls: not checked against windows: the policy has no system-call sets"),
            checkUnbound.stdout)

        // The same run as version 1 wrote it.
        let v1 =
            ["sbx-trace 1"]
            + text.components(separatedBy: "\n").dropFirst().filter { !$0.hasPrefix("s ") && !$0.hasPrefix("s32 ") }
        let old = dir.appendingPathComponent("v1.trace").path
        try v1.joined(separator: "\n").write(toFile: old, atomically: true, encoding: .utf8)
        let checkOld = try CLI.run("sbx", ["check", policy, "--trace", old])
        XCTAssertEqual(checkOld.status, 0, checkOld.stdout + checkOld.stderr)
        XCTAssertTrue(checkOld.stdout.contains("the trace (version 1) has no system calls"), checkOld.stdout)
    }

    func testTraceNeedsTheDyckPolicy() throws {
        let source = Self.programs.appendingPathComponent("errno.c")
        let exe = dir.appendingPathComponent("errno")
        XCTAssertEqual(try CLI.run("dyck-cc", ["-O0", "-o", exe.path, source.path]).status, 0)
        let trace = dir.appendingPathComponent("errno.trace").path
        _ = try CLI.run("sbx", ["record", "-o", trace, "--", exe.path])
        let flat = dir.appendingPathComponent("flat.dyck").path
        XCTAssertEqual(try CLI.run("sbx", ["convert", exe.path + ".dyck", "--to", "nfa", "-o", flat]).status, 0)
        let check = try CLI.run("sbx", ["check", flat, "--trace", trace])
        XCTAssertEqual(check.status, 2, check.stderr)
        XCTAssertTrue(check.stderr.contains("kind dyck"), check.stderr)
        let both = try CLI.run("sbx", ["check", flat, "--trace", trace, "--", "puts"])
        XCTAssertEqual(both.status, 2)
    }
}
