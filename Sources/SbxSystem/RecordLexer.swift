/// The byte-level lexer the line-based text formats share (the policy format,
/// `specs/policy-format.md`, and the trace format, `specs/trace-format.md`): physical
/// lines with their numbers, records (lines that are neither blank nor comments) split
/// into single-space-separated fields of printable ASCII, decimal numbers with one
/// spelling each, `%XX`-escaped names, the `MAGIC VERSION` header line, and fields
/// quoted for messages. It knows no grammar: it reports what it found as typed values;
/// each format chooses the error kind, and fills in its own nouns where the message of
/// a refused line (`RecordLexError.message`) names the format.
/// `specs/record-lexer.md` is the definition.
package struct RecordLexer {
    package let bytes: [UInt8]
    /// Offset of the first byte not yet read.
    package private(set) var position = 0
    /// Number of the physical line read last (1-based; 0 before the first).
    package private(set) var lineNumber = 0

    package init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    // MARK: Lines

    /// The next physical line without its LF, and whether an LF ended it.
    package mutating func nextPhysicalLine() -> (range: Range<Int>, terminated: Bool)? {
        guard position < bytes.count else { return nil }
        let start = position
        lineNumber += 1
        if let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
            position = newline + 1
            return (start..<newline, true)
        }
        position = bytes.count
        return (start..<bytes.count, false)
    }

    /// The next record: the next line that is neither blank nor a comment ('#' first),
    /// split into fields. A last line without LF is a cut file, unless it is exactly
    /// `unterminatedAllowed` (editors drop the final newline after `end`).
    package mutating func nextRecord(unterminatedAllowed: [UInt8]) throws(RecordLexError) -> RecordLine? {
        while let raw = nextPhysicalLine() {
            let range = raw.range
            if range.isEmpty || bytes[range.lowerBound] == UInt8(ascii: "#") { continue }
            if !raw.terminated && !bytes[range].elementsEqual(unterminatedAllowed) {
                throw RecordLexError(line: lineNumber, problem: .unterminatedLine)
            }
            return RecordLine(number: lineNumber, fields: try fields(range))
        }
        return nil
    }

    /// The fields of `range` (on line `lineNumber`): separated by one space each, every
    /// byte printable ASCII (0x21...0x7E).
    package func fields(_ range: Range<Int>) throws(RecordLexError) -> [Range<Int>] {
        var fields: [Range<Int>] = []
        var start = range.lowerBound
        for i in range {
            let byte = bytes[i]
            if byte == UInt8(ascii: " ") {
                if i == start {
                    throw RecordLexError(
                        line: lineNumber, problem: i == range.lowerBound ? .leadingSpace : .doubleSpace)
                }
                fields.append(start..<i)
                start = i + 1
            } else if byte < 0x21 || byte > 0x7E {
                throw RecordLexError(line: lineNumber, problem: .forbiddenByte(byte))
            }
        }
        if start == range.upperBound {
            throw RecordLexError(line: lineNumber, problem: .trailingSpace)
        }
        fields.append(start..<range.upperBound)
        return fields
    }

    // MARK: The header

    /// Reads physical line 1 as a header `MAGIC VERSION`. It judges nothing: the
    /// order in which a format reports a cut, a wrong magic and a wrong version is
    /// the format's. Nil for an empty file.
    package mutating func header(magic: String) -> RecordHeader? {
        guard let raw = nextPhysicalLine() else { return nil }
        let range = raw.range
        let prefix = Array("\(magic) ".utf8)
        let hasMagic = bytes[range].starts(with: prefix)
        var version = range.upperBound..<range.upperBound
        if hasMagic {
            // A CR ends the version too, so that a CRLF file gets the message about
            // line endings from `fields`, not one about the version.
            let start = range.lowerBound + prefix.count
            let end =
                bytes[start..<range.upperBound].firstIndex { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") }
                ?? range.upperBound
            version = start..<end
        }
        return RecordHeader(
            range: range, terminated: raw.terminated, hasMagic: hasMagic, version: version)
    }

    /// Whether `range` is a non-empty prefix of `text` (a header cut short).
    package func isNonEmptyPrefix(_ range: Range<Int>, of text: String) -> Bool {
        !range.isEmpty && text.utf8.starts(with: bytes[range])
    }

    // MARK: Fields

    package func equals(_ range: Range<Int>, _ word: [UInt8]) -> Bool {
        bytes[range].elementsEqual(word)
    }

    package func equals(_ range: Range<Int>, _ word: String) -> Bool {
        bytes[range].elementsEqual(word.utf8)
    }

    /// A decimal number with one spelling: digits only, no sign, no leading zeros.
    /// `T` bounds it: a value above `T.max` is `.overflow`, not `.notDecimal`.
    package func decimal<T: FixedWidthInteger>(_ range: Range<Int>, as type: T.Type = UInt64.self)
        -> Result<T, RecordNumberError>
    {
        guard !range.isEmpty else { return .failure(.notDecimal) }
        if range.count > 1 && bytes[range.lowerBound] == UInt8(ascii: "0") { return .failure(.notDecimal) }
        var value: T = 0
        var overflow = false
        for i in range {
            let byte = bytes[i]
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return .failure(.notDecimal) }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(T(byte - UInt8(ascii: "0")))
            overflow = overflow || o1 || o2
            value = sum
        }
        return overflow ? .failure(.overflow) : .success(value)
    }

    /// The bytes of a `%XX`-escaped field (`PercentCoding`), checked left to right:
    /// an escape must have two hex digits, a byte of `PercentCoding.mustEncode` must be
    /// escaped, and with `rejectingNUL` an escaped NUL is refused where it stands.
    package func percentDecoded(_ range: Range<Int>, rejectingNUL: Bool) throws(PercentDecodingError) -> [UInt8] {
        var decoded: [UInt8] = []
        decoded.reserveCapacity(range.count)
        var i = range.lowerBound
        while i < range.upperBound {
            let byte = bytes[i]
            if byte == UInt8(ascii: "%") {
                guard i + 2 < range.upperBound,
                    let high = PercentCoding.hexValue(bytes[i + 1]),
                    let low = PercentCoding.hexValue(bytes[i + 2])
                else {
                    throw .invalidEscape(i..<min(i + 3, range.upperBound))
                }
                let value = high << 4 | low
                if value == 0 && rejectingNUL { throw .escapedNUL }
                decoded.append(value)
                i += 3
            } else if PercentCoding.mustEncode(byte) {
                throw .unescaped(i)
            } else {
                decoded.append(byte)
                i += 1
            }
        }
        return decoded
    }

    // MARK: Quoting

    /// A field as it may be quoted in a one-line message: printable ASCII kept, every
    /// other byte as `\xHH`, cut after 40 bytes with "...".
    package func show(_ range: Range<Int>) -> String {
        var text = ""
        for byte in bytes[range].prefix(40) {
            if byte >= 0x20 && byte < 0x7F {
                text.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                text += "\\x" + Self.hex(byte).dropFirst(2)
            }
        }
        return range.count > 40 ? text + "..." : text
    }

    /// `0xHH`, upper-case.
    package static func hex(_ byte: UInt8) -> String {
        let digits = PercentCoding.hexDigits
        return "0x" + String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]], as: UTF8.self)
    }

    /// Text for a one-line diagnostic: controls (below 0x20, and DEL) as `\xHH`, so a
    /// hostile file name cannot break the line or drive the terminal.
    package static func oneLine(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F {
                out += "\\x" + hex(UInt8(scalar.value)).dropFirst(2)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

/// A record: its 1-based line number and the byte ranges of its fields (never empty).
package struct RecordLine: Equatable, Sendable {
    package var number: Int
    package var fields: [Range<Int>]

    package init(number: Int, fields: [Range<Int>]) {
        self.number = number
        self.fields = fields
    }
}

/// Line 1 as read by `RecordLexer.header(magic:)`.
package struct RecordHeader: Equatable, Sendable {
    /// The line without its LF.
    package var range: Range<Int>
    /// Whether an LF ended it.
    package var terminated: Bool
    /// Whether it starts with the magic and one space.
    package var hasMagic: Bool
    /// The bytes after "MAGIC " up to a space, a CR or the end of the line (empty
    /// without the magic).
    package var version: Range<Int>
}

/// A line the lexer cannot split into fields, or a cut last line.
package struct RecordLexError: Error, Equatable, Sendable {
    package enum Problem: Equatable, Sendable {
        /// The last line has no LF (the file was cut).
        case unterminatedLine
        case leadingSpace
        case doubleSpace
        case trailingSpace
        /// A byte outside printable ASCII (CR, tab, control, non-ASCII) in a record.
        case forbiddenByte(UInt8)
    }

    package var line: Int
    package var problem: Problem

    package init(line: Int, problem: Problem) {
        self.line = line
        self.problem = problem
    }
}

extension RecordLexError {
    /// The one-line message, in a format's words: `cut` names the input in the
    /// message about a cut ("the file"), `files` names the format's files in the one
    /// about CRLF ("policy files"), `escaped` what writes other bytes as `%XX` ("names").
    package func message(cut: String, files: String, escaped: String) -> String {
        switch problem {
        case .unterminatedLine:
            return "\(cut) is truncated: it ends in the middle of line \(line), which has no newline"
        case .leadingSpace: return "the line starts with a space"
        case .doubleSpace: return "two spaces in a row (fields are separated by a single space)"
        case .trailingSpace: return "the line ends with a space"
        case .forbiddenByte(UInt8(ascii: "\r")):
            return "carriage return in the line (\(files) use LF line endings, not CRLF)"
        case .forbiddenByte(UInt8(ascii: "\t")): return "tab in the line (fields are separated by a single space)"
        case .forbiddenByte(let byte) where byte >= 0x80:
            return "non-ASCII byte \(RecordLexer.hex(byte)) outside a comment (\(escaped) write such bytes as %XX)"
        case .forbiddenByte(let byte):
            return "control byte \(RecordLexer.hex(byte)) outside a comment (\(escaped) write such bytes as %XX)"
        }
    }
}

/// Why a field is not a number.
package enum RecordNumberError: Error, Equatable, Sendable {
    /// Not digits only, a sign, a leading zero, or empty.
    case notDecimal
    /// Well-formed, but above the type's maximum.
    case overflow
}

/// Why a `%XX`-escaped field does not decode.
package enum PercentDecodingError: Error, Equatable, Sendable {
    /// A '%' without two hex digits after it: the range of the '%' and what follows
    /// (at most 3 bytes).
    case invalidEscape(Range<Int>)
    /// The byte at this offset must be written as `%XX`.
    case unescaped(Int)
    /// `%00`, where the caller refuses NUL.
    case escapedNUL
}

/// Percent-encoding of names and paths, so that each is one space-free field of
/// printable ASCII that never looks like a source location or a comment.
package enum PercentCoding {
    package static let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// Controls, space, DEL, every non-ASCII byte, and the four bytes with a meaning
    /// in the formats: '%' (escape), '#' (comment), ':' (location separator), '@'
    /// (location start).
    package static func mustEncode(_ byte: UInt8) -> Bool {
        byte <= 0x20 || byte >= 0x7F || byte == UInt8(ascii: "%") || byte == UInt8(ascii: "#")
            || byte == UInt8(ascii: ":") || byte == UInt8(ascii: "@")
    }

    package static func append(_ bytes: some Sequence<UInt8>, to out: inout [UInt8]) {
        for byte in bytes {
            if mustEncode(byte) {
                out.append(UInt8(ascii: "%"))
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0F)])
            } else {
                out.append(byte)
            }
        }
    }

    package static func encode(_ text: String) -> String {
        guard text.utf8.contains(where: mustEncode) else { return text }
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count * 3)
        append(text.utf8, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    package static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        default: return nil
        }
    }
}
