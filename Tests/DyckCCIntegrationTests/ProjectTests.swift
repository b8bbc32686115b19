import Foundation
import XCTest
@testable import DyckCC

/// Whole projects built with dyck-cc, compared with the same projects built with clang-19.
final class ProjectTests: XCTestCase {
    /// The multi-file project (objects, a static library made by ar, -L/-l) built by
    /// make: the program behaves as clang-19's build does, and the policy covers the
    /// library.
    func testMakeProjectBehavesLikeClangBuild() throws {
        let ws = try Workspace()
        let dyck = try ws.copyFixture("multi", as: "dyck")
        let plain = try ws.copyFixture("multi", as: "plain")
        let build = try ws.succeed("make", ["CC=\(Workspace.dyckCC)", "AR=ar"], in: dyck)
        try ws.succeed("make", ["CC=clang-19", "AR=ar"], in: plain)

        XCTAssertTrue(ws.exists(dyck.appendingPathComponent("prog")))
        let policy = dyck.appendingPathComponent("prog.dyck")
        XCTAssertTrue(ws.exists(policy), "no policy next to the executable")
        let functions = ws.policyFunctions(policy)
        for name in ["main", "report", "fib", "text_reverse", "text_count", "num_parse", "num_sort", "compare"] {
            XCTAssertTrue(functions.contains(name), "policy lacks \(name): \(functions.sorted())")
        }
        for arguments in [[], ["a-b-c-d"]] {
            let mine = try ws.run(dyck.appendingPathComponent("prog").path, arguments, in: dyck)
            let theirs = try ws.run(plain.appendingPathComponent("prog").path, arguments, in: plain)
            XCTAssertEqual(mine.stdout, theirs.stdout)
            XCTAssertEqual(mine.stderr, theirs.stderr)
            XCTAssertEqual(mine.status, theirs.status)
            XCTAssertEqual(mine.status, 3)
        }

        // The summary names the marker counts of the instrumentation.
        let summary = build.stderr.split(separator: "\n").first { $0.hasPrefix("dyck-cc: prog: wrote") }
        XCTAssertNotNil(summary, build.stderr)
        print("multi-file project: \(summary ?? "")")
        let sites = try XCTUnwrap(
            summary.flatMap { line -> (Int, Int)? in
                guard let range = line.range(of: "instrumented ") else { return nil }
                let words = line[range.upperBound...].split(separator: " ")
                guard words.count > 2, let a = Int(words[0]), let b = Int(words[2]) else { return nil }
                return (a, b)
            })
        XCTAssertGreaterThan(sites.0, 0)
        XCTAssertLessThanOrEqual(sites.0, sites.1)

        // The objects carry bitcode and still are ordinary objects: clang-19 alone
        // links them (and the archive) into a program without the bitcode sections.
        let object = try ELFObject(bytes: Array(try Data(contentsOf: dyck.appendingPathComponent("util.o")))[...])
        XCTAssertNotNil(object.bitcode)
        XCTAssertEqual(CompileRecord(lines: object.flags)?.optimization, "-O0")
        try ws.succeed("/usr/bin/clang-19", ["-o", "prog-plain", "main.o", "util.o", "-L.", "-ltext"], in: dyck)
        let relinked = try ws.run(dyck.appendingPathComponent("prog-plain").path, [], in: dyck)
        XCTAssertEqual(relinked.status, 3)
        let sections = try ws.run("readelf", ["-S", "prog-plain"], in: dyck)
        XCTAssertFalse(sections.stdout.contains(".dyck."), "bitcode sections reached an executable")

        // Dependency files are the user's compile's, naming the real object.
        XCTAssertTrue(ws.read(dyck.appendingPathComponent("main.d")).hasPrefix("main.o:"))
        // Nothing is rebuilt the second time.
        let again = try ws.succeed("make", ["CC=\(Workspace.dyckCC)", "AR=ar"], in: dyck)
        XCTAssertTrue(again.stdout.contains("up to date"), again.stdout)
        XCTAssertEqual(ws.strayFiles(in: dyck), [])
        ws.assertNoTemporariesLeft()
    }

    /// -O2: the program still behaves alike, and a link line without -O2 compiles the
    /// instrumented program at the level recorded in the objects.
    func testOptimizedBuild() throws {
        let ws = try Workspace()
        let dyck = try ws.copyFixture("multi", as: "dyck")
        let plain = try ws.copyFixture("multi", as: "plain")
        try ws.succeed("make", ["CC=\(Workspace.dyckCC)", "CFLAGS=-O2"], in: dyck)
        try ws.succeed("make", ["CC=clang-19", "CFLAGS=-O2"], in: plain)
        let mine = try ws.run(dyck.appendingPathComponent("prog").path, [], in: dyck)
        let theirs = try ws.run(plain.appendingPathComponent("prog").path, [], in: plain)
        XCTAssertEqual(mine.stdout, theirs.stdout)
        XCTAssertEqual(mine.stderr, theirs.stderr)
        XCTAssertEqual(mine.status, theirs.status)

        let relink = try ws.succeed(
            Workspace.dyckCC, ["-o", "prog2", "main.o", "util.o", "-L.", "-ltext"], in: dyck,
            environment: ["DYCK_CC_VERBOSE": "1"])
        let codegen = relink.stderr.split(separator: "\n").first { $0.contains(" -x ir ") }
        XCTAssertNotNil(codegen, relink.stderr)
        XCTAssertTrue(codegen?.hasSuffix(" -O2") == true || codegen?.contains(" -O2 ") == true, String(codegen ?? ""))
        XCTAssertEqual(try ws.run(dyck.appendingPathComponent("prog2").path, [], in: dyck).stdout, theirs.stdout)
        ws.assertNoTemporariesLeft()
    }

    /// `dyck-cc -O0 -o prog a.c b.c ...`: compile and link in one step.
    func testOneStepBuild() throws {
        let ws = try Workspace()
        let dir = try ws.copyFixture("multi")
        let sources = ["main.c", "util.c", "strops.c", "numops.c"]
        try ws.succeed(Workspace.dyckCC, ["-O0", "-o", "prog"] + sources, in: dir)
        try ws.succeed("/usr/bin/clang-19", ["-O0", "-o", "prog-plain"] + sources, in: dir)
        let mine = try ws.run(dir.appendingPathComponent("prog").path, ["x-y"], in: dir)
        let theirs = try ws.run(dir.appendingPathComponent("prog-plain").path, ["x-y"], in: dir)
        XCTAssertEqual(mine.stdout, theirs.stdout)
        XCTAssertEqual(mine.stderr, theirs.stderr)
        XCTAssertEqual(mine.status, theirs.status)
        XCTAssertTrue(
            ws.policyFunctions(dir.appendingPathComponent("prog.dyck")).isSuperset(of: [
                "main", "num_sort", "text_reverse"
            ]))
        // No objects appear in the source directory.
        XCTAssertFalse(ws.exists(dir.appendingPathComponent("main.o")))

        // -x names the language of a file without a C extension.
        try FileManager.default.copyItem(
            at: dir.appendingPathComponent("main.c"), to: dir.appendingPathComponent("main.txt"))
        try ws.succeed(
            Workspace.dyckCC, ["-o", "prog-x", "-x", "c", "main.txt", "util.c", "-x", "none", "strops.c", "numops.c"],
            in: dir)
        XCTAssertEqual(try ws.run(dir.appendingPathComponent("prog-x").path, ["x-y"], in: dir).stdout, theirs.stdout)
        ws.assertNoTemporariesLeft()
    }

    /// An object compiled without dyck-cc still links, with one warning naming it.
    func testPrebuiltObjectWithoutBitcode() throws {
        let ws = try Workspace()
        let dir = try ws.copyFixture("multi")
        try ws.succeed("/usr/bin/clang-19", ["-O0", "-c", "util.c", "-o", "util.o"], in: dir)
        let link = try ws.succeed(
            Workspace.dyckCC, ["-O0", "-o", "prog", "main.c", "util.o", "strops.c", "numops.c"], in: dir)
        let warnings = link.stderr.split(separator: "\n").filter { $0.contains("util.o") }
        XCTAssertEqual(warnings.count, 1, link.stderr)
        XCTAssertTrue(warnings.first?.contains("the policy does not cover it") == true, link.stderr)
        XCTAssertTrue(warnings.first?.hasPrefix("dyck-cc: warning:") == true, link.stderr)
        let run = try ws.run(dir.appendingPathComponent("prog").path, [], in: dir)
        XCTAssertEqual(run.status, 3)
        XCTAssertTrue(run.stdout.contains("fib = 144"))
        let functions = ws.policyFunctions(dir.appendingPathComponent("prog.dyck"))
        XCTAssertTrue(functions.contains("main"))
        XCTAssertFalse(functions.contains("fib"), "fib has no bitcode")
        ws.assertNoTemporariesLeft()
    }

    /// Archive members are taken as the linker takes them: an unused member (here one
    /// that would clash with the program) is neither linked nor analysed; a used
    /// member without bitcode links and is warned about.
    func testArchiveMemberSelection() throws {
        let ws = try Workspace()
        let dir = try ws.copyFixture("multi")
        let cc = Workspace.dyckCC
        for name in ["main", "util", "strops", "numops"] {
            try ws.succeed(cc, ["-O0", "-c", "\(name).c", "-o", "\(name).o"], in: dir)
        }
        // Defines `report`, like util.c, and calls libc: pulled in, it would break the
        // link (duplicate symbol) and show up in the policy.
        try
            "#include <stdio.h>\nint report(const char *l, long v) { return puts(l) + (int)v; }\nint unused_helper(void) { return 7; }\n"
            .write(to: dir.appendingPathComponent("clash.c"), atomically: true, encoding: .utf8)
        try ws.succeed(cc, ["-O0", "-w", "-c", "clash.c", "-o", "clash.o"], in: dir)
        try "int never_called(void) { return 1; }\n".write(
            to: dir.appendingPathComponent("nobc.c"), atomically: true, encoding: .utf8)
        try ws.succeed("/usr/bin/clang-19", ["-c", "nobc.c", "-o", "nobc.o"], in: dir)
        try ws.succeed("ar", ["rcs", "libbig.a", "strops.o", "clash.o", "numops.o", "nobc.o"], in: dir)

        let link = try ws.succeed(cc, ["-o", "prog", "main.o", "util.o", "libbig.a"], in: dir)
        XCTAssertFalse(link.stderr.contains("warning"), link.stderr)
        let functions = ws.policyFunctions(dir.appendingPathComponent("prog.dyck"))
        XCTAssertTrue(functions.isSuperset(of: ["text_reverse", "num_sort"]), "\(functions.sorted())")
        XCTAssertFalse(functions.contains("unused_helper"))
        XCTAssertFalse(functions.contains("never_called"))
        XCTAssertEqual(try ws.run(dir.appendingPathComponent("prog").path, [], in: dir).status, 3)

        // A needed member without bitcode: linked, warned about by archive and member.
        try ws.succeed("/usr/bin/clang-19", ["-O0", "-c", "strops.c", "-o", "plainstrops.o"], in: dir)
        try ws.succeed("ar", ["rcs", "libmixed.a", "plainstrops.o", "numops.o"], in: dir)
        let mixed = try ws.succeed(cc, ["-o", "prog-mixed", "main.o", "util.o", "-L.", "-lmixed"], in: dir)
        // (The analysis also warns about the calls into it.)
        let warnings = mixed.stderr.split(separator: "\n").filter {
            $0.contains("warning") && $0.contains("libmixed.a")
        }
        XCTAssertEqual(warnings.count, 1, mixed.stderr)
        XCTAssertTrue(
            warnings.first?.contains("libmixed.a") == true && warnings.first?.contains("plainstrops.o") == true,
            mixed.stderr)
        let mixedFunctions = ws.policyFunctions(dir.appendingPathComponent("prog-mixed.dyck"))
        XCTAssertTrue(mixedFunctions.contains("num_sort"))
        XCTAssertFalse(mixedFunctions.contains("text_reverse"))
        XCTAssertEqual(try ws.run(dir.appendingPathComponent("prog-mixed").path, [], in: dir).status, 3)

        // --whole-archive takes every member: now the clash is real, as with clang.
        let whole = try ws.dyckCC(
            ["-o", "prog-whole", "main.o", "util.o", "-Wl,--whole-archive", "libbig.a", "-Wl,--no-whole-archive"],
            in: dir)
        XCTAssertNotEqual(whole.status, 0)
        XCTAssertTrue(whole.stderr.contains("report"), whole.stderr)
        XCTAssertFalse(ws.exists(dir.appendingPathComponent("prog-whole")))
        XCTAssertFalse(ws.exists(dir.appendingPathComponent("prog-whole.dyck")))
        ws.assertNoTemporariesLeft()
    }
}
