import Foundation
import XCTest

/// Black-box tests of `dyck-gen` and `sbx` as built executables.
final class ToolTests: XCTestCase {
    static let sharedHelper = """
        #include <stdio.h>
        #include <unistd.h>
        void h(void) { puts("h"); }
        void a(void) { h(); getpid(); }
        void b(void) { h(); getppid(); }
        int main(void) { a(); b(); return 0; }
        """

    var dir: URL!

    override func setUpWithError() throws {
        dir = try CLI.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func policy() throws -> String {
        let ll = try CLI.compile(Self.sharedHelper, name: "shared", in: dir)
        let gen = try CLI.run("dyck-gen", [ll.path])
        XCTAssertEqual(gen.status, 0, gen.stderr)
        let path = dir.appendingPathComponent("shared.dyck").path
        XCTAssertTrue(FileManager.default.fileExists(atPath: path), "dyck-gen writes NAME.dyck next to the input")
        return path
    }

    func testGenerateThenCheckInBothModes() throws {
        let p = try policy()
        let real = try CLI.run("sbx", ["check", p, "--", "puts", "getpid", "puts", "getppid"])
        XCTAssertEqual(real.status, 0, real.stdout + real.stderr)
        XCTAssertTrue(real.stdout.contains("allowed"))

        let impossible = try CLI.run("sbx", ["check", p, "--", "puts", "getppid"])
        XCTAssertEqual(impossible.status, 1)
        XCTAssertTrue(impossible.stdout.contains("event 2 'getppid'"), impossible.stdout)
        XCTAssertTrue(impossible.stdout.contains("allowed here: getpid"), impossible.stdout)

        let nfa = try CLI.run("sbx", ["check", p, "--mode", "nfa", "--", "puts", "getppid"])
        XCTAssertEqual(nfa.status, 0, "the single-copy model admits the impossible path: " + nfa.stdout)

        let unknown = try CLI.run("sbx", ["check", p, "--", "puts", "execve"])
        XCTAssertEqual(unknown.status, 1)
        XCTAssertTrue(unknown.stdout.contains("not called anywhere"), unknown.stdout)
    }

    func testOutputDirectoryOption() throws {
        let ll = try CLI.compile(Self.sharedHelper, name: "shared", in: dir)
        // A missing parent is an error (3), and nothing is created.
        let deep = dir.appendingPathComponent("missing/dir")
        let refused = try CLI.run("dyck-gen", [ll.path, "-o", deep.path])
        XCTAssertEqual(refused.status, 3, refused.stderr)
        XCTAssertTrue(
            refused.stderr.contains(deep.path) && refused.stderr.contains("No such file or directory"), refused.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("missing").path))
        // The directory itself is made, as mkdir(1) would.
        let out = dir.appendingPathComponent("sub")
        let gen = try CLI.run("dyck-gen", [ll.path, "-o", out.path])
        XCTAssertEqual(gen.status, 0, gen.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("shared.dyck").path))
    }

    func testBitcodeInput() throws {
        let c = dir.appendingPathComponent("shared.c")
        try Self.sharedHelper.write(to: c, atomically: true, encoding: .utf8)
        let bc = dir.appendingPathComponent("shared.bc")
        let cc = try CLI.run("/usr/bin/clang-19", ["-O0", "-c", "-emit-llvm", c.path, "-o", bc.path])
        XCTAssertEqual(cc.status, 0, cc.stderr)
        let gen = try CLI.run("dyck-gen", [bc.path])
        XCTAssertEqual(gen.status, 0, gen.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("shared.dyck").path))
    }

    func testConvertRoundTrip() throws {
        let p = try policy()
        let flat = dir.appendingPathComponent("flat.dyck").path
        let convert = try CLI.run("sbx", ["convert", p, "--to", "nfa", "-o", flat])
        XCTAssertEqual(convert.status, 0, convert.stderr)
        XCTAssertEqual(
            try CLI.run("sbx", ["check", flat, "--", "puts", "getppid"]).status, 0,
            "a flattened policy admits the impossible path even in dyck mode")

        let inlined = dir.appendingPathComponent("inlined.dyck").path
        XCTAssertEqual(
            try CLI.run("sbx", ["convert", p, "--to", "nfa", "--inline-budget", "1000", "-o", inlined]).status, 0)
        XCTAssertEqual(
            try CLI.run("sbx", ["check", inlined, "--", "puts", "getppid"]).status, 1,
            "a copy of h per call site removes the impossible path")
        XCTAssertEqual(try CLI.run("sbx", ["check", inlined, "--", "puts", "getpid", "puts", "getppid"]).status, 0)

        let back = dir.appendingPathComponent("back.dyck").path
        XCTAssertEqual(try CLI.run("sbx", ["convert", flat, "--to", "dyck", "-o", back]).status, 0)
        let text = try String(contentsOfFile: back, encoding: .utf8)
        XCTAssertTrue(text.contains("kind dyck"), text)
        XCTAssertEqual(try CLI.run("sbx", ["check", back, "--", "puts", "getppid"]).status, 0)
    }

    /// The lines from `syscall-sets` to the windows: the version-2 section.
    static func systemCallSection(_ text: String) -> [Substring] {
        let lines = text.split(separator: "\n")
        guard let start = lines.firstIndex(where: { $0.hasPrefix("syscall-sets ") }) else { return [] }
        return Array(lines[start...].prefix { $0 != "end" })
    }

    func testPolicyWithSystemCallSets() throws {
        let p = try policy()
        let text = try String(contentsOfFile: p, encoding: .utf8)
        XCTAssertTrue(text.hasPrefix("dyck-policy 3\n"), text)
        let section = Self.systemCallSection(text)
        XCTAssertEqual(section.first, "syscall-sets \(section.filter { $0.hasPrefix("set ") }.count)")
        XCTAssertTrue(section.contains("set 0"), "set 0 is the empty set")
        XCTAssertEqual(
            section.filter { $0.hasPrefix("sym-set ") }.count,
            text.split(separator: "\n").filter { $0.hasPrefix("sym ") }.count)
        XCTAssertTrue(section.contains { $0.hasPrefix("window start ") })
        XCTAssertTrue(section.contains { $0.hasPrefix("window ambient ") })

        let check = try CLI.run("sbx", ["check", p, "--", "puts", "getpid", "puts", "getppid"])
        XCTAssertEqual(check.status, 0, check.stdout + check.stderr)
        let blob = try CLI.run("sbx", ["blob", p, "-o", dir.appendingPathComponent("p.blob").path])
        XCTAssertEqual(blob.status, 0, blob.stderr)
        XCTAssertTrue(blob.stderr.contains("system-call sets"), blob.stderr)

        // Converting keeps the sets, both ways, byte for byte.
        let flat = dir.appendingPathComponent("flat.dyck").path
        let convert = try CLI.run("sbx", ["convert", p, "--to", "nfa", "-o", flat])
        XCTAssertEqual(convert.status, 0, convert.stderr)
        let flatText = try String(contentsOfFile: flat, encoding: .utf8)
        XCTAssertTrue(flatText.hasPrefix("dyck-policy 3\nkind nfa\n"), flatText)
        XCTAssertEqual(Self.systemCallSection(flatText), section)
        XCTAssertEqual(try CLI.run("sbx", ["check", flat, "--mode", "nfa", "--", "puts", "getppid"]).status, 0)
        let back = dir.appendingPathComponent("back.dyck").path
        XCTAssertEqual(try CLI.run("sbx", ["convert", flat, "--to", "dyck", "-o", back]).status, 0)
        XCTAssertEqual(Self.systemCallSection(try String(contentsOfFile: back, encoding: .utf8)), section)
        let flatBlob = try CLI.run(
            "sbx", ["blob", flat, "--mode", "nfa", "-o", dir.appendingPathComponent("flat.blob").path])
        XCTAssertEqual(flatBlob.status, 0, flatBlob.stderr)
        XCTAssertTrue(flatBlob.stderr.contains("system-call sets"), flatBlob.stderr)

        // Without the section, the same policy is a version-1 file: read as before,
        // converted into version 1, compiled without sets.
        var v1 = text.replacingOccurrences(of: "dyck-policy 3\n", with: "dyck-policy 1\n")
        v1 = v1.replacingOccurrences(of: section.joined(separator: "\n") + "\n", with: "")
        XCTAssertFalse(v1.contains("syscall-sets"))
        let old = dir.appendingPathComponent("old.dyck").path
        try v1.write(toFile: old, atomically: true, encoding: .utf8)
        XCTAssertEqual(try CLI.run("sbx", ["check", old, "--", "puts", "getpid"]).status, 0)
        let oldFlat = dir.appendingPathComponent("old-flat.dyck").path
        XCTAssertEqual(try CLI.run("sbx", ["convert", old, "--to", "nfa", "-o", oldFlat]).status, 0)
        XCTAssertTrue(try String(contentsOfFile: oldFlat, encoding: .utf8).hasPrefix("dyck-policy 1\nkind nfa\n"))
        let oldBlob = try CLI.run("sbx", ["blob", old, "-o", dir.appendingPathComponent("old.blob").path])
        XCTAssertEqual(oldBlob.status, 0, oldBlob.stderr)
        XCTAssertFalse(oldBlob.stderr.contains("system-call sets"), oldBlob.stderr)
    }

    func testStatsShowsDyckTighterThanNFA() throws {
        let p = try policy()
        let stats = try CLI.run("sbx", ["stats", p])
        XCTAssertEqual(stats.status, 0, stats.stderr)
        func abf(_ mode: String) -> Double? {
            stats.stdout.split(separator: "\n").first { $0.hasPrefix(mode + " ") }
                .flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }
        }
        let dyck = try XCTUnwrap(abf("dyck"), stats.stdout)
        let nfa = try XCTUnwrap(abf("nfa-machine"), stats.stdout)
        XCTAssertLessThan(dyck, nfa, stats.stdout)
    }

    /// Long command lines after `--` are set aside before argument parsing (it was
    /// quadratic: 16,000 arguments to `sbx run` took 27 s, 100,000 events to `sbx check`
    /// did not finish); they must still arrive whole and in order.
    func testManyArgumentsAfterTheSeparator() throws {
        let loop =
            "#include <stdio.h>\nint main(int c, char **v) { for (int i = 0; i < c; i++) puts(v[i]); return 0; }\n"
        let ll = try CLI.compile(loop, name: "loop", in: dir)
        XCTAssertEqual(try CLI.run("dyck-gen", [ll.path]).status, 0)
        let events = Array(repeating: "puts", count: 100_000)
        let check = try CLI.run("sbx", ["check", dir.appendingPathComponent("loop.dyck").path, "--"] + events)
        XCTAssertEqual(check.status, 0, check.stderr)
        XCTAssertEqual(check.stdout, "allowed: 100000 events (dyck mode)\n")
        let refused = try CLI.run(
            "sbx", ["check", dir.appendingPathComponent("loop.dyck").path, "--"] + events + ["getpid"])
        XCTAssertEqual(refused.status, 1, refused.stderr)
        XCTAssertTrue(refused.stdout.contains("refused: event 100001 'getpid'"), String(refused.stdout.prefix(200)))

        let words = (0..<16_000).map { "w\($0)" } + ["--", "-h"]
        let trace = dir.appendingPathComponent("echo.trace").path
        let recorded = try CLI.run("sbx", ["record", "-o", trace, "--", "/bin/echo"] + words)
        XCTAssertEqual(recorded.status, 0, recorded.stderr)
        XCTAssertEqual(
            recorded.stdout, words.joined(separator: " ") + "\n", "every argument, a later -- and -h included")
    }

    func testDotAndPNG() throws {
        let p = try policy()
        let text = try CLI.run("sbx", ["dot", p, "--function", "a"])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.hasPrefix("digraph"), text.stdout)
        XCTAssertTrue(text.stdout.contains("getpid"))
        XCTAssertTrue(text.stdout.contains("h()"), "call edges name the callee")

        let png = dir.appendingPathComponent("all.png")
        let dotFile = dir.appendingPathComponent("all.dot")
        let render = try CLI.run("sbx", ["dot", p, "-o", dotFile.path, "--png", png.path])
        XCTAssertEqual(render.status, 0, render.stderr)
        let bytes = try Data(contentsOf: png)
        XCTAssertEqual(Array(bytes.prefix(4)), [0x89, 0x50, 0x4E, 0x47], "a PNG file")
        XCTAssertTrue(try String(contentsOf: dotFile, encoding: .utf8).hasPrefix("digraph"))

        let flat = try CLI.run("sbx", ["dot", p, "--flat"])
        XCTAssertEqual(flat.status, 0, flat.stderr)
        XCTAssertTrue(flat.stdout.contains("getppid"))

        let missing = try CLI.run("sbx", ["dot", p, "--function", "nosuch"])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("nosuch"), missing.stderr)

        let noGraphviz = try CLI.run("sbx", ["dot", p, "--png", png.path], environment: ["PATH": "/nonexistent"])
        XCTAssertEqual(noGraphviz.status, 4, noGraphviz.stderr)
        XCTAssertTrue(noGraphviz.stderr.contains("dot"), noGraphviz.stderr)

        let svg = dir.appendingPathComponent("all.svg")
        let vector = try CLI.run("sbx", ["dot", p, "--svg", svg.path])
        XCTAssertEqual(vector.status, 0, vector.stderr)
        XCTAssertTrue(try String(contentsOf: svg, encoding: .utf8).contains("<svg"), "an SVG file")
        let jpg = try CLI.run("sbx", ["dot", p, "--png", dir.appendingPathComponent("x.jpg").path])
        XCTAssertEqual(jpg.status, 2, jpg.stderr)
        XCTAssertTrue(jpg.stderr.contains("must end in .png"), jpg.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("x.jpg").path))
        let unwritable = dir.appendingPathComponent("no-such-dir/x.png").path
        let cannot = try CLI.run("sbx", ["dot", p, "--png", unwritable])
        XCTAssertEqual(cannot.status, 3, cannot.stderr)
        XCTAssertTrue(cannot.stderr.contains(unwritable), cannot.stderr)
    }

    func testBlobForTheKernel() throws {
        let p = try policy()
        for mode in ["dyck", "nfa"] {
            let out = dir.appendingPathComponent("\(mode).blob")
            let blob = try CLI.run("sbx", ["blob", p, "--mode", mode, "-o", out.path])
            XCTAssertEqual(blob.status, 0, blob.stderr)
            let bytes = try Data(contentsOf: out)
            XCTAssertEqual(Array(bytes.prefix(4)), Array("SBXB".utf8), "the blob's magic (specs/kernel-abi.md)")
        }
        XCTAssertEqual(
            try CLI.run("sbx", ["blob", p, "--stack-limit", "0", "-o", dir.appendingPathComponent("x").path]).status, 2)
    }

    func testHelpIsSuccess() throws {
        for tool in ["dyck-gen", "sbx"] {
            let help = try CLI.run(tool, ["--help"])
            XCTAssertEqual(help.status, 0)
            XCTAssertTrue(help.stdout.contains("USAGE"), help.stdout)
        }
        let cc = try CLI.run("dyck-cc", ["--dyck-help"])
        XCTAssertEqual(cc.status, 0)
        XCTAssertTrue(cc.stdout.contains("--dyck-entry=NAME"), cc.stdout)
        XCTAssertEqual(try CLI.run("dyck-cc", ["--dyck-nonsense"]).status, 2)
        for sub in ["check", "convert", "dot", "stats", "record", "blob"] {
            XCTAssertEqual(try CLI.run("sbx", [sub, "--help"]).status, 0)
        }
    }
}
