import Foundation
import XCTest
import TestSupport
@testable import DyckCC

/// The hand-written command-line parser: which job a command asks for, and what each
/// argument is.
final class ArgumentsTests: XCTestCase {
    private func mode(_ words: [String]) throws -> Mode {
        try CommandLineArguments(words).mode
    }

    func testModes() throws {
        XCTAssertEqual(try mode(["-c", "a.c", "-o", "a.o"]), .compile)
        XCTAssertEqual(try mode(["-O2", "-o", "prog", "a.c", "b.o", "-lm"]), .link)
        XCTAssertEqual(try mode(["a.o"]), .link)
        XCTAssertEqual(try mode(["-E", "a.c"]), .passThrough(.option("-E")))
        XCTAssertEqual(try mode(["-S", "a.c"]), .passThrough(.option("-S")))
        XCTAssertEqual(try mode(["-M", "a.c"]), .passThrough(.option("-M")))
        XCTAssertEqual(try mode(["--version"]), .passThrough(.option("--version")))
        XCTAssertEqual(try mode(["-print-search-dirs"]), .passThrough(.option("-print-search-dirs")))
        XCTAssertEqual(try mode(["-v"]), .passThrough(.noInputFiles))
        XCTAssertEqual(try mode(["-shared", "-o", "libx.so", "x.o"]), .passThrough(.sharedLibrary))
        XCTAssertEqual(try mode(["-c", "-flto", "a.c"]), .passThrough(.option("-flto")))
        XCTAssertEqual(try mode(["-c", "x.s"]), .passThrough(.noCSourceToCompile))
        XCTAssertEqual(try mode(["-c", "-x", "c", "-"]), .passThrough(.inputFromStandardInput))
        // -MD writes a dependency file on the side; it is a compile all the same.
        XCTAssertEqual(try mode(["-MD", "-MF", "a.d", "-c", "a.c"]), .compile)
    }

    func testClassification() throws {
        let command = try CommandLineArguments([
            "-I", "inc", "-Iinc2", "-DX=1", "-o", "out", "-x", "c", "src", "-x", "none", "b.o",
            "-L", "lib", "-lfoo", "-l", "bar", "-Wl,--whole-archive,-Bstatic", "-Xlinker", "-zdefs",
            "-MF", "dep.d", "-MT", "t", "-include", "conf.h", "-mllvm", "-x86-asm-syntax=intel",
            "--dyck-entry=start", "--dyck-verbose"
        ])
        XCTAssertEqual(command.entry, "start")
        XCTAssertTrue(command.verbose)
        XCTAssertEqual(command.outputPath, "out")
        XCTAssertEqual(command.inputs.map(\.path), ["src", "b.o"])
        XCTAssertEqual(command.inputs.map(\.language), ["c", nil])
        let kinds = command.arguments.map(\.kind)
        XCTAssertTrue(kinds.contains(.library("foo")))
        XCTAssertTrue(kinds.contains(.library("bar")))
        XCTAssertTrue(kinds.contains(.libraryDirectory("lib")))
        XCTAssertTrue(kinds.contains(.linker(["--whole-archive", "-Bstatic"])))
        XCTAssertTrue(kinds.contains(.linker(["-zdefs"])))
        XCTAssertEqual(kinds.filter { $0 == .dependencies }.count, 2)
        // Separate values are never taken for inputs.
        XCTAssertFalse(
            command.inputs.contains { ["inc", "conf.h", "-x86-asm-syntax=intel", "dep.d", "t"].contains($0.path) })
        XCTAssertEqual(CodegenFlags.select(command.arguments), ["-mllvm", "-x86-asm-syntax=intel"])
        XCTAssertThrowsError(try CommandLineArguments(["--dyck-nonsense"]))
    }

    func testInputKinds() {
        XCTAssertEqual(CommandLineArguments.inputKind(path: "a.c", language: nil), .source)
        XCTAssertEqual(CommandLineArguments.inputKind(path: "a.S", language: nil), .assembly)
        XCTAssertEqual(CommandLineArguments.inputKind(path: "a.o", language: nil), .linkerInput)
        XCTAssertEqual(CommandLineArguments.inputKind(path: "liba.so.1", language: nil), .linkerInput)
        XCTAssertEqual(CommandLineArguments.inputKind(path: "a.txt", language: "c"), .source)
        XCTAssertEqual(CommandLineArguments.inputKind(path: "a.c", language: "assembler-with-cpp"), .assembly)
        XCTAssertEqual(CommandLineArguments.inputKind(path: "a.bc", language: nil), .ir)
    }

    func testDebugAndCodegenFlags() throws {
        XCTAssertFalse(try CommandLineArguments(["-c", "a.c"]).debugRequested)
        XCTAssertTrue(try CommandLineArguments(["-g", "-c", "a.c"]).debugRequested)
        XCTAssertFalse(try CommandLineArguments(["-g", "-g0", "-c", "a.c"]).debugRequested)
        XCTAssertTrue(try CommandLineArguments(["-gdwarf-4", "-gsplit-dwarf", "-c", "a.c"]).debugRequested)
        let command = try CommandLineArguments([
            "-O2", "-fPIC", "-fno-omit-frame-pointer", "-fsanitize=address",
            "-Wall", "-march=x86-64-v2", "-std=c99", "-O3", "-c", "a.c"
        ])
        XCTAssertEqual(CodegenFlags.optimization(command.arguments), "-O3")
        XCTAssertEqual(CodegenFlags.select(command.arguments), ["-fPIC", "-fno-omit-frame-pointer", "-march=x86-64-v2"])
        XCTAssertGreaterThan(CodegenFlags.rank("-O2"), CodegenFlags.rank("-O0"))
        let record = CompileRecord(arguments: command.arguments, debug: true)
        XCTAssertEqual(CompileRecord(lines: record.serialized.split(separator: "\n").map(String.init)), record)
        XCTAssertNil(CompileRecord(lines: ["something else"]))
    }

    func testResponseFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dyck-cc-rsp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let inner = dir.appendingPathComponent("inner.rsp")
        try "-lm 'a b.o'".write(to: inner, atomically: true, encoding: .utf8)
        let outer = dir.appendingPathComponent("outer.rsp")
        try "-O2 \"x y.c\" back\\ slash.o\n@\(inner.path)\n".write(to: outer, atomically: true, encoding: .utf8)
        XCTAssertEqual(
            expandResponseFiles(["-c", "@\(outer.path)", "@/no/such/file"]),
            ["-c", "-O2", "x y.c", "back slash.o", "-lm", "a b.o", "@/no/such/file"])
    }

    /// Archives and objects as binutils writes them.
    func testArchiveAndObjectReading() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dyck-cc-ar-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func sh(_ command: String) throws {
            let outcome = try ProcessRunner.run("/bin/sh", ["-c", command], directory: dir)
            XCTAssertEqual(outcome.shellStatus, 0, command + ": " + outcome.stderrText)
        }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/clang-19") else {
            throw XCTSkip("clang-19 is not installed")
        }
        try sh(
            "printf 'extern int g(int); int w(void) __attribute__((weak)); int a_function_with_a_long_name(int x) { return g(x) + (w ? w() : 0); }\\n' > long.c"
                + " && printf 'int g(int x) { return x; }\\n' > g.c"
                + " && clang-19 -c long.c -o a_member_with_a_long_file_name.o && clang-19 -c g.c -o g.o"
                + " && ar rcs lib.a a_member_with_a_long_file_name.o g.o && ar rcsT thin.a g.o")
        let archive = try Archive(
            path: dir.appendingPathComponent("lib.a").path,
            bytes: Array(try Data(contentsOf: dir.appendingPathComponent("lib.a"))))
        XCTAssertEqual(archive.members.map(\.name), ["a_member_with_a_long_file_name.o", "g.o"])
        let object = try ELFObject(bytes: archive.members[0].bytes)
        XCTAssertEqual(object.defined, ["a_function_with_a_long_name"])
        XCTAssertEqual(object.undefined, ["g"], "weak references must not be listed")
        XCTAssertNil(object.bitcode)
        let thin = try Archive(
            path: dir.appendingPathComponent("thin.a").path,
            bytes: Array(try Data(contentsOf: dir.appendingPathComponent("thin.a"))))
        XCTAssertEqual(thin.members.map(\.name), ["g.o"])
        XCTAssertEqual(try ELFObject(bytes: thin.members[0].bytes).defined, ["g"])
        XCTAssertThrowsError(try ELFObject(bytes: Array("\u{7F}ELF\u{2}\u{1}".utf8)[...]))
        XCTAssertThrowsError(
            try Archive(path: "x", bytes: Array("!<arch>\nshort".utf8) + Array(repeating: 0x20, count: 60)))
    }
}
