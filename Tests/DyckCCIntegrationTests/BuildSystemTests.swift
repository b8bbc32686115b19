import Foundation
import XCTest

/// dyck-cc as build systems use a C compiler: probing, pass-through and failures.
final class BuildSystemTests: XCTestCase {
    /// An autoconf-style configure script (version probes, a.out and suffix games,
    /// conftest compiles, links and runs, -E) finds what it finds with clang-19, and
    /// the configured project builds.
    func testConfigureProbing() throws {
        let ws = try Workspace()
        let dyck = try ws.copyFixture("configure", as: "dyck")
        let plain = try ws.copyFixture("configure", as: "plain")
        let configured = try ws.succeed(
            dyck.appendingPathComponent("configure").path, ["CC=\(Workspace.dyckCC)", "CFLAGS=-O2"], in: dyck)
        try ws.succeed(plain.appendingPathComponent("configure").path, ["CC=clang-19", "CFLAGS=-O2"], in: plain)
        XCTAssertEqual(
            ws.read(dyck.appendingPathComponent("config.h")), ws.read(plain.appendingPathComponent("config.h")),
            configured.stdout)
        let config = ws.read(dyck.appendingPathComponent("config.h"))
        XCTAssertTrue(config.contains("#define HAVE_STRDUP 1"), config)
        XCTAssertFalse(config.contains("AC_NONEXISTENT"), config)
        XCTAssertTrue(config.contains("#define HAVE_LIBM 1"), config)
        let mk = ws.read(dyck.appendingPathComponent("config.mk"))
        XCTAssertTrue(
            mk.contains("EXEEXT = \n") && mk.contains("OBJEXT = o\n") && mk.contains("cross_compiling = no"), mk)

        try ws.succeed("make", [], in: dyck)
        let run = try ws.succeed(dyck.appendingPathComponent("probe").path, [], in: dyck)
        XCTAssertEqual(run.stdout, "configured: long is 8 bytes, cos(0) = 1.0\n")
        XCTAssertTrue(ws.exists(dyck.appendingPathComponent("probe.dyck")))
        // Failed conftest links leave no executable and no policy behind.
        XCTAssertEqual(ws.strayFiles(in: dyck), [])
        ws.assertNoTemporariesLeft()
    }

    /// CMake identifies the compiler, detects its ABI, and builds a static library and
    /// an executable through dyck-cc.
    func testCMakeProject() throws {
        let ws = try Workspace()
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/cmake") else {
            throw XCTSkip("cmake is not installed (apt-get install cmake)")
        }
        let source = Workspace.fixtures.appendingPathComponent("cmake")
        let build = try ws.directory("build")
        let configured = try ws.succeed("cmake", ["-DCMAKE_C_COMPILER=\(Workspace.dyckCC)", source.path], in: build)
        XCTAssertTrue(configured.stdout.contains("The C compiler identification is Clang 19"), configured.stdout)
        XCTAssertTrue(configured.stdout.contains("dyck-cc test: compiler id Clang"), configured.stdout)
        XCTAssertTrue(configured.stdout.contains("Detecting C compiler ABI info - done"), configured.stdout)
        try ws.succeed("cmake", ["--build", "."], in: build)
        let run = try ws.succeed(build.appendingPathComponent("hello").path, ["dyck"], in: build)
        XCTAssertEqual(run.stdout, "HELLO, DYCK\n")
        let functions = ws.policyFunctions(build.appendingPathComponent("hello.dyck"))
        XCTAssertTrue(functions.isSuperset(of: ["main", "greet", "shout"]), "\(functions.sorted())")
        ws.assertNoTemporariesLeft()
    }

    /// Queries, preprocessing and assembly output go to clang-19 unchanged.
    func testPassThrough() throws {
        let ws = try Workspace()
        let dir = try ws.copyFixture("multi")
        for arguments in [
            ["--version"], ["-dumpmachine"], ["-dumpversion"], ["-print-prog-name=ld"],
            ["-E", "-DTEXT_H", "main.c"], ["-E", "-dM", "-x", "c", "/dev/null"], ["-M", "main.c"]
        ] {
            let mine = try ws.dyckCC(arguments, in: dir)
            let theirs = try ws.clang(arguments, in: dir)
            XCTAssertEqual(mine.status, theirs.status, "\(arguments)")
            XCTAssertEqual(mine.stdout, theirs.stdout, "\(arguments)")
            XCTAssertEqual(mine.stderr, theirs.stderr, "\(arguments)")
        }
        let verbose = try ws.dyckCC(["-v"], in: dir)
        XCTAssertEqual(verbose.status, 0)
        XCTAssertTrue(verbose.stderr.contains("clang version 19"), verbose.stderr)

        try ws.succeed(Workspace.dyckCC, ["-S", "-O1", "util.c", "-o", "util.s"], in: dir)
        XCTAssertTrue(ws.read(dir.appendingPathComponent("util.s")).contains("fib:"))

        // Shared libraries: linked as clang links them, without a policy, with a warning.
        let shared = try ws.succeed(
            Workspace.dyckCC, ["-shared", "-fPIC", "-o", "libtext.so", "strops.c", "numops.c"], in: dir)
        XCTAssertTrue(shared.stderr.contains("dyck-cc: warning:"), shared.stderr)
        XCTAssertTrue(ws.exists(dir.appendingPathComponent("libtext.so")))
        XCTAssertFalse(ws.exists(dir.appendingPathComponent("libtext.so.dyck")))
        ws.assertNoTemporariesLeft()
    }

    /// When clang fails, dyck-cc shows its diagnostics and ends with its status, and
    /// leaves no output behind.
    func testFailuresEndWithClangStatus() throws {
        let ws = try Workspace()
        let dir = try ws.directory("fail")
        try "int main(void) { return missing_variable; }\n".write(
            to: dir.appendingPathComponent("bad.c"), atomically: true, encoding: .utf8)
        let mine = try ws.dyckCC(["-c", "bad.c", "-o", "bad.o"], in: dir)
        let theirs = try ws.clang(["-c", "bad.c", "-o", "bad.o"], in: dir)
        XCTAssertNotEqual(theirs.status, 0)
        XCTAssertEqual(mine.status, theirs.status)
        XCTAssertEqual(mine.stderr, theirs.stderr)
        XCTAssertFalse(ws.exists(dir.appendingPathComponent("bad.o")))

        let oneStep = try ws.dyckCC(["-o", "bad", "bad.c"], in: dir)
        XCTAssertEqual(oneStep.status, theirs.status)
        XCTAssertTrue(oneStep.stderr.contains("missing_variable"), oneStep.stderr)

        // An undefined function: the link fails as clang's does; no executable, no policy.
        try "int absent(void);\nint main(void) { return absent(); }\n".write(
            to: dir.appendingPathComponent("undef.c"), atomically: true, encoding: .utf8)
        let link = try ws.dyckCC(["-o", "undef", "undef.c"], in: dir)
        let clangLink = try ws.clang(["-o", "undef", "undef.c"], in: dir)
        XCTAssertNotEqual(clangLink.status, 0)
        XCTAssertEqual(link.status, clangLink.status)
        XCTAssertTrue(link.stderr.contains("undefined reference to `absent'"), link.stderr)
        XCTAssertFalse(ws.exists(dir.appendingPathComponent("undef")))
        XCTAssertFalse(ws.exists(dir.appendingPathComponent("undef.dyck")))

        // A symbol defined twice: llvm-link's message names only the symbol; dyck-cc
        // names the files (bad input, 2), and writes nothing.
        try "int f(void) { return 1; }\nint main(void) { return f(); }\n".write(
            to: dir.appendingPathComponent("dup1.c"), atomically: true, encoding: .utf8)
        try "int f(void) { return 2; }\n".write(
            to: dir.appendingPathComponent("dup2.c"), atomically: true, encoding: .utf8)
        XCTAssertNotEqual(
            try ws.clang(["-o", "dup", "dup1.c", "dup2.c"], in: dir).status, 0, "control: clang refuses it too")
        let dup = try ws.dyckCC(["-o", "dup", "dup1.c", "dup2.c"], in: dir)
        XCTAssertEqual(dup.status, 2, dup.stderr)
        XCTAssertTrue(dup.stderr.contains("'f' is defined in more than one input: dup1.c, dup2.c"), dup.stderr)
        XCTAssertFalse(ws.exists(dir.appendingPathComponent("dup")))
        XCTAssertFalse(ws.exists(dir.appendingPathComponent("dup.dyck")))

        // A missing input is clang's to report.
        let missing = try ws.dyckCC(["-o", "x", "nothere.c"], in: dir)
        XCTAssertEqual(missing.status, try ws.clang(["-o", "x", "nothere.c"], in: dir).status)
        XCTAssertTrue(missing.stderr.contains("nothere.c"))

        // dyck-cc's own usage errors are bad input (2).
        let usage = try ws.dyckCC(["--dyck-bogus", "-c", "bad.c"], in: dir)
        XCTAssertEqual(usage.status, 2)
        XCTAssertTrue(usage.stderr.hasPrefix("dyck-cc: error:"), usage.stderr)
        XCTAssertEqual(ws.strayFiles(in: dir), [])
        ws.assertNoTemporariesLeft()
    }

    /// A program whose entry function has no bitcode gets no policy: an error, not a
    /// silently unprotected program. With no bitcode at all, the link is clang's.
    func testEntryWithoutBitcode() throws {
        let ws = try Workspace()
        let dir = try ws.copyFixture("multi")
        try ws.succeed("/usr/bin/clang-19", ["-c", "main.c", "-o", "main.o"], in: dir)
        let result = try ws.dyckCC(["-o", "prog", "main.o", "util.c", "strops.c", "numops.c"], in: dir)
        XCTAssertEqual(result.status, 2, result.stderr)
        XCTAssertTrue(result.stderr.contains("'main' has no bitcode"), result.stderr)
        XCTAssertFalse(ws.exists(dir.appendingPathComponent("prog")))

        for name in ["util", "strops", "numops"] {
            try ws.succeed("/usr/bin/clang-19", ["-c", "\(name).c", "-o", "\(name).o"], in: dir)
        }
        try "stale".write(to: dir.appendingPathComponent("prog.dyck"), atomically: true, encoding: .utf8)
        let plain = try ws.succeed(
            Workspace.dyckCC, ["-o", "prog", "main.o", "util.o", "strops.o", "numops.o"], in: dir)
        XCTAssertTrue(plain.stderr.contains("no policy written"), plain.stderr)
        XCTAssertTrue(ws.exists(dir.appendingPathComponent("prog")))
        XCTAssertFalse(
            ws.exists(dir.appendingPathComponent("prog.dyck")), "a stale policy was left next to the executable")
        ws.assertNoTemporariesLeft()
    }
}
