import Foundation
import XCTest

/// Every kind of bad input gets one clear line naming the file and the problem, and
/// a documented exit status below 128; never a crash.
final class BadInputTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = try CLI.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func write(_ text: String, _ name: String) throws -> String {
        let url = dir.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func assertBadInput(
        _ tool: String, _ args: [String], mentions: [String], file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let result = try CLI.run(tool, args)
        XCTAssertEqual(result.status, 2, "\(args): \(result.stderr)", file: file, line: line)
        let lines = result.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "one line: \(result.stderr)", file: file, line: line)
        for word in mentions {
            XCTAssertTrue(result.stderr.contains(word), "'\(word)' in: \(result.stderr)", file: file, line: line)
        }
        XCTAssertFalse(result.stderr.contains("Fatal error"), file: file, line: line)
    }

    func validPolicy() throws -> String {
        let ll = try CLI.compile(ToolTests.sharedHelper, name: "p", in: dir)
        let gen = try CLI.run("dyck-gen", [ll.path])
        XCTAssertEqual(gen.status, 0, gen.stderr)
        return try String(contentsOf: dir.appendingPathComponent("p.dyck"), encoding: .utf8)
    }

    func testIRThatDoesNotParse() throws {
        let path = try write("define i32 @main() {\n  ret i32 %nope\n}\n", "broken.ll")
        try assertBadInput("dyck-gen", [path], mentions: ["broken.ll"])
    }

    /// sbx vm's numeric options are parsed and checked before anything boots: status 2,
    /// the option and the value named.
    func testVMOptionsAreCheckedBeforeBooting() throws {
        let cases: [([String], [String])] = [
            (["--memory", "3x"], ["--memory", "3x", "512M"]),
            (["--memory", "64M"], ["--memory", "128M"]),
            (["--timeout", "0"], ["--timeout", "positive"]),
            (["--boot-timeout", "nan"], ["--boot-timeout", "positive"]),
            (["--boot-attempts", "11"], ["--boot-attempts", "1 to 10"]),
            (["--cpus", "0"], ["--cpus 0", "1 to 64"]),
            (["--kvm", "--icount"], ["--icount", "--kvm"]),
            (["--no-module", "--module", "x.ko"], ["--module", "--no-module"])
        ]
        for (options, words) in cases {
            let result = try CLI.run("sbx", ["vm"] + options + ["--", "true"])
            XCTAssertEqual(result.status, 2, "\(options): \(result.stderr)")
            for word in words {
                XCTAssertTrue(result.stderr.contains(word), "\(options): '\(word)' in: \(result.stderr)")
            }
            XCTAssertFalse(result.stderr.contains("booting"), "\(options): \(result.stderr)")
        }
    }

    func testNotIRAtAll() throws {
        let path = dir.appendingPathComponent("binary.bc").path
        XCTAssertTrue(
            FileManager.default.createFile(atPath: path, contents: Data([0x7F, 0x45, 0x4C, 0x46, 0, 1, 2, 3])))
        try assertBadInput("dyck-gen", [path], mentions: ["binary.bc"])
    }

    func testUnreadableIR() throws {
        let path = dir.appendingPathComponent("missing.ll").path
        try assertBadInput("dyck-gen", [path], mentions: ["missing.ll"])
        try assertBadInput("dyck-gen", [dir.path], mentions: [dir.lastPathComponent])
    }

    func testMissingEntry() throws {
        let ll = try CLI.compile("int helper(void) { return 1; }\n", name: "noentry", in: dir)
        try assertBadInput("dyck-gen", [ll.path], mentions: ["noentry.ll", "main"])
    }

    func testUnwritableOutput() throws {
        let ll = try CLI.compile(ToolTests.sharedHelper, name: "p", in: dir)
        let blocker = try write("a file, not a directory", "blocker")
        let result = try CLI.run("dyck-gen", [ll.path, "-o", blocker + "/out"])
        XCTAssertEqual(result.status, 3, result.stderr)
        XCTAssertTrue(result.stderr.contains("blocker"), result.stderr)
    }

    func testMissingPolicy() throws {
        try assertBadInput("sbx", ["stats", dir.appendingPathComponent("nope.dyck").path], mentions: ["nope.dyck"])
    }

    func testTruncatedPolicy() throws {
        let text = try validPolicy()
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        // Every cut at a line boundary short of the whole file is reported, whatever
        // the line: the declared counts and the end marker make truncation visible.
        for keep in stride(from: 0, to: lines.count - 2, by: max(1, lines.count / 12)) {
            let path = try write(lines[..<keep].joined(separator: "\n"), "cut\(keep).dyck")
            try assertBadInput("sbx", ["stats", path], mentions: ["cut\(keep).dyck"])
        }
        let path = try write(String(text.dropLast(text.count / 3)), "half.dyck")
        try assertBadInput("sbx", ["check", path, "--", "puts"], mentions: ["half.dyck"])
    }

    func testWrongVersion() throws {
        let text = try validPolicy()
        let bumped = text.replacingOccurrences(of: "dyck-policy 3\n", with: "dyck-policy 99\n")
        XCTAssertNotEqual(bumped, text)
        let path = try write(bumped, "future.dyck")
        try assertBadInput("sbx", ["stats", path], mentions: ["future.dyck", "version"])
    }

    func testBadSystemCallSets() throws {
        let text = try validPolicy()
        XCTAssertTrue(text.hasPrefix("dyck-policy 3\n"), "dyck-gen writes the sets: \(text.prefix(40))")
        func edited(_ change: (String) -> String) -> String {
            text.split(separator: "\n", omittingEmptySubsequences: false).map { change(String($0)) }.joined(
                separator: "\n")
        }
        let ambient = edited { $0.hasPrefix("window ambient ") ? "window ambient 4000" : $0 }
        try assertBadInput(
            "sbx", ["check", try write(ambient, "ambient.dyck"), "--", "puts"],
            mentions: ["ambient.dyck:", "out-of-range system-call set index 4000"])
        let unsorted = edited { $0 == "set 0" ? "set 0 2 1" : $0 }
        try assertBadInput(
            "sbx", ["blob", try write(unsorted, "unsorted.dyck"), "-o", dir.appendingPathComponent("x.blob").path],
            mentions: ["unsorted.dyck:", "not in ascending order"])
        let tooLarge = edited { $0 == "set 0" ? "set 0 510" : $0 }
        try assertBadInput(
            "sbx",
            [
                "convert", try write(tooLarge, "large.dyck"), "--to", "nfa", "-o",
                dir.appendingPathComponent("y.dyck").path
            ],
            mentions: ["large.dyck:", "system-call number 510 is out of range (0...509)"])
        // A version-1 header on a file with the sets.
        let old = text.replacingOccurrences(of: "dyck-policy 3\n", with: "dyck-policy 1\n")
        try assertBadInput(
            "sbx", ["stats", try write(old, "old.dyck")],
            mentions: ["old.dyck:", "found 'syscall-sets'", "dyck-policy 2"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("x.blob").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("y.dyck").path))
    }

    func testOutOfRangeIndex() throws {
        let text = try validPolicy()
        // Point the entry at a function that does not exist.
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasPrefix("entry ") ? "entry 4000" : String(line)
        }
        let path = try write(lines.joined(separator: "\n"), "range.dyck")
        try assertBadInput("sbx", ["check", path, "--", "puts"], mentions: ["range.dyck", "4000"])
    }

    func testGarbagePolicy() throws {
        let path = try write("\u{0}\u{1}garbage\n", "garbage.dyck")
        try assertBadInput("sbx", ["dot", path], mentions: ["garbage.dyck"])
    }

    func testUsageErrors() throws {
        XCTAssertEqual(try CLI.run("sbx", ["check"]).status, 2)
        XCTAssertEqual(try CLI.run("sbx", ["check", "x.dyck", "--mode", "bogus"]).status, 2)
        XCTAssertEqual(try CLI.run("dyck-gen", []).status, 2)
        let policy = try write(try validPolicy(), "ok.dyck")
        XCTAssertEqual(try CLI.run("sbx", ["convert", policy, "--to", "nfa"]).status, 2, "missing -o")
        // --flat --function F draws F flattened (what F can do); --report cannot be flattened.
        let flatMain = try CLI.run("sbx", ["dot", policy, "--flat", "--function", "main"])
        XCTAssertEqual(flatMain.status, 0, flatMain.stderr)
        XCTAssertTrue(flatMain.stdout.hasPrefix("digraph \"main (flattened)\""), flatMain.stdout)
        XCTAssertEqual(try CLI.run("sbx", ["dot", policy, "--flat", "--report", "r.json"]).status, 2)
        XCTAssertEqual(try CLI.run("sbx", ["dot", policy, "--report", "r.json", "--trace", "t.trace"]).status, 2)
    }
}
