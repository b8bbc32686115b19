@testable import DyckAnalysis
import Foundation
import XCTest

final class LibcSymbolsTests: XCTestCase {
    func testSystemLibc() throws {
        let libc = try LibcSymbols.load()
        for name in ["printf", "fopen", "fread", "exit", "malloc", "qsort", "signal", "memcpy", "atexit"] {
            XCTAssertTrue(libc.contains(name), name)
        }
        // Not functions, or not libc's.
        for name in ["main", "stdout", "errno", "environ", "llvm.memcpy.p0.p0.i64", "sin", "pthread_create_x"] {
            XCTAssertFalse(libc.contains(name), name)
        }
        XCTAssertTrue(libc.files.contains { $0.hasSuffix("libc.so.6") }, "\(libc.files)")
        XCTAssertTrue(libc.files.contains { $0.hasSuffix("libc_nonshared.a") }, "\(libc.files)")
    }

    func testExplicitFiles() throws {
        let script = try XCTUnwrap(
            LibcSymbols.searchDirectories.map { $0 + "/libc.so" }.first { FileManager.default.fileExists(atPath: $0) })
        let inputs = linkerScriptInputs(try String(contentsOfFile: script, encoding: .utf8))
        let shared = try XCTUnwrap(inputs.first { $0.hasSuffix(".so.6") })
        let archive = try XCTUnwrap(inputs.first { $0.hasSuffix(".a") })

        let fromShared = try LibcSymbols.load(path: shared)
        XCTAssertTrue(fromShared.contains("printf"))
        // atexit lives only in the static part of glibc.
        XCTAssertFalse(fromShared.contains("atexit"))

        let fromArchive = try LibcSymbols.load(path: archive)
        XCTAssertTrue(fromArchive.contains("atexit"))
        XCTAssertTrue(fromArchive.contains("at_quick_exit"))
        XCTAssertFalse(fromArchive.contains("printf"))

        let fromScript = try LibcSymbols.load(path: script)
        XCTAssertEqual(fromScript.names, fromShared.names.union(fromArchive.names))
    }

    /// The last resort when no libc.so is installed: the libc mapped into this process.
    func testRunningLibc() throws {
        let path = try XCTUnwrap(LibcSymbols.runningLibcPath())
        XCTAssertTrue(path.hasPrefix("/") && path.contains("libc.so"), path)
        let libc = try LibcSymbols.load(path: path)
        XCTAssertTrue(libc.contains("printf"))
    }

    func testLinkerScriptParsing() {
        let script = """
            /* GNU ld script
               Use the shared library, but some functions are only in
               the static library, so try that secondarily.  */
            OUTPUT_FORMAT(elf64-x86-64)
            GROUP ( /lib/x86_64-linux-gnu/libc.so.6 /usr/lib/x86_64-linux-gnu/libc_nonshared.a  AS_NEEDED ( /lib64/ld-linux-x86-64.so.2 ) )
            """
        XCTAssertEqual(
            linkerScriptInputs(script),
            ["/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc_nonshared.a"])
        XCTAssertEqual(linkerScriptInputs("INPUT(a.so, -lm b.a)"), ["a.so", "b.a"])
        XCTAssertEqual(linkerScriptInputs("/* GROUP(x) */ OUTPUT_FORMAT(elf64-x86-64)"), [])
    }

    func testErrorsNameTheFile() throws {
        let empty = try Fixtures.write("/* nothing */\n", to: "empty-script.so")
        XCTAssertThrowsError(try LibcSymbols.load(path: empty)) { error in
            guard case AnalysisError.libcSymbolsUnavailable(empty, let reason) = error else {
                return XCTFail("unexpected \(error)")
            }
            XCTAssertTrue(reason.contains("no input files"), reason)
        }
        let dangling = try Fixtures.write("GROUP ( /nonexistent/libc.so.6 )\n", to: "dangling-script.so")
        XCTAssertThrowsError(try LibcSymbols.load(path: dangling)) { error in
            XCTAssertEqual(
                error as? AnalysisError,
                .libcSymbolsUnavailable(path: "/nonexistent/libc.so.6", reason: "No such file or directory"))
        }
        // An ELF file without .dynsym: a relocatable object.
        let object = Fixtures.workDirectory.appendingPathComponent("libc-object.o").path
        try Fixtures.run(try Fixtures.clang(), ["-c", "-o", object, Fixtures.source("straight").path])
        XCTAssertThrowsError(try LibcSymbols.load(path: object)) { error in
            guard case AnalysisError.libcSymbolsUnavailable(object, let reason) = error else {
                return XCTFail("unexpected \(error)")
            }
            XCTAssertTrue(reason.contains(".dynsym"), reason)
        }
    }
}
