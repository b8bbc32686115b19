import SbxSystem
import XCTest

/// The record lexer on its own: each rule of `specs/record-lexer.md`, with the
/// typed results the formats turn into their messages.
final class RecordLexerTests: XCTestCase {
    private func lexer(_ text: String) -> RecordLexer {
        RecordLexer(bytes: Array(text.utf8))
    }

    private func text(_ lexer: RecordLexer, _ range: Range<Int>) -> String {
        String(decoding: lexer.bytes[range], as: UTF8.self)
    }

    private func records(_ input: String) throws -> [(Int, [String])] {
        var lex = lexer(input)
        var out: [(Int, [String])] = []
        while let record = try lex.nextRecord(unterminatedAllowed: Array("end".utf8)) {
            out.append((record.number, record.fields.map { text(lex, $0) }))
        }
        return out
    }

    private func lexError(_ input: String) -> RecordLexError? {
        do {
            _ = try records(input)
            return nil
        } catch let error as RecordLexError {
            return error
        } catch {
            XCTFail("unexpected error \(error)")
            return nil
        }
    }

    func testRecordsSkipBlankAndCommentLinesAndKeepPhysicalLineNumbers() throws {
        let got = try records("a b\n\n# comment with  spaces\té\nc 1 2\nend")
        XCTAssertEqual(got.map(\.0), [1, 4, 5])
        XCTAssertEqual(got.map(\.1), [["a", "b"], ["c", "1", "2"], ["end"]])
    }

    func testAnUnterminatedLastLineIsACutUnlessItIsTheAllowedOne() {
        XCTAssertEqual(lexError("a\nen"), RecordLexError(line: 2, problem: .unterminatedLine))
        XCTAssertEqual(lexError("a\nend "), RecordLexError(line: 2, problem: .unterminatedLine))
        XCTAssertNil(lexError("a\nend"))
        XCTAssertNil(lexError(""))
    }

    func testFieldsAreSeparatedByExactlyOneSpaceOfPrintableASCII() {
        XCTAssertEqual(lexError(" a\n"), RecordLexError(line: 1, problem: .leadingSpace))
        XCTAssertEqual(lexError("x\na  b\n"), RecordLexError(line: 2, problem: .doubleSpace))
        XCTAssertEqual(lexError("a b \n"), RecordLexError(line: 1, problem: .trailingSpace))
        XCTAssertEqual(lexError("a\tb\n"), RecordLexError(line: 1, problem: .forbiddenByte(0x09)))
        XCTAssertEqual(lexError("a\r\n"), RecordLexError(line: 1, problem: .forbiddenByte(0x0D)))
        XCTAssertEqual(lexError("a \u{7F}\n"), RecordLexError(line: 1, problem: .forbiddenByte(0x7F)))
        XCTAssertEqual(lexError("\n\nab\u{E9}\n"), RecordLexError(line: 3, problem: .forbiddenByte(0xC3)))
    }

    func testMessagesOfRefusedLinesTakeTheFormatsNouns() {
        func message(_ problem: RecordLexError.Problem) -> String {
            RecordLexError(line: 7, problem: problem).message(cut: "the log", files: "logs", escaped: "keys")
        }
        XCTAssertEqual(
            message(.unterminatedLine), "the log is truncated: it ends in the middle of line 7, which has no newline")
        XCTAssertEqual(
            message(.forbiddenByte(0x0D)), "carriage return in the line (logs use LF line endings, not CRLF)")
        XCTAssertEqual(message(.forbiddenByte(0x09)), "tab in the line (fields are separated by a single space)")
        XCTAssertEqual(
            message(.forbiddenByte(0x80)), "non-ASCII byte 0x80 outside a comment (keys write such bytes as %XX)")
        XCTAssertEqual(
            message(.forbiddenByte(0x7F)), "control byte 0x7F outside a comment (keys write such bytes as %XX)")
        XCTAssertEqual(message(.doubleSpace), "two spaces in a row (fields are separated by a single space)")
    }

    func testDecimalsHaveOneSpellingAndOverflowIsTyped() {
        let lex = lexer("0 7 18446744073709551615 18446744073709551616 9223372036854775808 01 -1 +1 1a")
        let fields = (try? lex.fields(0..<lex.bytes.count)) ?? []
        XCTAssertEqual(fields.count, 9)
        guard fields.count == 9 else { return }
        XCTAssertEqual(lex.decimal(fields[0]), .success(0))
        XCTAssertEqual(lex.decimal(fields[1]), .success(7))
        XCTAssertEqual(lex.decimal(fields[2]), .success(UInt64.max))
        XCTAssertEqual(lex.decimal(fields[3]), .failure(.overflow))
        // The type bounds the value: Int.max + 1 fits UInt64, not Int.
        XCTAssertEqual(lex.decimal(fields[4]), .success(UInt64(Int.max) + 1))
        XCTAssertEqual(lex.decimal(fields[4], as: Int.self), .failure(.overflow))
        XCTAssertEqual(lex.decimal(fields[2], as: UInt8.self), .failure(.overflow))
        for i in 5...8 {
            XCTAssertEqual(lex.decimal(fields[i]), .failure(.notDecimal), text(lex, fields[i]))
        }
        XCTAssertEqual(lex.decimal(0..<0), .failure(.notDecimal))
    }

    func testPercentDecodingChecksLeftToRight() {
        let lex = lexer("a%20b%25%c3%A9 %2 %zz a:b %00%2 %2%00")
        let fields = (try? lex.fields(0..<lex.bytes.count)) ?? []
        XCTAssertEqual(fields.count, 6)
        guard fields.count == 6 else { return }
        XCTAssertEqual(try lex.percentDecoded(fields[0], rejectingNUL: true), Array("a b%é".utf8))
        XCTAssertThrowsError(try lex.percentDecoded(fields[1], rejectingNUL: false)) {
            XCTAssertEqual($0 as? PercentDecodingError, .invalidEscape(fields[1]))
        }
        XCTAssertThrowsError(try lex.percentDecoded(fields[2], rejectingNUL: false)) {
            XCTAssertEqual($0 as? PercentDecodingError, .invalidEscape(fields[2]))
        }
        XCTAssertThrowsError(try lex.percentDecoded(fields[3], rejectingNUL: false)) {
            XCTAssertEqual($0 as? PercentDecodingError, .unescaped(fields[3].lowerBound + 1))
        }
        // NUL is refused only when asked, and where it stands (before a later bad escape).
        XCTAssertThrowsError(try lex.percentDecoded(fields[4], rejectingNUL: true)) {
            XCTAssertEqual($0 as? PercentDecodingError, .escapedNUL)
        }
        XCTAssertThrowsError(try lex.percentDecoded(fields[4], rejectingNUL: false)) {
            XCTAssertEqual($0 as? PercentDecodingError, .invalidEscape(fields[4].lowerBound + 3..<fields[4].upperBound))
        }
        XCTAssertThrowsError(try lex.percentDecoded(fields[5], rejectingNUL: true)) {
            XCTAssertEqual($0 as? PercentDecodingError, .invalidEscape(fields[5].lowerBound..<fields[5].lowerBound + 3))
        }
    }

    func testPercentEncodingRoundTripsEveryByte() throws {
        let all = (0...255).map { UInt8($0) }
        var encoded: [UInt8] = []
        PercentCoding.append(all, to: &encoded)
        XCTAssertTrue(encoded.allSatisfy { $0 > 0x20 && $0 < 0x7F && !"#:@".utf8.contains($0) })
        let lex = RecordLexer(bytes: encoded)
        XCTAssertEqual(try lex.percentDecoded(0..<encoded.count, rejectingNUL: false), all)
        XCTAssertEqual(PercentCoding.encode("main"), "main")
        XCTAssertEqual(PercentCoding.encode("a b:c@d#e%"), "a%20b%3Ac%40d%23e%25")
    }

    func testHeaderReportsWhatItFoundWithoutJudging() throws {
        var lex = lexer("fmt 12 x\nrest\n")
        let header = try XCTUnwrap(lex.header(magic: "fmt"))
        XCTAssertTrue(header.terminated)
        XCTAssertTrue(header.hasMagic)
        XCTAssertEqual(text(lex, header.version), "12")
        XCTAssertEqual(text(lex, header.range), "fmt 12 x")
        XCTAssertEqual(lex.lineNumber, 1)

        var crlf = lexer("fmt 3\r\n")
        let crlfHeader = try XCTUnwrap(crlf.header(magic: "fmt"))
        XCTAssertEqual(text(crlf, crlfHeader.version), "3")

        var other = lexer("fmtx 1")
        let otherHeader = try XCTUnwrap(other.header(magic: "fmt"))
        XCTAssertFalse(otherHeader.hasMagic)
        XCTAssertFalse(otherHeader.terminated)
        XCTAssertTrue(otherHeader.version.isEmpty)

        var cut = lexer("fm")
        let cutHeader = try XCTUnwrap(cut.header(magic: "fmt"))
        XCTAssertTrue(cut.isNonEmptyPrefix(cutHeader.range, of: "fmt "))
        XCTAssertFalse(cut.isNonEmptyPrefix(cutHeader.range.lowerBound..<cutHeader.range.lowerBound, of: "fmt "))

        var empty = lexer("")
        XCTAssertNil(empty.header(magic: "fmt"))
    }

    func testQuotingForMessagesIsOneLineAndShort() {
        let lex = RecordLexer(bytes: Array("a\u{1B}[31m\n".utf8) + [0xFF])
        XCTAssertEqual(lex.show(0..<lex.bytes.count), "a\\x1B[31m\\x0A\\xFF")
        let long = RecordLexer(bytes: Array(repeating: UInt8(ascii: "x"), count: 41))
        XCTAssertEqual(long.show(0..<41), String(repeating: "x", count: 40) + "...")
        XCTAssertEqual(long.show(0..<40), String(repeating: "x", count: 40))
        XCTAssertEqual(RecordLexer.hex(0xAB), "0xAB")
        XCTAssertEqual(RecordLexer.oneLine("bad\nname\u{7F}é"), "bad\\x0Aname\\x7Fé")
        XCTAssertEqual(RecordLexer.oneLine("plain"), "plain")
    }
}
