import DyckModel
import Foundation
import XCTest

/// Policies used by the format tests. All are valid and canonical (edges sorted), so
/// they must survive serialize/parse unchanged.
enum FormatSamples {
    /// The policy of the example in `specs/policy-format.md`.
    static var example: Policy {
        let main = Automaton(
            stateCount: 4, initial: 0, finals: [3],
            edges: [
                Edge(
                    from: 0, label: .libc(1), to: 1,
                    locations: [.init(file: "main.c", line: 5), .init(file: "main.c", line: 9)]),
                Edge(from: 1, label: .call(0), to: 2, locations: [.init(file: "main.c", line: 6)]),
                Edge(from: 2, label: .libc(0), to: 3)
            ])
        let helper = Automaton(stateCount: 2, initial: 0, finals: [1], edges: [Edge(from: 0, label: .libc(2), to: 1)])
        return Policy(
            kind: .dyck, module: "prog.ll", symbols: ["close", "open", "read"],
            functions: [
                PolicyFunction(name: "main", location: .init(file: "main.c", line: 3), automaton: main),
                PolicyFunction(name: "helper", automaton: helper)
            ],
            sites: [CallSite(caller: 0, callees: [1], indirect: false, location: .init(file: "main.c", line: 6))],
            entry: 0)
    }

    static let exampleText = """
        dyck-policy 1
        kind dyck
        module prog.ll
        entry 0
        symbols 3
        sym 0 close
        sym 1 open
        sym 2 read
        functions 2
        func 0 main states 4 initial 0 edges 3 @main.c:3
        final 3
        edge 0 1 libc 1 @main.c:5 @main.c:9
        edge 1 2 call 0 @main.c:6
        edge 2 3 libc 0
        func 1 helper states 2 initial 0 edges 1
        final 1
        edge 0 1 libc 2
        sites 1
        site 0 caller 0 callees 1 direct @main.c:6
        callbacks 0
        end

        """

    /// The example's system-call sets: close, open and read in their own windows (open
    /// and read share one), a loader-like start set that maps executable memory, an
    /// ambient set.
    static var exampleBinding: SystemCallBinding {
        SystemCallBinding(
            sets: [
                .empty,
                SystemCallSet(numbers: [0, 3, 9, 10, 12, 21, 257], mapsExecutable: true, opensForWriting: true),
                SystemCallSet(numbers: [3]),
                SystemCallSet(numbers: [0, 257], opensForWriting: true),
                SystemCallSet(numbers: [9, 11, 12, 60, 231])
            ],
            symbolSets: [2, 3, 3], startSet: 1, ambientSet: 4)
    }

    /// The example with system-call sets: the second example of `specs/policy-format.md`.
    static var exampleV2: Policy {
        var policy = example
        policy.syscalls = exampleBinding
        return policy
    }

    static let exampleV2Text =
        exampleText
        .replacingOccurrences(of: "dyck-policy 1\n", with: "dyck-policy 3\n")
        .replacingOccurrences(
            of: "callbacks 0\nend\n",
            with: """
                callbacks 0
                syscall-sets 5
                set 0
                set 1 exec write 0 3 9 10 12 21 257
                set 2 3
                set 3 write 0 257
                set 4 9 11 12 60 231
                symbol-sets 3
                sym-set 0 2
                sym-set 1 3
                sym-set 2 3
                window start 1
                window ambient 4
                end

                """)

    /// A flattened policy keeps its sets; the start window may be the ambient set, a
    /// symbol's set may be the empty set.
    static var nfaV2: Policy {
        var policy = nfa
        policy.syscalls = SystemCallBinding(
            sets: [.empty, SystemCallSet(numbers: [0, 1, 509]), SystemCallSet(numbers: [9, 60])],
            symbolSets: [1, 0], startSet: 2, ambientSet: 2)
        return policy
    }

    /// Names that need every kind of escape, including ones that look like keywords.
    static var oddNames: Policy {
        let symbols = [
            "a b", "100%", "x@y", "#hash", "c:d", "tab\there", "nl\nx", "nul\u{0}", "del\u{7F}", "\u{E9}t\u{E9}",
            "😀", "-", "end", "sym", "%41", "cr\r", "ascii~!\"$&'()*+,-./;<=>?[\\]^_`{|}"
        ]
        let weirdFile = SourceLocation(file: "dir with space/a:b@c#d%e.c", line: 12)
        let f0 = Automaton(
            stateCount: 3, initial: 0, finals: [0, 2],
            edges: [
                Edge(from: 0, label: .libc(0), to: 1, locations: [weirdFile, .init(file: "", line: 0)]),
                Edge(from: 1, label: .libc(16), to: 2, locations: [.init(file: "ünï", line: Int(UInt32.max))]),
                Edge(from: 1, label: .call(0), to: 2)
            ])
        return Policy(
            kind: .dyck, module: "my prog.ll\n", symbols: symbols,
            functions: [
                PolicyFunction(name: "with space", location: weirdFile, automaton: f0),
                PolicyFunction(name: "std::vector<int>::push_back", automaton: .empty),
                PolicyFunction(name: "direct", automaton: .empty),
                PolicyFunction(name: "ünïcödé\u{1F600}", location: .init(file: "%", line: 1), automaton: .empty)
            ],
            sites: [CallSite(caller: 0, callees: [2, 1], indirect: true, location: .init(file: ":", line: 7))],
            entry: 0, callbacks: [3])
    }

    /// Recursion, an indirect site, callbacks out of order, functions without finals,
    /// an empty module name.
    static var rich: Policy {
        let main = Automaton(
            stateCount: 5, initial: 0, finals: [4],
            edges: [
                Edge(from: 0, label: .libc(0), to: 1),
                Edge(from: 1, label: .libc(1), to: 1),
                Edge(from: 1, label: .call(0), to: 2),
                Edge(from: 1, label: .call(1), to: 3),
                Edge(from: 2, label: .libc(2), to: 4),
                Edge(from: 3, label: .libc(2), to: 4)
            ])
        let recurse = Automaton(
            stateCount: 3, initial: 1, finals: [0, 2],
            edges: [
                Edge(from: 1, label: .libc(1), to: 0),
                Edge(from: 1, label: .call(2), to: 2)
            ])
        let loopForever = Automaton(
            stateCount: 2, initial: 0, finals: [],
            edges: [
                Edge(from: 0, label: .libc(3), to: 1),
                Edge(from: 1, label: .libc(3), to: 0)
            ])
        return Policy(
            kind: .dyck, module: "", symbols: ["exit", "printf", "puts", "sleep"],
            functions: [
                PolicyFunction(name: "main", automaton: main),
                PolicyFunction(name: "recurse", automaton: recurse),
                PolicyFunction(name: "server", automaton: loopForever),
                PolicyFunction(name: "handler", automaton: .empty)
            ],
            sites: [
                CallSite(caller: 0, callees: [1]),
                CallSite(caller: 0, callees: [3, 1, 2], indirect: true, location: .init(file: "m.c", line: 40)),
                CallSite(caller: 1, callees: [1], location: .init(file: "r.c", line: 2))
            ],
            entry: 0, callbacks: [3, 2])
    }

    static var nfa: Policy {
        let root = Automaton(
            stateCount: 3, initial: 0, finals: [2],
            edges: [
                Edge(from: 0, label: .libc(0), to: 1),
                Edge(from: 1, label: .libc(0), to: 1),
                Edge(from: 1, label: .libc(1), to: 2)
            ])
        return Policy(
            kind: .nfa, module: "flat.ll", symbols: ["read", "write"],
            functions: [
                PolicyFunction(name: "main", automaton: root), PolicyFunction(name: "on_signal", automaton: .empty)
            ],
            sites: [], entry: 0, callbacks: [1])
    }

    static var all: [Policy] { [example, oddNames, rich, nfa, exampleV2, nfaV2] }

    /// Many functions and edges, to see that nothing is quadratic.
    static func large(functions count: Int, edgesEach: Int) -> Policy {
        var functions: [PolicyFunction] = []
        var sites: [CallSite] = []
        for f in 0..<count {
            var edges: [Edge] = []
            for e in 0..<edgesEach {
                edges.append(
                    Edge(from: e, label: .libc(e % 7), to: e + 1, locations: [.init(file: "f\(f).c", line: e)]))
            }
            if f + 1 < count {
                edges.append(Edge(from: edgesEach, label: .call(sites.count), to: 0))
                sites.append(CallSite(caller: f, callees: [f + 1]))
            }
            let automaton = Automaton(stateCount: edgesEach + 1, initial: 0, finals: [edgesEach], edges: edges)
            functions.append(PolicyFunction(name: "fn\(f)", automaton: automaton))
        }
        return Policy(symbols: (0..<7).map { "s\($0)" }, functions: functions, sites: sites, entry: 0)
    }
}

final class PolicyFormatTests: XCTestCase {
    // MARK: Helpers

    @discardableResult
    func assertRejected(
        _ text: String, _ kind: PolicyFormatError.Kind, line: Int?, mentions: [String] = [],
        file: StaticString = #filePath, line testLine: UInt = #line
    ) -> PolicyFormatError? {
        do {
            let policy = try Policy.parse(text)
            XCTFail("accepted: \(policy)\n--- text:\n\(text)", file: file, line: testLine)
            return nil
        } catch {
            XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: testLine)
            XCTAssertEqual(error.line, line, "\(error)", file: file, line: testLine)
            for word in mentions {
                XCTAssertTrue(error.message.contains(word), "'\(word)' not in: \(error)", file: file, line: testLine)
            }
            XCTAssertFalse(error.description.contains("\n"), "one line: \(error)", file: file, line: testLine)
            return error
        }
    }

    /// The example text with line `number` (1-based) replaced by `replacement` lines.
    func example(replacing number: Int, with replacement: String...) -> String {
        var lines = FormatSamples.exampleText.components(separatedBy: "\n")
        lines.replaceSubrange(number - 1..<number, with: replacement)
        return lines.joined(separator: "\n")
    }

    func assertValidationFails(
        _ policy: Policy, _ kind: PolicyFormatError.Kind, _ description: String,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        do {
            try policy.validate()
            XCTFail("validated", file: file, line: line)
        } catch {
            XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
            XCTAssertNil(error.line, file: file, line: line)
            XCTAssertEqual(error.description, description, file: file, line: line)
        }
        // Serializing an invalid policy must not trap, and reading it back must fail.
        XCTAssertThrowsError(try Policy.parse(policy.serialized()), file: file, line: line)
    }

    // MARK: Round trips

    func testGoldenExample() throws {
        XCTAssertEqual(FormatSamples.example.serialized(), FormatSamples.exampleText)
        XCTAssertEqual(try Policy.parse(FormatSamples.exampleText), FormatSamples.example)
    }

    func testRoundTripIsExact() throws {
        for policy in FormatSamples.all {
            try policy.validate()
            let text = policy.serialized()
            let back = try Policy.parse(text)
            XCTAssertEqual(back, policy, text)
            XCTAssertEqual(back.serialized(), text)
            XCTAssertEqual(policy.canonicalized(), policy)
        }
    }

    func testOddNamesAreEncoded() throws {
        let text = FormatSamples.oddNames.serialized()
        XCTAssertTrue(text.utf8.allSatisfy { $0 == 0x0A || (0x20..<0x7F).contains($0) }, "printable ASCII only")
        XCTAssertTrue(text.contains("module my%20prog.ll%0A\n"), text)
        XCTAssertTrue(text.contains("sym 1 100%25\n"), text)
        XCTAssertTrue(text.contains("sym 2 x%40y\n"), text)
        XCTAssertTrue(text.contains("sym 3 %23hash\n"), text)
        XCTAssertTrue(text.contains("sym 4 c%3Ad\n"), text)
        XCTAssertTrue(text.contains("sym 7 nul%00\n"), text)
        XCTAssertTrue(text.contains("sym 9 %C3%A9t%C3%A9\n"), text)
        XCTAssertTrue(text.contains("sym 14 %2541\n"), text)
        XCTAssertTrue(
            text.contains(
                "func 0 with%20space states 3 initial 0 edges 3 @dir%20with%20space/a%3Ab%40c%23d%25e.c:12\n"), text)
        XCTAssertTrue(text.contains("edge 0 1 libc 0 @dir%20with%20space/a%3Ab%40c%23d%25e.c:12 @:0\n"), text)
        XCTAssertTrue(text.contains("site 0 caller 0 callees 2 1 indirect @%3A:7\n"), text)
        XCTAssertTrue(text.contains("func 2 direct states 1"), text)
        // Lower-case and needless escapes are read too (the writer never emits them).
        let relaxed = FormatSamples.exampleText.replacingOccurrences(of: "sym 1 open", with: "sym 1 %6f%70en")
        XCTAssertEqual(try Policy.parse(relaxed), FormatSamples.example)
    }

    func testSerializationCanonicalisesEdgeOrder() throws {
        var shuffled = FormatSamples.rich
        shuffled.functions[0].automaton.edges.reverse()
        XCTAssertNotEqual(shuffled, FormatSamples.rich)
        XCTAssertEqual(shuffled.canonicalized(), FormatSamples.rich)
        XCTAssertEqual(shuffled.serialized(), FormatSamples.rich.serialized())
        XCTAssertEqual(try Policy.parse(shuffled.serialized()), shuffled.canonicalized())
        // The parser keeps the file's edge order: a hand-written file need not be sorted.
        let sortedBlock = "edge 0 1 libc 1 @main.c:5 @main.c:9\nedge 1 2 call 0 @main.c:6\nedge 2 3 libc 0\n"
        let unsortedBlock = "edge 2 3 libc 0\nedge 1 2 call 0 @main.c:6\nedge 0 1 libc 1 @main.c:5 @main.c:9\n"
        XCTAssertTrue(FormatSamples.exampleText.contains(sortedBlock))
        let unsorted = FormatSamples.exampleText.replacingOccurrences(of: sortedBlock, with: unsortedBlock)
        let parsed = try Policy.parse(unsorted)
        XCTAssertEqual(parsed.functions[0].automaton.edges.map(\.from), [2, 1, 0])
        XCTAssertEqual(parsed.canonicalized(), FormatSamples.example)
    }

    func testLargePolicyRoundTrips() throws {
        let policy = FormatSamples.large(functions: 200, edgesEach: 50)
        try policy.validate()
        let text = policy.serialized()
        XCTAssertEqual(try Policy.parse(text), policy)
    }

    func testCommentsAndBlankLines() throws {
        var lines = FormatSamples.exampleText.components(separatedBy: "\n")
        lines.insert("# written by hand; comments may hold any text: é \t @ %", at: 1)
        lines.insert("", at: 5)
        lines.insert("#", at: 12)
        lines.append("# trailing comment")
        lines.append("")
        XCTAssertEqual(try Policy.parse(lines.joined(separator: "\n")), FormatSamples.example)
        // The header must be the very first line.
        assertRejected(
            "# comment\n" + FormatSamples.exampleText, .malformed, line: 1, mentions: ["not a dyck policy file"])
        // Whitespace-only lines are not blank lines.
        assertRejected(
            example(replacing: 5, with: " ", "symbols 3"), .malformed, line: 5, mentions: ["starts with a space"])
    }

    func testFinalNewlineMayBeMissingOnlyAfterEnd() throws {
        XCTAssertEqual(try Policy.parse(String(FormatSamples.exampleText.dropLast())), FormatSamples.example)
        assertRejected(String(FormatSamples.exampleText.dropLast(2)), .truncated, line: 21, mentions: ["truncated"])
    }

    // MARK: Truncation

    func testEmptyFile() {
        assertRejected("", .truncated, line: 1, mentions: ["empty"])
    }

    func testEveryLineBoundaryCutIsTruncated() {
        for policy in FormatSamples.all {
            let lines = policy.serialized().components(separatedBy: "\n").dropLast()  // the text ends with "\n"
            for keep in 0..<lines.count {
                let prefix = lines.prefix(keep).joined(separator: "\n")
                for cut in keep == 0 ? [""] : [prefix, prefix + "\n"] {
                    do {
                        _ = try Policy.parse(cut)
                        XCTFail("a cut after \(keep) lines was accepted")
                    } catch {
                        XCTAssertEqual(error.kind, .truncated, "cut after \(keep) lines: \(error)")
                        XCTAssertTrue(
                            error.message.contains("truncated") || error.message.contains("empty"), "\(error)")
                        XCTAssertNotNil(error.line)
                    }
                }
            }
        }
    }

    func testEveryByteCutIsTruncated() {
        for policy in [FormatSamples.example, FormatSamples.oddNames, FormatSamples.exampleV2, FormatSamples.nfaV2] {
            let bytes = Array(policy.serialized().utf8)
            for length in 0..<bytes.count - 1 {
                let cut = String(decoding: bytes[..<length], as: UTF8.self)
                do {
                    _ = try Policy.parse(cut)
                    XCTFail("a cut at byte \(length) was accepted")
                } catch {
                    XCTAssertEqual(error.kind, .truncated, "cut at byte \(length): \(error)")
                }
            }
        }
    }

    func testFewerOrMoreTableRowsThanDeclared() {
        assertRejected(
            example(replacing: 5, with: "symbols 4"), .malformed, line: 9,
            mentions: ["expected 'sym ID NAME'", "symbol 3 of the 4", "found 'functions'"])
        assertRejected(
            example(replacing: 5, with: "symbols 2"), .malformed, line: 8,
            mentions: ["expected 'functions COUNT'", "found 'sym'"])
        assertRejected(
            example(replacing: 15, with: "func 1 helper states 2 initial 0 edges 2"), .malformed, line: 18,
            mentions: ["edge 1 of the 2 declared for function 1", "found 'sites'"])
        assertRejected(
            example(replacing: 10, with: "func 0 main states 4 initial 0 edges 2 @main.c:3"), .malformed, line: 14,
            mentions: ["func ID NAME", "found 'edge'"])
        assertRejected(
            example(replacing: 20, with: "callbacks 1"), .malformed, line: 21,
            mentions: ["callback FUNCTION", "found 'end'"])
        assertRejected(
            example(replacing: 18, with: "sites 2"), .malformed, line: 20,
            mentions: ["call site 1 of the 2", "found 'callbacks'"])
        // A huge declared count in a tiny file is reported as truncated, not allocated.
        assertRejected(
            example(replacing: 5, with: "symbols 1048576", "end"), .malformed, line: 6, mentions: ["found 'end'"])
        assertRejected("dyck-policy 1\nkind dyck\nmodule\nentry 0\nsymbols 1048576\n", .truncated, line: 6)
    }

    // MARK: Header

    func testUnsupportedVersion() {
        let text = example(replacing: 1, with: "dyck-policy 7")
        let error = assertRejected(text, .unsupportedVersion, line: 1)
        XCTAssertEqual(error?.message, "unsupported policy version 7; this tool reads versions 1 to 3")
        assertRejected(example(replacing: 1, with: "dyck-policy 99999999999999999999999"), .unsupportedVersion, line: 1)
        assertRejected(example(replacing: 1, with: "dyck-policy 0"), .unsupportedVersion, line: 1)
        assertRejected(example(replacing: 1, with: "dyck-policy 4"), .unsupportedVersion, line: 1)
        // A future version may change the header's shape: the version is judged first.
        assertRejected(example(replacing: 1, with: "dyck-policy 4 compressed"), .unsupportedVersion, line: 1)
        assertRejected(
            example(replacing: 1, with: "dyck-policy 2 compressed"), .malformed, line: 1,
            mentions: ["after the version"])
    }

    func testGarbageHeader() {
        assertRejected("hello world\n", .malformed, line: 1, mentions: ["not a dyck policy file", "hello world"])
        let binary = assertRejected(
            "\u{0}\u{1}garbage\n", .malformed, line: 1, mentions: ["not a dyck policy file", "\\x00\\x01garbage"])
        XCTAssertFalse(binary?.description.contains("\u{0}") ?? true)
        assertRejected("\u{FEFF}" + FormatSamples.exampleText, .malformed, line: 1, mentions: ["byte order mark"])
        assertRejected(
            example(replacing: 1, with: "dyck-policy one"), .malformed, line: 1, mentions: ["decimal number"])
        assertRejected(example(replacing: 1, with: "dyck-policy 01"), .malformed, line: 1)
        assertRejected(example(replacing: 1, with: "dyck-policy  1"), .malformed, line: 1, mentions: ["decimal number"])
        assertRejected(
            example(replacing: 1, with: "dyck-policy 1 "), .malformed, line: 1, mentions: ["ends with a space"])
        assertRejected(example(replacing: 1, with: "dyck-policy 7 "), .unsupportedVersion, line: 1)
        assertRejected(
            example(replacing: 1, with: "dyck-policy"), .malformed, line: 1, mentions: ["not a dyck policy file"])
        assertRejected(example(replacing: 1, with: "DYCK-POLICY 1"), .malformed, line: 1)
        assertRejected(
            FormatSamples.exampleText.replacingOccurrences(of: "\n", with: "\r\n"), .malformed, line: 1,
            mentions: ["CRLF"])
        assertRejected("dyck-p", .truncated, line: 1)
    }

    // MARK: Malformed lines

    func testMalformedLines() {
        assertRejected(
            example(replacing: 2, with: "kind pda"), .malformed, line: 2, mentions: ["unknown policy kind 'pda'"])
        assertRejected(
            example(replacing: 2, with: "module prog.ll"), .malformed, line: 2,
            mentions: ["expected 'kind dyck|nfa'", "found 'module'"])
        assertRejected(
            example(replacing: 4, with: "entry 0 1"), .malformed, line: 4,
            mentions: ["too many fields", "entry FUNCTION"])
        assertRejected(example(replacing: 4, with: "entry"), .malformed, line: 4, mentions: ["too few fields"])
        assertRejected(example(replacing: 6, with: "sym 0"), .malformed, line: 6, mentions: ["sym ID NAME"])
        assertRejected(
            example(replacing: 7, with: "sym 2 open"), .malformed, line: 7,
            mentions: ["expected symbol id 1, found '2'"])
        assertRejected(
            example(replacing: 15, with: "func 0 helper states 2 initial 0 edges 1"), .malformed, line: 15,
            mentions: ["expected function id 1"])
        assertRejected(
            example(replacing: 19, with: "site 1 caller 0 callees 1 direct"), .malformed, line: 19,
            mentions: ["expected call site id 0"])
        assertRejected(
            example(replacing: 15, with: "func 1 helper stat 2 initial 0 edges 1"), .malformed, line: 15,
            mentions: ["expected 'states'"])
        assertRejected(
            example(replacing: 15, with: "func 1 helper states 2 initial 0 edges 1 main.c:4"), .malformed, line: 15,
            mentions: ["'@FILE:LINE'"])
        assertRejected(
            example(replacing: 15, with: "func 1 helper states 2 initial 0 edges 1 @main.c"), .malformed, line: 15,
            mentions: ["'@FILE:LINE'"])
        assertRejected(
            example(replacing: 15, with: "func 1 helper states 2 initial 0 edges 1 @main.c:x"), .malformed, line: 15,
            mentions: ["line number"])
        assertRejected(
            example(replacing: 15, with: "func 1 helper states 2 initial 0 edges 1 @a.c:1 @b.c:2"), .malformed,
            line: 15, mentions: ["too many fields"])
        assertRejected(
            example(replacing: 17, with: "edge 0 1 jump 2"), .malformed, line: 17, mentions: ["'libc' or 'call'"])
        assertRejected(
            example(replacing: 17, with: "edge 0 1 libc"), .malformed, line: 17, mentions: ["too few fields"])
        assertRejected(
            example(replacing: 17, with: "edge 0 1 libc 2 junk"), .malformed, line: 17,
            mentions: ["'@FILE:LINE'", "junk"])
        assertRejected(
            example(replacing: 19, with: "site 0 caller 0 callees 1"), .malformed, line: 19,
            mentions: ["missing 'direct' or 'indirect'"])
        assertRejected(
            example(replacing: 19, with: "site 0 caller 0 callees"), .malformed, line: 19, mentions: ["too few fields"])
        assertRejected(
            example(replacing: 19, with: "site 0 caller 0 callees 1 @main.c:6"), .malformed, line: 19,
            mentions: ["'direct'/'indirect'"])
        assertRejected(
            example(replacing: 19, with: "site 0 caller 0 callees 1 x direct"), .malformed, line: 19,
            mentions: ["'direct'/'indirect'", "'x'"])
        assertRejected(
            example(replacing: 19, with: "site 0 caller 0 callees 1 1 2"), .malformed, line: 19,
            mentions: ["missing 'direct' or 'indirect'"])
        assertRejected(
            example(replacing: 19, with: "site 0 caller 0 callees 1 direct @a.c:1 @b.c:2"), .malformed, line: 19,
            mentions: ["too many fields"])
        assertRejected(
            example(replacing: 21, with: "end", "sym 3 extra"), .malformed, line: 22, mentions: ["after 'end'"])
        assertRejected(example(replacing: 21, with: "end now"), .malformed, line: 21, mentions: ["too many fields"])
        assertRejected(example(replacing: 11, with: "final 3 "), .malformed, line: 11, mentions: ["ends with a space"])
        assertRejected(example(replacing: 11, with: "final\t3"), .malformed, line: 11, mentions: ["tab"])
        assertRejected(
            example(replacing: 6, with: "sym 0 clos\u{E9}"), .malformed, line: 6, mentions: ["non-ASCII byte 0xC3"])
        assertRejected(
            example(replacing: 6, with: "sym 0 clo\u{1B}[31m"), .malformed, line: 6, mentions: ["control byte 0x1B"])
    }

    func testMalformedNames() {
        assertRejected(
            example(replacing: 6, with: "sym 0 a%4"), .malformed, line: 6, mentions: ["invalid percent escape '%4'"])
        assertRejected(
            example(replacing: 6, with: "sym 0 a%zz"), .malformed, line: 6, mentions: ["invalid percent escape '%zz'"])
        assertRejected(
            example(replacing: 6, with: "sym 0 a@b"), .malformed, line: 6,
            mentions: ["must be percent-encoded (as %40)"])
        assertRejected(example(replacing: 6, with: "sym 0 a:b"), .malformed, line: 6, mentions: ["%3A"])
        assertRejected(example(replacing: 6, with: "sym 0 a#b"), .malformed, line: 6, mentions: ["%23"])
        assertRejected(example(replacing: 6, with: "sym 0 %FF"), .malformed, line: 6, mentions: ["not valid UTF-8"])
        assertRejected(example(replacing: 6, with: "sym 0 %C3"), .malformed, line: 6, mentions: ["not valid UTF-8"])
        assertRejected(
            example(replacing: 10, with: "func 0 main states 4 initial 0 edges 3 @ma%ZZin.c:3"), .malformed, line: 10,
            mentions: ["source file name"])
        let long = String(repeating: "a", count: PolicyLimits.maxNameBytes + 1)
        assertRejected(
            example(replacing: 6, with: "sym 0 \(long)"), .capExceeded, line: 6,
            mentions: ["65536 bytes", "cap is 65535"])
        assertRejected(example(replacing: 3, with: "module \(long)"), .capExceeded, line: 3)
        // Decoded bytes count against the cap, not the escaped text.
        let escaped = String(repeating: "%41", count: PolicyLimits.maxNameBytes)
        XCTAssertNoThrow(try Policy.parse(example(replacing: 6, with: "sym 0 \(escaped)")))
    }

    func testBadNumbers() {
        for bad in ["x", "-1", "+1", "01", "1.0", "0x1", "1e3"] {
            assertRejected(
                example(replacing: 4, with: "entry \(bad)"), .malformed, line: 4,
                mentions: ["entry function index", "decimal number"])
            assertRejected(
                example(replacing: 5, with: "symbols \(bad)"), .malformed, line: 5,
                mentions: ["symbol count", "decimal number"])
            assertRejected(
                example(replacing: 17, with: "edge 0 \(bad) libc 2"), .malformed, line: 17, mentions: ["target state"])
            assertRejected(
                example(replacing: 11, with: "final \(bad)"), .malformed, line: 11, mentions: ["final state"])
        }
        let huge = "99999999999999999999999999"
        assertRejected(example(replacing: 4, with: "entry \(huge)"), .outOfRange, line: 4, mentions: [huge])
        assertRejected(
            example(replacing: 17, with: "edge 0 1 libc \(huge)"), .outOfRange, line: 17,
            mentions: ["symbol index", huge])
        assertRejected(
            example(replacing: 19, with: "site 0 caller 0 callees \(huge) direct"), .outOfRange, line: 19,
            mentions: ["callee", huge])
        assertRejected(
            example(replacing: 17, with: "edge 0 1 libc 2 @a.c:\(huge)"), .outOfRange, line: 17,
            mentions: ["source line"])
        assertRejected(
            example(replacing: 17, with: "edge 0 1 libc 2 @a.c:4294967296"), .outOfRange, line: 17,
            mentions: ["4294967296", "0...4294967295"])
        // Int.max itself parses, and is then out of range of the table it indexes.
        assertRejected(
            example(replacing: 4, with: "entry \(Int.max)"), .outOfRange, line: 4,
            mentions: ["\(Int.max)", "(functions: 0..<2)"])
    }

    // MARK: Caps

    func testCapsExceeded() {
        assertRejected(
            example(replacing: 5, with: "symbols 999999999999"), .capExceeded, line: 5,
            mentions: ["symbol count 999999999999 exceeds the cap of 1048576"])
        assertRejected(example(replacing: 5, with: "symbols 99999999999999999999999"), .capExceeded, line: 5)
        assertRejected(
            example(replacing: 9, with: "functions 1048577"), .capExceeded, line: 9, mentions: ["function count"])
        assertRejected(
            example(replacing: 15, with: "func 1 helper states 16777217 initial 0 edges 1"), .capExceeded, line: 15,
            mentions: ["state count"])
        assertRejected(
            example(replacing: 15, with: "func 1 helper states 2 initial 0 edges 16777217"), .capExceeded, line: 15,
            mentions: ["edge count"])
        assertRejected(
            example(replacing: 18, with: "sites 4194305"), .capExceeded, line: 18, mentions: ["call site count"])
        assertRejected(
            example(replacing: 20, with: "callbacks 1048577"), .capExceeded, line: 20, mentions: ["callback count"])

        // Totals: five functions of 2^24 states each exceed 2^26 states in all.
        var text = "dyck-policy 1\nkind dyck\nmodule\nentry 0\nsymbols 0\nfunctions 5\n"
        for f in 0..<5 { text += "func \(f) f\(f) states 16777216 initial 0 edges 0\nfinal\n" }
        text += "sites 0\ncallbacks 0\nend\n"
        assertRejected(text, .capExceeded, line: 15, mentions: ["states in total"])
    }

    // MARK: Out-of-range indices

    func testOutOfRangeIndices() {
        assertRejected(
            example(replacing: 4, with: "entry 2"), .outOfRange, line: 4,
            mentions: ["out-of-range entry index 2 (functions: 0..<2)"])
        assertRejected(
            example(replacing: 15, with: "func 1 helper states 2 initial 2 edges 1"), .outOfRange, line: 15,
            mentions: ["initial state 2 (states: 0..<2)"])
        assertRejected(
            example(replacing: 15, with: "func 1 helper states 0 initial 0 edges 1"), .outOfRange, line: 15,
            mentions: ["state count 0"])
        assertRejected(
            example(replacing: 16, with: "final 1 5"), .outOfRange, line: 16,
            mentions: ["final state 5 (states: 0..<2)"])
        assertRejected(
            example(replacing: 17, with: "edge 2 1 libc 2"), .outOfRange, line: 17,
            mentions: ["source state 2 (states: 0..<2)"])
        assertRejected(
            example(replacing: 17, with: "edge 0 9 libc 2"), .outOfRange, line: 17,
            mentions: ["target state 9 (states: 0..<2)"])
        assertRejected(
            example(replacing: 17, with: "edge 0 1 libc 3"), .outOfRange, line: 17,
            mentions: ["symbol index 3 (symbols: 0..<3)"])
        assertRejected(
            example(replacing: 13, with: "edge 1 2 call 1"), .outOfRange, line: 13,
            mentions: ["call site index 1 (sites: 0..<1)"])
        assertRejected(
            example(replacing: 19, with: "site 0 caller 2 callees 1 direct"), .outOfRange, line: 19,
            mentions: ["caller index 2 (functions: 0..<2)"])
        assertRejected(
            example(replacing: 19, with: "site 0 caller 0 callees 9 direct"), .outOfRange, line: 19,
            mentions: ["out-of-range callee index 9 (functions: 0..<2)"])
        assertRejected(
            example(replacing: 20, with: "callbacks 1", "callback 5"), .outOfRange, line: 21,
            mentions: ["callback index 5 (functions: 0..<2)"])
        // No symbols at all: the range says so.
        let noSymbols = example(replacing: 5, with: "symbols 0").replacingOccurrences(
            of: "sym 0 close\nsym 1 open\nsym 2 read\n", with: "")
        assertRejected(noSymbols, .outOfRange, line: 9, mentions: ["(symbols: none)"])
    }

    // MARK: Duplicates

    func testDuplicates() {
        assertRejected(
            example(replacing: 7, with: "sym 1 close"), .duplicate, line: 7,
            mentions: ["duplicate symbol name 'close' (also symbol 0)"])
        assertRejected(
            example(replacing: 15, with: "func 1 main states 2 initial 0 edges 1"), .duplicate, line: 15,
            mentions: ["duplicate function name 'main' (also function 0)"])
        assertRejected(
            example(replacing: 16, with: "final 1 0 1"), .duplicate, line: 16,
            mentions: ["final state 1 is listed twice"])
        assertRejected(
            example(replacing: 19, with: "site 0 caller 0 callees 1 1 indirect"), .duplicate, line: 19,
            mentions: ["callee 1 is listed twice"])
        assertRejected(
            example(replacing: 20, with: "callbacks 2", "callback 1", "callback 1"), .duplicate, line: 22,
            mentions: ["listed as a callback twice"])
        let twice = example(replacing: 15, with: "func 1 helper states 2 initial 0 edges 2")
            .replacingOccurrences(of: "edge 0 1 libc 2\n", with: "edge 0 1 libc 2\nedge 0 1 libc 2 @x.c:1\n")
        assertRejected(twice, .duplicate, line: 18, mentions: ["duplicate edge 0 -> 1 libc 2"])
        // Names that are the same Unicode text in different byte forms are the same name.
        assertRejected(
            example(replacing: 7, with: "sym 1 %C3%A9").replacingOccurrences(of: "sym 2 read", with: "sym 2 e%CC%81"),
            .duplicate, line: 8, mentions: ["duplicate symbol name"])
    }

    // MARK: Inconsistencies

    func testInconsistencies() {
        // A site's call edge may be in another function than its caller: inlining puts
        // it into the functions the caller was inlined into (analysis.md).
        XCTAssertNoThrow(
            try Policy.parse(example(replacing: 19, with: "site 0 caller 1 callees 1 direct @main.c:6")).validate())
        assertRejected(
            example(replacing: 2, with: "kind nfa"), .inconsistent, line: 13,
            mentions: ["call edge in a policy of kind nfa"])
        assertRejected(
            example(replacing: 19, with: "site 0 caller 0 callees 1 0 direct"), .inconsistent, line: 19,
            mentions: ["direct call site has 2 callees"])
        assertRejected(
            example(replacing: 19, with: "site 0 caller 0 callees direct"), .inconsistent, line: 19,
            mentions: ["no callees"])
        XCTAssertNoThrow(try Policy.parse(example(replacing: 19, with: "site 0 caller 0 callees 1 0 indirect")))

        var withSite = FormatSamples.nfa
        withSite.sites = [CallSite(caller: 0, callees: [1])]
        assertRejected(withSite.serialized(), .inconsistent, line: 17, mentions: ["call site in a policy of kind nfa"])
    }

    // MARK: In-memory validation

    func testValidateInMemory() throws {
        for policy in FormatSamples.all { XCTAssertNoThrow(try policy.validate()) }

        var p = FormatSamples.example
        p.sites[0].callees = [9]
        assertValidationFails(p, .outOfRange, "site 0: out-of-range callee index 9 (functions: 0..<2)")

        p = FormatSamples.example
        p.entry = -1
        assertValidationFails(p, .outOfRange, "entry: out-of-range entry index -1 (functions: 0..<2)")

        p = FormatSamples.example
        p.functions[1].automaton.stateCount = -5
        assertValidationFails(
            p, .outOfRange, "function 1 'helper': state count -5 is out of range (a function has at least one state)")

        p = FormatSamples.example
        p.functions[1].automaton.edges[0].to = -1
        assertValidationFails(
            p, .outOfRange, "function 1 'helper', edge 0 -> -1 libc 2: out-of-range target state -1 (states: 0..<2)")

        p = FormatSamples.example
        p.functions[0].automaton.finals = [7, -2, 3]
        assertValidationFails(
            p, .outOfRange, "function 0 'main', final states: out-of-range final state -2 (states: 0..<4)")

        p = FormatSamples.example
        p.functions[0].location = SourceLocation(file: "a.c", line: -3)
        assertValidationFails(p, .outOfRange, "function 0 'main': source line -3 is out of range (0...4294967295)")

        p = FormatSamples.example
        p.symbols[2] = ""
        assertValidationFails(p, .malformed, "symbol 2: symbol name is empty")

        p = FormatSamples.example
        p.functions[1].name = ""
        assertValidationFails(p, .malformed, "function 1 '': function name is empty")

        p = FormatSamples.example
        p.functions[1].name = "main"
        assertValidationFails(p, .duplicate, "function 1 'main': duplicate function name 'main' (also function 0)")

        p = FormatSamples.example
        p.symbols[1] = "bad\nname"
        p.symbols[2] = "bad\nname"
        assertValidationFails(p, .duplicate, "symbol 2: duplicate symbol name 'bad%0Aname' (also symbol 1)")

        p = FormatSamples.example
        p.callbacks = [1, 1]
        assertValidationFails(p, .duplicate, "callback 1: function 1 is listed as a callback twice")

        p = FormatSamples.example
        p.sites[0].caller = 1
        XCTAssertNoThrow(try p.validate(), "a call edge outside its site's caller (inlining)")

        p = FormatSamples.example
        p.kind = .nfa
        assertValidationFails(
            p, .inconsistent,
            "function 0 'main', edge 1 -> 2 call 0: call edge in a policy of kind nfa (a flattened policy has no call edges)"
        )

        p = FormatSamples.example
        p.functions = []
        assertValidationFails(p, .outOfRange, "entry: out-of-range entry index 0 (functions: none)")

        p = FormatSamples.example
        p.symbols = (0..<(PolicyLimits.maxSymbols + 1)).map { "s\($0)" }
        assertValidationFails(p, .capExceeded, "policy: 1048577 symbols exceed the cap of 1048576")
    }

    // MARK: Version 2: system-call sets

    /// The version-2 example text with line `number` (1-based) replaced.
    func exampleV2(replacing number: Int, with replacement: String...) -> String {
        var lines = FormatSamples.exampleV2Text.components(separatedBy: "\n")
        lines.replaceSubrange(number - 1..<number, with: replacement)
        return lines.joined(separator: "\n")
    }

    func testGoldenExampleV2() throws {
        XCTAssertEqual(FormatSamples.exampleV2.serialized(), FormatSamples.exampleV2Text)
        let parsed = try Policy.parse(FormatSamples.exampleV2Text)
        XCTAssertEqual(parsed, FormatSamples.exampleV2)
        XCTAssertEqual(parsed.syscalls, FormatSamples.exampleBinding)
        // The lines the tests below replace.
        let lines = FormatSamples.exampleV2Text.components(separatedBy: "\n")
        XCTAssertEqual(lines[20], "syscall-sets 5")
        XCTAssertEqual(lines[21], "set 0")
        XCTAssertEqual(lines[24], "set 3 write 0 257")
        XCTAssertEqual(lines[26], "symbol-sets 3")
        XCTAssertEqual(lines[28], "sym-set 1 3")
        XCTAssertEqual(lines[30], "window start 1")
        XCTAssertEqual(lines[31], "window ambient 4")
        XCTAssertEqual(lines[32], "end")
    }

    /// Version 2 had no `write`: a set with openat could open for writing, so it reads
    /// as one with the right (the ambient set never has it); `write` is no version-2 word.
    func testVersionTwoReadsOpenatAsWriting() throws {
        let v2 = FormatSamples.exampleV2Text.replacingOccurrences(of: "dyck-policy 3\n", with: "dyck-policy 2\n")
            .replacingOccurrences(of: " write ", with: " ")
        XCTAssertFalse(v2.contains("write"))
        XCTAssertEqual(try Policy.parse(v2).syscalls, FormatSamples.exampleBinding)
        let ambientOpenat = v2.replacingOccurrences(of: "set 4 9 11 12 60 231", with: "set 4 9 11 12 60 231 257")
        XCTAssertEqual(try Policy.parse(ambientOpenat).syscalls?.sets[4].opensForWriting, false)
        assertRejected(
            FormatSamples.exampleV2Text.replacingOccurrences(of: "dyck-policy 3\n", with: "dyck-policy 2\n"),
            .malformed, line: 23, mentions: ["system-call number", "'write'"])
    }

    /// The two examples of `specs/policy-format.md` are the samples, byte for byte.
    func testSpecExamplesAreTheSamples() throws {
        let spec = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("specs/policy-format.md")
        let text = try String(contentsOf: spec, encoding: .utf8)
        func block(after heading: String) -> String? {
            guard let start = text.range(of: heading) else { return nil }
            let parts = text[start.upperBound...].components(separatedBy: "```")
            return parts.count > 1 ? String(parts[1].drop { $0 == "\n" }) : nil
        }
        XCTAssertEqual(block(after: "## Example\n"), FormatSamples.exampleText)
        XCTAssertEqual(block(after: "### The same policy with system-call sets"), FormatSamples.exampleV2Text)
    }

    func testVersionFollowsTheBinding() throws {
        XCTAssertEqual(PolicyFormat.version, 3)
        XCTAssertEqual(PolicyFormat.version(for: FormatSamples.example), 1)
        XCTAssertEqual(PolicyFormat.version(for: FormatSamples.exampleV2), 3)
        // Without sets, a policy is written exactly as version-1 writers wrote it, and
        // a version-1 file reads as before: without sets.
        XCTAssertTrue(FormatSamples.example.serialized().hasPrefix("dyck-policy 1\n"))
        XCTAssertNil(try Policy.parse(FormatSamples.exampleText).syscalls)
        for policy in FormatSamples.all {
            let text = policy.serialized()
            XCTAssertEqual(text.hasPrefix("dyck-policy 3\n"), policy.syscalls != nil)
            XCTAssertEqual(text.contains("\nsyscall-sets "), policy.syscalls != nil)
        }
        // The section is all version 2 adds.
        var stripped = FormatSamples.exampleV2
        stripped.syscalls = nil
        XCTAssertEqual(stripped.serialized(), FormatSamples.exampleText)
        XCTAssertNotEqual(stripped, FormatSamples.exampleV2, "equality includes the sets")
    }

    func testBindingRoundTripsAndIsDeterministic() throws {
        // Sets built from unsorted, repeated numbers are stored sorted: equal policies,
        // identical bytes (the digest dyck-cc embeds is over them).
        var shuffled = FormatSamples.exampleV2
        shuffled.syscalls?.sets[1] = SystemCallSet(
            numbers: [257, 21, 12, 10, 9, 3, 0, 3], mapsExecutable: true, opensForWriting: true)
        XCTAssertEqual(shuffled, FormatSamples.exampleV2)
        XCTAssertEqual(shuffled.serialized(), FormatSamples.exampleV2Text)

        // The flattened policy keeps the sets, and so does its file.
        let flat = FormatSamples.exampleV2.flattened()
        XCTAssertEqual(flat.syscalls, FormatSamples.exampleBinding)
        XCTAssertEqual(try Policy.parse(flat.serialized()), flat.canonicalized())
        XCTAssertTrue(flat.serialized().hasPrefix("dyck-policy 3\nkind nfa\n"))

        // Thousands of symbols: the section stays one short line per symbol
        // ("sym-set 4006 299" is 17 bytes with its newline).
        var big = FormatSamples.large(functions: 3, edgesEach: 4)
        let extra = (0..<4000).map { "sym\($0)" }
        big.symbols += extra
        var sets: [SystemCallSet] = [.empty]
        for i in 1..<300 { sets.append(SystemCallSet(numbers: [i % 500, (i * 7) % 510, 300 + i % 200])) }
        big.syscalls = SystemCallBinding(
            sets: sets, symbolSets: big.symbols.indices.map { $0 % sets.count }, startSet: 5, ambientSet: 6)
        try big.validate()
        let text = big.serialized()
        XCTAssertEqual(try Policy.parse(text), big)
        let section = text[text.range(of: "symbol-sets")!.lowerBound...]
        XCTAssertLessThan(section.utf8.count, 18 * big.symbols.count)

        // Comments and blank lines may appear inside the section too.
        let commented = FormatSamples.exampleV2Text.replacingOccurrences(of: "set 2 3\n", with: "set 2 3\n# close\n\n")
        XCTAssertEqual(try Policy.parse(commented), FormatSamples.exampleV2)
    }

    func testVersionOneRefusesTheSection() {
        let section = FormatSamples.exampleV2Text.components(separatedBy: "\n")[20..<32].joined(separator: "\n")
        let text = FormatSamples.exampleText.replacingOccurrences(
            of: "callbacks 0\nend\n", with: "callbacks 0\n\(section)\nend\n")
        assertRejected(
            text, .malformed, line: 21, mentions: ["expected 'end'", "dyck-policy 2", "found 'syscall-sets'"])
        // And version 2 requires it.
        let bare = FormatSamples.exampleText.replacingOccurrences(of: "dyck-policy 1\n", with: "dyck-policy 2\n")
        assertRejected(bare, .malformed, line: 21, mentions: ["expected 'syscall-sets COUNT'", "found 'end'"])
        assertRejected(String(bare.dropLast(4)), .truncated, line: 21, mentions: ["expected 'syscall-sets COUNT'"])
    }

    func testSectionMalformedLines() {
        // Ids out of sequence, missing or extra fields, unknown words.
        assertRejected(
            exampleV2(replacing: 22, with: "set 1"), .malformed, line: 22,
            mentions: ["expected system-call set id 0, found '1'"])
        assertRejected(
            exampleV2(replacing: 22, with: "set"), .malformed, line: 22,
            mentions: ["too few fields", "set ID [exec] [write] [NUMBER ...]"])
        assertRejected(
            exampleV2(replacing: 25, with: "set 3 0 write 257"), .malformed, line: 25,
            mentions: ["system-call number", "'write'"])
        assertRejected(
            exampleV2(replacing: 25, with: "set 3 write exec 257"), .malformed, line: 25,
            mentions: ["system-call number", "'exec'"])
        assertRejected(
            exampleV2(replacing: 25, with: "set 3 0 exec 257"), .malformed, line: 25,
            mentions: ["system-call number", "'exec'"])
        assertRejected(
            exampleV2(replacing: 25, with: "set 3 EXEC 0"), .malformed, line: 25,
            mentions: ["system-call number", "'EXEC'"])
        assertRejected(
            exampleV2(replacing: 25, with: "set 3 exec exec 0"), .malformed, line: 25, mentions: ["system-call number"])
        assertRejected(
            exampleV2(replacing: 25, with: "set 3 0 257 @a.c:1"), .malformed, line: 25, mentions: ["system-call number"]
        )
        assertRejected(
            exampleV2(replacing: 21, with: "syscall-sets"), .malformed, line: 21, mentions: ["too few fields"])
        assertRejected(
            exampleV2(replacing: 21, with: "syscall-sets 5 5"), .malformed, line: 21, mentions: ["too many fields"])
        assertRejected(
            exampleV2(replacing: 27, with: "symbol-sets"), .malformed, line: 27, mentions: ["too few fields"])
        assertRejected(
            exampleV2(replacing: 29, with: "sym-set 1 3 3"), .malformed, line: 29,
            mentions: ["too many fields", "sym-set SYMBOL SET"])
        assertRejected(exampleV2(replacing: 29, with: "sym-set 1"), .malformed, line: 29, mentions: ["too few fields"])
        assertRejected(
            exampleV2(replacing: 29, with: "sym-set 2 3"), .malformed, line: 29,
            mentions: ["expected symbol id 1, found '2'"])
        assertRejected(
            exampleV2(replacing: 31, with: "window start"), .malformed, line: 31, mentions: ["too few fields"])
        assertRejected(
            exampleV2(replacing: 31, with: "window middle 1"), .malformed, line: 31,
            mentions: ["expected 'start' in field 2", "'middle'"])
        assertRejected(
            exampleV2(replacing: 31, with: "window ambient 4", "window start 1").replacingOccurrences(
                of: "window start 1\nwindow ambient 4\nend", with: "window start 1\nend"),
            .malformed, line: 31, mentions: ["expected 'start' in field 2", "'ambient'"])
        // An unknown line anywhere in the section.
        assertRejected(
            exampleV2(replacing: 24, with: "set 2 3", "syscalls 9"), .malformed, line: 25,
            mentions: ["expected 'set ID", "set 3 of the 5", "found 'syscalls'"])
        assertRejected(
            exampleV2(replacing: 27, with: "symbol-sets 3", "sym 0 close"), .malformed, line: 28,
            mentions: ["expected 'sym-set", "found 'sym'"])
        assertRejected(
            exampleV2(replacing: 32, with: "window ambient 4", "window exec 1"), .malformed, line: 33,
            mentions: ["expected 'end'", "found 'window'"])
        assertRejected(
            exampleV2(replacing: 32, with: "window ambient 4", "set 5 1"), .malformed, line: 33,
            mentions: ["expected 'end'", "found 'set'"])
        assertRejected(
            exampleV2(replacing: 21, with: "sets 5"), .malformed, line: 21,
            mentions: ["expected 'syscall-sets COUNT'", "found 'sets'"])
        assertRejected(
            exampleV2(replacing: 33, with: "end", "window start 1"), .malformed, line: 34, mentions: ["after 'end'"])
        // More or fewer rows than declared.
        assertRejected(
            exampleV2(replacing: 21, with: "syscall-sets 6"), .malformed, line: 27,
            mentions: ["system-call set 5 of the 6", "found 'symbol-sets'"])
        assertRejected(
            exampleV2(replacing: 21, with: "syscall-sets 4"), .malformed, line: 26,
            mentions: ["expected 'symbol-sets COUNT'", "found 'set'"])
        assertRejected(
            exampleV2(replacing: 27, with: "symbol-sets 4"), .malformed, line: 31,
            mentions: ["symbol set 3 of the 4", "found 'window'"])
        assertRejected(
            exampleV2(replacing: 27, with: "symbol-sets 2"), .malformed, line: 30,
            mentions: ["expected 'window start SET'", "found 'sym-set'"])
        // The lines are ASCII fields separated by single spaces, as everywhere.
        assertRejected(exampleV2(replacing: 25, with: "set 3 0  257"), .malformed, line: 25, mentions: ["two spaces"])
        assertRejected(
            exampleV2(replacing: 25, with: "set 3 0 257 "), .malformed, line: 25, mentions: ["ends with a space"])
        assertRejected(exampleV2(replacing: 25, with: "set 3 0\t257"), .malformed, line: 25, mentions: ["tab"])
    }

    func testSectionNumbers() {
        for bad in ["x", "-1", "+3", "03", "0x3", "3.0"] {
            assertRejected(
                exampleV2(replacing: 25, with: "set 3 0 \(bad)"), .malformed, line: 25,
                mentions: ["system-call number", "decimal number"])
            assertRejected(
                exampleV2(replacing: 29, with: "sym-set 1 \(bad)"), .malformed, line: 29,
                mentions: ["system-call set index"])
            assertRejected(
                exampleV2(replacing: 31, with: "window start \(bad)"), .malformed, line: 31,
                mentions: ["system-call set index"])
            assertRejected(
                exampleV2(replacing: 21, with: "syscall-sets \(bad)"), .malformed, line: 21,
                mentions: ["system-call set count"])
            assertRejected(
                exampleV2(replacing: 27, with: "symbol-sets \(bad)"), .malformed, line: 27,
                mentions: ["symbol set count"])
        }
        // System-call numbers are 0...509.
        XCTAssertNoThrow(try Policy.parse(exampleV2(replacing: 25, with: "set 3 0 257 509")))
        assertRejected(
            exampleV2(replacing: 25, with: "set 3 0 510"), .outOfRange, line: 25,
            mentions: ["system-call number 510 is out of range (0...509)"])
        assertRejected(
            exampleV2(replacing: 25, with: "set 3 0 \(Int.max)"), .outOfRange, line: 25,
            mentions: ["\(Int.max)", "(0...509)"])
        let huge = "99999999999999999999999999"
        assertRejected(
            exampleV2(replacing: 25, with: "set 3 0 \(huge)"), .outOfRange, line: 25,
            mentions: ["system-call number", huge])
        // Strictly ascending: one spelling per set.
        assertRejected(
            exampleV2(replacing: 25, with: "set 3 257 0"), .malformed, line: 25,
            mentions: ["not in ascending order (0 after 257)"])
        assertRejected(
            exampleV2(replacing: 25, with: "set 3 0 0 257"), .duplicate, line: 25,
            mentions: ["system-call number 0 is listed twice"])
        // Set indices are < the number of sets.
        assertRejected(
            exampleV2(replacing: 29, with: "sym-set 1 5"), .outOfRange, line: 29,
            mentions: ["out-of-range system-call set index 5 (sets: 0..<5)"])
        assertRejected(
            exampleV2(replacing: 29, with: "sym-set 1 \(huge)"), .outOfRange, line: 29,
            mentions: ["system-call set index", huge])
        assertRejected(
            exampleV2(replacing: 31, with: "window start 5"), .outOfRange, line: 31,
            mentions: ["out-of-range system-call set index 5 (sets: 0..<5)"])
        assertRejected(
            exampleV2(replacing: 32, with: "window ambient 9"), .outOfRange, line: 32,
            mentions: ["out-of-range system-call set index 9 (sets: 0..<5)"])
        // Caps, checked before anything is allocated.
        assertRejected(
            exampleV2(replacing: 21, with: "syscall-sets 2097153"), .capExceeded, line: 21,
            mentions: ["system-call set count 2097153 exceeds the cap of 2097152"])
        assertRejected(
            exampleV2(replacing: 27, with: "symbol-sets 1048577"), .capExceeded, line: 27,
            mentions: ["symbol set count 1048577 exceeds the cap of 1048576"])
        assertRejected(
            exampleV2(replacing: 21, with: "syscall-sets 2097152", "end"), .malformed, line: 22,
            mentions: ["found 'end'"])
    }

    func testSectionValidity() throws {
        // Set 0 is the empty set, without exec.
        assertRejected(
            exampleV2(replacing: 22, with: "set 0 3"), .inconsistent, line: 22,
            mentions: ["set 0 must be the empty set"])
        assertRejected(
            exampleV2(replacing: 22, with: "set 0 exec"), .inconsistent, line: 22,
            mentions: ["set 0 must be the empty set"])
        let noSets = FormatSamples.exampleV2Text.replacingOccurrences(
            of:
                "syscall-sets 5\nset 0\nset 1 exec write 0 3 9 10 12 21 257\nset 2 3\nset 3 write 0 257\nset 4 9 11 12 60 231\n",
            with: "syscall-sets 0\n")
        assertRejected(
            noSets, .inconsistent, line: 21, mentions: ["no system-call sets (set 0, the empty set, is required)"])
        // No two sets are equal; 'exec' alone tells two sets apart.
        assertRejected(
            exampleV2(replacing: 26, with: "set 4 3"), .duplicate, line: 26, mentions: ["the same set as set 2"])
        XCTAssertNoThrow(
            try Policy.parse(
                exampleV2(replacing: 26, with: "set 4 exec 3").replacingOccurrences(
                    of: "window ambient 4", with: "window ambient 2")))
        XCTAssertNoThrow(
            try Policy.parse(
                exampleV2(replacing: 26, with: "set 4 write 3").replacingOccurrences(
                    of: "window ambient 4", with: "window ambient 2")))
        // One symbol set per symbol.
        let fewer = exampleV2(replacing: 27, with: "symbol-sets 2").replacingOccurrences(of: "sym-set 2 3\n", with: "")
        assertRejected(fewer, .inconsistent, line: 27, mentions: ["2 symbol sets for 3 symbols (one per symbol)"])
        let more = exampleV2(replacing: 27, with: "symbol-sets 4").replacingOccurrences(
            of: "sym-set 2 3\n", with: "sym-set 2 3\nsym-set 3 0\n")
        assertRejected(more, .inconsistent, line: 27, mentions: ["4 symbol sets for 3 symbols"])
        // The ambient set never maps executable memory; the start set may.
        assertRejected(
            exampleV2(replacing: 32, with: "window ambient 1"), .inconsistent, line: 32,
            mentions: ["the ambient set 1 has 'exec'"])
        assertRejected(
            exampleV2(replacing: 32, with: "window ambient 3"), .inconsistent, line: 32,
            mentions: ["the ambient set 3 has 'write'"])
        // Not rules: a symbol in the empty set, the start set being the ambient set,
        // unused sets.
        XCTAssertNoThrow(try Policy.parse(exampleV2(replacing: 29, with: "sym-set 1 0")))
        XCTAssertNoThrow(try Policy.parse(exampleV2(replacing: 31, with: "window start 4")))
        XCTAssertNoThrow(
            try Policy.parse(
                exampleV2(replacing: 26, with: "set 4 9 11 12 60 231", "set 5 1 2").replacingOccurrences(
                    of: "syscall-sets 5", with: "syscall-sets 6")))
        // The rest of the policy is checked first (file order).
        assertRejected(
            exampleV2(replacing: 4, with: "entry 2").replacingOccurrences(
                of: "window ambient 4", with: "window ambient 1"), .outOfRange, line: 4)
    }

    func testValidateBindingInMemory() {
        func with(_ change: (inout SystemCallBinding) -> Void) -> Policy {
            var p = FormatSamples.exampleV2
            change(&p.syscalls!)
            return p
        }
        assertValidationFails(
            with { $0.sets = [] }, .inconsistent,
            "system-call sets: no system-call sets (set 0, the empty set, is required)")
        assertValidationFails(
            with { $0.sets[0] = SystemCallSet(numbers: [1]) }, .inconsistent,
            "system-call set 0: set 0 must be the empty set without 'exec' or 'write' (the window of program code)")
        assertValidationFails(
            with { $0.sets[0].mapsExecutable = true }, .inconsistent,
            "system-call set 0: set 0 must be the empty set without 'exec' or 'write' (the window of program code)")
        assertValidationFails(
            with { $0.sets[2].numbers = [5, 3] }, .malformed,
            "system-call set 2: system-call numbers are not in ascending order (3 after 5)")
        assertValidationFails(
            with { $0.sets[2].numbers = [3, 3] }, .duplicate, "system-call set 2: system-call number 3 is listed twice")
        assertValidationFails(
            with { $0.sets[2].numbers = [-1, 3] }, .outOfRange,
            "system-call set 2: system-call number -1 is out of range (0...509)")
        assertValidationFails(
            with { $0.sets[3].numbers = [0, 510] }, .outOfRange,
            "system-call set 3: system-call number 510 is out of range (0...509)")
        assertValidationFails(
            with { $0.sets.append(SystemCallSet(numbers: [0, 257], opensForWriting: true)) }, .duplicate,
            "system-call set 5: the same set as set 3 (sets are distinct)")
        assertValidationFails(
            with { $0.symbolSets.removeLast() }, .inconsistent,
            "symbol sets: 2 symbol sets for 3 symbols (one per symbol)")
        assertValidationFails(
            with { $0.symbolSets[1] = -1 }, .outOfRange,
            "symbol set 1 'open': out-of-range system-call set index -1 (sets: 0..<5)")
        assertValidationFails(
            with { $0.symbolSets[2] = 5 }, .outOfRange,
            "symbol set 2 'read': out-of-range system-call set index 5 (sets: 0..<5)")
        assertValidationFails(
            with { $0.startSet = 5 }, .outOfRange, "start window: out-of-range system-call set index 5 (sets: 0..<5)")
        assertValidationFails(
            with { $0.ambientSet = -1 }, .outOfRange,
            "ambient window: out-of-range system-call set index -1 (sets: 0..<5)")
        assertValidationFails(
            with { $0.ambientSet = 1 }, .inconsistent,
            "ambient window: the ambient set 1 has 'exec' (executable mappings are allowed only in a window's own set)")
        assertValidationFails(
            with { $0.sets = Array(repeating: .empty, count: PolicyLimits.maxSystemCallSets + 1) },
            .capExceeded, "system-call sets: 2097153 system-call sets exceed the cap of 2097152")
    }

    func testBindingErrorsNameTheirLine() throws {
        // Validation errors in the section point at the line that holds the part.
        let error = assertRejected(exampleV2(replacing: 30, with: "sym-set 2 7"), .outOfRange, line: 30)
        XCTAssertEqual(error?.message, "out-of-range system-call set index 7 (sets: 0..<5)")
        let withComments = exampleV2(
            replacing: 31, with: "# the loader", "window start 1", "", "window ambient 2", "window ambient 4")
        assertRejected(withComments, .malformed, line: 35, mentions: ["expected 'end'"])
    }

    // MARK: Robustness

    /// Random damage to valid text must give an error or a valid policy, never a trap.
    func testMutationsNeverTrap() throws {
        var random = SplitMix64(seed: 0x5eed)
        let bases = FormatSamples.all.map { Array($0.serialized().utf8) }
        let inserts: [[UInt8]] = [
            "99999999999999999999", "-1", " ", "\n", "%", "@", ":", "#", "0", "end\n", "\r", "\u{0}"
        ]
        .map { Array($0.utf8) }
        var accepted = 0
        for round in 0..<3000 {
            var bytes = bases[round % bases.count]
            for _ in 0...(random.next() % 3) {
                guard !bytes.isEmpty else { break }
                let at = Int(random.next() % UInt64(bytes.count))
                switch random.next() % 4 {
                case 0: bytes[at] = UInt8(truncatingIfNeeded: random.next())
                case 1: bytes.remove(at: at)
                case 2: bytes.insert(contentsOf: inserts[Int(random.next() % UInt64(inserts.count))], at: at)
                default:
                    // Change a digit, which keeps lines well-formed but moves indices.
                    if let digit = bytes[at...].firstIndex(where: { (0x30...0x39).contains($0) }) {
                        bytes[digit] = 0x30 + UInt8(random.next() % 10)
                    }
                }
            }
            let text = String(decoding: bytes, as: UTF8.self)
            do {
                let policy = try Policy.parse(text)
                accepted += 1
                XCTAssertNoThrow(try policy.validate())
                XCTAssertEqual(try Policy.parse(policy.serialized()), policy.canonicalized())
            } catch {
                XCTAssertFalse(error.description.contains("\n"))
            }
        }
        XCTAssertGreaterThan(accepted, 0, "some mutations (digit changes) should stay valid")
    }
}

// Named so that `--filter PolicyFormatTests` runs these too.
final class PolicyFormatTestsFileIO: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("policy-file-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func entries() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
    }

    func loadError(_ path: String, file: StaticString = #filePath, line: UInt = #line) -> PolicyFileError? {
        do {
            _ = try Policy.load(path: path)
            XCTFail("loaded", file: file, line: line)
            return nil
        } catch {
            XCTAssertFalse(error.description.contains("\n"), file: file, line: line)
            return error
        }
    }

    func testWriteThenLoad() throws {
        for (i, policy) in FormatSamples.all.enumerated() {
            let target = path("p\(i).dyck")
            try policy.write(to: target)
            XCTAssertEqual(try Policy.load(path: target), policy)
            XCTAssertEqual(try String(contentsOfFile: target, encoding: .utf8), policy.serialized())
        }
        XCTAssertEqual(try entries(), FormatSamples.all.indices.map { "p\($0).dyck" }, "no temporary files left")
    }

    func testOverwriteKeepsPermissions() throws {
        let target = path("p.dyck")
        try "old".write(toFile: target, atomically: false, encoding: .utf8)
        XCTAssertEqual(chmod(target, 0o640), 0)
        try FormatSamples.example.write(to: target)
        let mode = (try FileManager.default.attributesOfItem(atPath: target)[.posixPermissions] as? NSNumber)?.intValue
        XCTAssertEqual(mode, 0o640)
        XCTAssertEqual(try Policy.load(path: target), FormatSamples.example)
    }

    func testWriteRelativePath() throws {
        let previous = FileManager.default.currentDirectoryPath
        XCTAssertTrue(FileManager.default.changeCurrentDirectoryPath(directory.path))
        defer { _ = FileManager.default.changeCurrentDirectoryPath(previous) }
        try FormatSamples.rich.write(to: "relative.dyck")
        XCTAssertEqual(try Policy.load(path: "relative.dyck"), FormatSamples.rich)
    }

    func testInvalidPolicyIsNotWritten() throws {
        let target = path("p.dyck")
        try FormatSamples.example.write(to: target)
        var bad = FormatSamples.example
        bad.entry = 7
        do {
            try bad.write(to: target)
            XCTFail("wrote an invalid policy")
        } catch {
            guard case .invalid = error.reason else { return XCTFail("\(error)") }
            XCTAssertEqual(error.category, .outputFailed)
            XCTAssertEqual(
                error.description,
                "\(target): not written: invalid policy: entry: out-of-range entry index 7 (functions: 0..<2)")
        }
        XCTAssertEqual(try Policy.load(path: target), FormatSamples.example, "the old file is untouched")
        XCTAssertEqual(try entries(), ["p.dyck"])
    }

    func testUnwritable() throws {
        let missing = path("no/such/dir/p.dyck")
        do {
            try FormatSamples.example.write(to: missing)
            XCTFail("wrote into a missing directory")
        } catch {
            guard case .unwritable = error.reason else { return XCTFail("\(error)") }
            XCTAssertEqual(error.category, .outputFailed)
            XCTAssertTrue(error.description.hasPrefix("\(missing): cannot write: "), error.description)
            XCTAssertTrue(error.description.contains("No such file or directory"), error.description)
        }
        // A directory in the way: the rename fails and the temporary file is removed.
        let blocker = path("blocker")
        try FileManager.default.createDirectory(atPath: blocker, withIntermediateDirectories: false)
        do {
            try FormatSamples.example.write(to: blocker)
            XCTFail("replaced a directory")
        } catch {
            guard case .unwritable = error.reason else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(try entries(), ["blocker"])
        XCTAssertThrowsError(try FormatSamples.example.write(to: blocker + "/"))
    }

    func testLoadErrors() throws {
        let missing = path("nope.dyck")
        let notFound = loadError(missing)
        XCTAssertEqual(notFound?.description, "\(missing): cannot read: No such file or directory")
        XCTAssertEqual(notFound?.category, .badInput)

        XCTAssertEqual(loadError(directory.path)?.description, "\(directory.path): cannot read: Is a directory")

        let badEntry = path("range.dyck")
        try FormatSamples.exampleText.replacingOccurrences(of: "entry 0", with: "entry 4000")
            .write(toFile: badEntry, atomically: false, encoding: .utf8)
        let range = loadError(badEntry)
        XCTAssertEqual(range?.description, "\(badEntry):4: out-of-range entry index 4000 (functions: 0..<2)")
        XCTAssertEqual(range?.category, .badInput)

        let truncated = path("cut.dyck")
        try String(FormatSamples.exampleText.prefix(100)).write(toFile: truncated, atomically: false, encoding: .utf8)
        XCTAssertTrue(loadError(truncated)?.description.hasPrefix("\(truncated):") ?? false)

        let binary = path("binary.dyck")
        var bytes = Array(FormatSamples.exampleText.utf8)
        bytes.insert(contentsOf: Array("# caf".utf8) + [0xE9, 0x0A], at: Array("dyck-policy 1\nkind dyck\n".utf8).count)
        XCTAssertTrue(FileManager.default.createFile(atPath: binary, contents: Data(bytes)))
        XCTAssertEqual(
            loadError(binary)?.description, "\(binary):3: not UTF-8 text (invalid byte sequence at byte offset 29)")

        let empty = path("empty.dyck")
        XCTAssertTrue(FileManager.default.createFile(atPath: empty, contents: Data()))
        XCTAssertEqual(
            loadError(empty)?.description,
            "\(empty):1: the file is empty (a policy file starts with 'dyck-policy 1|2|3')")

        // A hostile file name cannot break the one-line diagnostic.
        let newline = path("two\nlines.dyck")
        XCTAssertTrue(loadError(newline)?.description.contains("two\\x0Alines.dyck") ?? false)
    }
}
