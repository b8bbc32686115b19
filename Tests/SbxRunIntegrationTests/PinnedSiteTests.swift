import TestSupport
import DyckModel
import SbxABI
import SbxSystem
import Foundation
import SbxCLI
import XCTest
@testable import SbxRun

/// The `.sbx_sites` table of real dyck-cc builds, and hand-made executables whose
/// tables are wrong in one way each (`specs/marker-abi.md`, "Pinned sites").
final class PinnedSiteTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("sbx-pinned-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    /// Every kind of marker but TAIL: libc calls, a direct site, a callback (the qsort
    /// comparator reaches libc, so it gets a thunk), setjmp/longjmp, and an indirect
    /// call through a table.
    static let program = #"""
        #include <setjmp.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>

        static jmp_buf env;
        static int compared;

        static int by_value(const void *a, const void *b)
        {
            if (compared++ == 0)
                fprintf(stderr, "comparing\n");
            return *(const int *)a - *(const int *)b;
        }

        __attribute__((noinline)) static void show(const int *v, int n)
        {
            for (int i = 0; i < n; i++)
                printf("%d%c", v[i], i + 1 < n ? ' ' : '\n');
        }

        static void twice(const char *s) { printf("%s %s\n", s, s); }
        static void once(const char *s) { puts(s); }
        static void (*const actions[])(const char *) = { once, twice };

        int main(int argc, char **argv)
        {
            int v[] = { 5, 3, 9, 1, 7 };
            qsort(v, 5, sizeof v[0], by_value);
            show(v, 5);
            if (setjmp(env) == 0) {
                printf("first\n");
                longjmp(env, 1);
            }
            actions[argc > 1](argv[0] + strlen(argv[0]) - 4);
            printf("compared %s\n", compared > 0 ? "yes" : "no");
            return 3;
        }
        """#

    // MARK: Real builds

    func testRealBuildTablesMatchTheCode() throws {
        let source = try write(Self.program, "prog.c")
        for level in ["-O0", "-O2"] {
            let exe = dir.appendingPathComponent("prog\(level)").path
            try Tools.mustRun(try Tools.binary("dyck-cc"), [level, "-g", "-o", exe, source])
            let table = try read(exe)
            XCTAssertEqual(table.program, exe)
            XCTAssertFalse(table.sites.isEmpty, level)

            // Every `syscall` in the executable is a marker (the program makes no raw
            // system call of its own), each preceded by the lea of its own entry.
            let code = try Tools.markerInstructions(exe)
            XCTAssertEqual(code.count, table.sites.count, level)
            XCTAssertTrue(code.values.allSatisfy { $0 != nil }, "a syscall without its lea at \(level)")
            for (i, site) in table.sites.enumerated() {
                XCTAssertEqual(code[site.vaddr], .some(table.tableVaddr + UInt64(16 * i)), "\(level) entry \(i)")
            }
            let kinds = Set(table.sites.compactMap(\.markerKind))
            XCTAssertTrue(
                kinds.isSuperset(of: [.libc, .call, .ret, .callbackEnter, .callbackExit, .setjmpSave, .setjmpResume]),
                "\(level): \(kinds)")

            // The header says where the code starts: the lowest executable PT_LOAD.
            let text = try Tools.run("/usr/bin/readelf", ["-lW", exe]).stdout
            let loads = text.split(separator: "\n").filter { $0.contains("LOAD") && $0.contains(" E ") }
            let lowest = loads.compactMap { line in
                line.split(separator: " ", omittingEmptySubsequences: true).dropFirst(2).first
                    .flatMap { UInt64($0.dropFirst(2), radix: 16) }
            }.min()
            XCTAssertEqual(table.execTextVaddr, lowest, level)

            // The ids belong to the policy written with it, and not to a smaller one.
            let policy = try Policy.load(path: exe + ".dyck")
            XCTAssertNoThrow(try table.check(against: policy, policyPath: exe + ".dyck"))
            var fewer = policy
            fewer.symbols.removeLast()
            XCTAssertThrowsError(try table.check(against: fewer, policyPath: "fewer.dyck")) { error in
                guard case RunError.wrongPolicy = error else { return XCTFail("\(error)") }
                XCTAssertEqual(ExitStatus((error as! RunError).category), .wrongPolicy)
                XCTAssertTrue(
                    "\(error)".contains("fewer.dyck is not its policy") && "\(error)".contains("libc marker"),
                    "\(error)")
            }
            var noSites = policy
            noSites.sites = []
            XCTAssertThrowsError(try table.check(against: noSites))
        }
    }

    /// With no monitor every marker fails with -ENOSYS: the program's output and status
    /// are those of the plain build.
    func testNativeBehaviourIsUnchanged() throws {
        let source = try write(Self.program, "native.c")
        for level in ["-O0", "-O2"] {
            // The same name in two directories: the program prints the end of argv[0].
            let plain = dir.appendingPathComponent("plain/prog\(level)").path
            let instrumented = dir.appendingPathComponent("inst/prog\(level)").path
            for sub in ["plain", "inst"] {
                try FileManager.default.createDirectory(
                    at: dir.appendingPathComponent(sub), withIntermediateDirectories: true)
            }
            try Tools.mustRun("/usr/bin/clang-19", [level, "-w", "-o", plain, source])
            try Tools.mustRun(try Tools.binary("dyck-cc"), [level, "-o", instrumented, source])
            XCTAssertGreaterThan(try read(instrumented).sites.count, 10)
            for arguments in [[], ["x"]] {
                let expected = try Tools.run(plain, arguments)
                let actual = try Tools.run(instrumented, arguments)
                XCTAssertEqual(expected.status, 3)
                XCTAssertEqual(actual.status, expected.status, level)
                XCTAssertEqual(actual.stdout, expected.stdout, level)
                XCTAssertEqual(actual.stderr, expected.stderr, level)
            }
        }
    }

    // MARK: Hand-made tables

    /// A program whose one marker and table are written by hand; `entry` is the body
    /// of its `.sbx_sites` (label 1 is the syscall, 3 a nop after it, 4 two bytes
    /// 0f 05 in read-only data), nil for no section at all.
    private func handMade(_ name: String, entry: String?, flags: [String] = []) throws -> String {
        let table =
            entry.map {
                """
                    .pushsection .sbx_sites,"a",@progbits
                    .balign 16
                2:
                \($0)
                    .popsection
                """
            } ?? "2:"  // no table: the lea needs a target all the same
        let assembly = """
                .text
                .globl main
                .type main, @function
            main:
                mov $999, %eax
                mov $1, %edi
                mov $0, %esi
                lea 2f(%rip), %rdx
            1:  syscall
            3:  nop
                xor %eax, %eax
                ret
                .section .rodata
            4:  .byte 0x0f, 0x05
            \(table)
                .section .note.GNU-stack,"",@progbits

            """
        let source = try write(assembly, name + ".s")
        let exe = dir.appendingPathComponent(name).path
        try Tools.mustRun("/usr/bin/clang-19", flags + ["-o", exe, source])
        return exe
    }

    /// The reference: a hand-made table that is right is read, so the refusals below
    /// are about the one thing each changes.
    func testHandMadeTableIsRead() throws {
        let exe = try handMade("good", entry: "    .long 1b - 2b\n    .long 1\n    .long 0\n    .long 0")
        let table = try read(exe)
        XCTAssertEqual(table.sites.count, 1)
        XCTAssertEqual(table.sites.first?.kind, 1)
        XCTAssertEqual(table.sites.first?.id, 0)
        XCTAssertEqual(try Tools.markerInstructions(exe), [table.sites[0].vaddr: table.tableVaddr])
        XCTAssertEqual(try Tools.run(exe, []).status, 0)
    }

    func testMalformedTablesAreRefused() throws {
        // ld drops an empty output section; gold keeps it.
        try expectRefusal(try handMade("empty", entry: "", flags: ["-fuse-ld=gold"]), ".sbx_sites is empty")
        let cases: [(name: String, entry: String?, expected: String)] = [
            ("missing", nil, "no .sbx_sites section"),
            ("short", "    .long 1b - 2b\n    .long 1\n    .long 0", "12 bytes, not a multiple of 16"),
            (
                "longer", "    .long 1b - 2b\n    .long 1\n    .long 0\n    .long 0\n    .long 0",
                "20 bytes, not a multiple of 16"
            ),
            ("kind0", "    .long 1b - 2b\n    .long 0\n    .long 0\n    .long 0", "unknown marker kind 0"),
            ("kind9", "    .long 1b - 2b\n    .long 9\n    .long 0\n    .long 0", "unknown marker kind 9"),
            ("reserved", "    .long 1b - 2b\n    .long 1\n    .long 0\n    .long 1", "non-zero reserved word"),
            (
                "nop", "    .long 3b - 2b\n    .long 1\n    .long 0\n    .long 0",
                "holds 90 31, not a syscall instruction"
            ),
            ("rodata", "    .long 4b - 2b\n    .long 1\n    .long 0\n    .long 0", "outside the executable segments"),
            ("far", "    .long 0x7fffffff\n    .long 1\n    .long 0\n    .long 0", "outside the executable segments"),
            (
                "twice",
                "    .long 1b - 2b\n    .long 1\n    .long 0\n    .long 0\n    .long 1b - 2b - 16\n    .long 2\n    .long 0\n    .long 0",
                "pins 0x"
            )
        ]
        for c in cases {
            let exe = try handMade(c.name, entry: c.entry)
            try expectRefusal(exe, c.expected)
        }
    }

    /// An uninstrumented build carrying a copy of an instrumented build's
    /// `.sbx_policy` passes the digest check on its own; the table refuses it.
    func testCopiedPolicySectionWithoutSitesIsRefused() throws {
        let source = try write(Self.program, "orig.c")
        let original = dir.appendingPathComponent("orig").path
        try Tools.mustRun(try Tools.binary("dyck-cc"), ["-O1", "-o", original, source])
        let fd = open(original, O_RDONLY)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        let digest = try ExecutableBinding.recordedDigest(fd: fd, program: original)

        let bytes = (PolicyDigest.magic + digest).map { String($0) }.joined(separator: ", ")
        let copy =
            Self.program + """

                __attribute__((section(".sbx_policy"), used, aligned(1)))
                static const unsigned char copied_digest[40] = { \(bytes) };

                """
        let forged = dir.appendingPathComponent("forged").path
        try Tools.mustRun("/usr/bin/clang-19", ["-O1", "-w", "-o", forged, try write(copy, "forged.c")])
        let forgedFD = open(forged, O_RDONLY)
        defer { close(forgedFD) }
        XCTAssertEqual(try ExecutableBinding.recordedDigest(fd: forgedFD, program: forged), digest)
        try expectRefusal(forged, "no .sbx_sites section")
    }

    func testNotAnELFFile() throws {
        let path = try write("#!/bin/sh\nexit 0\n", "script.sh")
        try expectRefusal(path, "not an ELF file")
    }

    /// The constants agree with the header that the kernel and the instrumentation use.
    func testConstantsMatchTheUAPIHeader() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let header = try String(contentsOf: root.appendingPathComponent("kmod/uapi/sbx_marker.h"), encoding: .utf8)
        var defines: [String: String] = [:]
        for line in header.split(separator: "\n") where line.hasPrefix("#define ") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if words.count >= 3 { defines[String(words[1])] = String(words[2]) }
        }
        XCTAssertEqual(defines["SBX_SITES_SECTION"], "\"\(PinnedSiteTable.sectionName)\"")
        XCTAssertEqual(defines["SBX_SITE_ENTRY_SIZE"], String(PinnedSiteTable.entrySize))
    }

    // MARK: -

    private func write(_ text: String, _ name: String) throws -> String {
        let path = dir.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func read(_ path: String) throws -> PinnedSiteTable {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw Tools.Failure("cannot open \(path)") }
        defer { close(fd) }
        return try PinnedSiteTable.read(fd: fd, program: path)
    }

    /// The table of `path` is refused as not instrumented, with a message that names
    /// the program and contains `expected`.
    private func expectRefusal(_ path: String, _ expected: String, line: UInt = #line) throws {
        XCTAssertThrowsError(try read(path), line: line) { error in
            guard case RunError.notInstrumented(let program, let reason) = error else {
                return XCTFail("\(path): \(error)", line: line)
            }
            XCTAssertEqual(program, path, line: line)
            XCTAssertEqual(ExitStatus((error as! RunError).category), .notInstrumented, line: line)
            XCTAssertTrue(reason.contains(expected), "\(path): '\(reason)' does not say '\(expected)'", line: line)
            XCTAssertTrue("\(error)".hasPrefix("\(path): not instrumented: "), "\(error)", line: line)
        }
    }
}

/// Building and inspecting programs with the tools `swift build` put next to the
/// test runner and the system's binutils.
enum Tools {
    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    static let binDir: URL = BuiltProducts.directory(holding: "dyck-cc")

    static func binary(_ name: String) throws -> String {
        let path = binDir.appendingPathComponent(name).path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw XCTSkip("\(name) is not built; run `swift build` before `swift test` (the Makefile does)")
        }
        return path
    }

    static func run(_ tool: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        guard FileManager.default.isExecutableFile(atPath: tool) else { throw XCTSkip("\(tool) is not installed") }
        let outcome = try ProcessRunner.run(tool, arguments)
        return (outcome.status, outcome.stdoutText, outcome.stderrText)
    }

    static func mustRun(_ tool: String, _ arguments: [String]) throws {
        let r = try run(tool, arguments)
        guard r.status == 0 else {
            throw Failure("\(tool) \(arguments.joined(separator: " ")): status \(r.status)\n\(r.stderr)")
        }
    }

    /// Every `syscall` instruction of the executable, by address, with the target of
    /// the `lea ...(%rip),%rdx` right before it (nil when there is none), as binutils'
    /// objdump disassembles them: an independent reading of the code.
    static func markerInstructions(_ exe: String) throws -> [UInt64: UInt64?] {
        let listing = try run("/usr/bin/objdump", ["-d", "--no-show-raw-insn", exe])
        guard listing.status == 0 else { throw Failure("objdump failed: \(listing.stderr)") }
        var result: [UInt64: UInt64?] = [:]
        var previous: Substring = ""
        for line in listing.stdout.split(separator: "\n") {
            let parts = line.split(separator: "\t", maxSplits: 1)
            guard parts.count == 2, parts[0].hasSuffix(":"),
                let address = UInt64(parts[0].dropLast().trimmingCharacters(in: .whitespaces), radix: 16)
            else { continue }
            let instruction = parts[1]
            if instruction.trimmingCharacters(in: .whitespaces) == "syscall" {
                var target: UInt64? = nil
                if previous.hasPrefix("lea"), previous.contains("(%rip),%rdx"), let hash = previous.range(of: "# ") {
                    target = UInt64(previous[hash.upperBound...].prefix { $0.isHexDigit }, radix: 16)
                }
                result[address] = .some(target)
            }
            previous = instruction
        }
        return result
    }
}
