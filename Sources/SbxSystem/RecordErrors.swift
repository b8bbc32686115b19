/// A line-based text format read with `RecordLexer` (the policy format, the trace
/// format): what its errors need to know of it. Each format keeps its grammar; the
/// error types around it (`RecordFormatError`, `RecordFileError`), their kinds and
/// their messages are written once, here. `specs/record-lexer.md`, "Errors", is the
/// definition.
public protocol RecordFileFormat: Sendable {
    /// The noun of the format's document in messages: "policy", "trace".
    static var documentNoun: String { get }
}

/// What can be wrong with a text of a record format, or with an in-memory document
/// that is to be written as one. A format uses those of its rules (a trace has no caps
/// and no tables where a name could repeat, so never `capExceeded` or `duplicate`).
public enum RecordErrorKind: String, Sendable, CaseIterable {
    /// The file is empty, ends before its `end` line, or ends in the middle of a line.
    case truncated
    /// The header names a version this tool does not read.
    case unsupportedVersion
    /// A line does not have the shape its position or keyword requires, or a number,
    /// name, kind or path is not well-formed, or an id is not the next in sequence.
    case malformed
    /// An index or a value (state, symbol, site, pid, exit code, signal, ...) is
    /// outside its range.
    case outOfRange
    /// A count or size exceeds one of the format's caps.
    case capExceeded
    /// Something that must be unique appears twice.
    case duplicate
    /// Parts that are well-formed on their own contradict each other.
    case inconsistent
}

/// A text that breaks a rule of `Format`, or an in-memory document that could not be
/// written as valid text. `line` is the 1-based line of the file the problem is on; it
/// is nil for a problem of an in-memory document, whose message then names the part at
/// fault.
public struct RecordFormatError<Format: RecordFileFormat>: Error, Equatable, Sendable, CustomStringConvertible {
    public typealias Kind = RecordErrorKind

    public var kind: Kind
    public var line: Int?
    public var message: String

    public init(kind: Kind, line: Int?, message: String) {
        self.kind = kind
        self.line = line
        self.message = message
    }

    /// "line N: message", or the message alone without a line.
    public var description: String {
        guard let line else { return message }
        return "line \(line): \(message)"
    }
}

/// A file of `Format` that could not be read, parsed or written.
public struct RecordFileError<Format: RecordFileFormat>: Error, Sendable, CustomStringConvertible {
    public enum Reason: Sendable {
        /// Opening or reading failed; the system's error text.
        case unreadable(String)
        /// The file is larger than the format's limit.
        case tooLarge(limit: Int)
        /// The bytes are not UTF-8 (for a format that requires it); where the first
        /// bad sequence starts.
        case notUTF8(line: Int, byteOffset: Int)
        /// The text breaks the format.
        case format(RecordFormatError<Format>)
        /// Writing refused a document that fails its validation: the file would be
        /// one that no reader accepts.
        case invalid(RecordFormatError<Format>)
        /// Creating, writing, syncing or renaming the file failed; nothing was
        /// replaced.
        case unwritable(String)

        /// True for the reasons of a write (the document or the output is at fault),
        /// false for those of a read (the input is).
        public var isWriteFailure: Bool {
            switch self {
            case .unreadable, .tooLarge, .notUTF8, .format: return false
            case .invalid, .unwritable: return true
            }
        }
    }

    public var path: String
    public var reason: Reason

    public init(path: String, reason: Reason) {
        self.path = path
        self.reason = reason
    }

    /// One line, "PATH: problem" or "PATH:LINE: problem", with control characters
    /// escaped (`RecordLexer.oneLine`) so that a hostile file name or message cannot
    /// break it or drive the terminal.
    public var description: String {
        let file = RecordLexer.oneLine(path)
        let noun = Format.documentNoun
        switch reason {
        case .unreadable(let why):
            return "\(file): cannot read: \(RecordLexer.oneLine(why))"
        case .tooLarge(let limit):
            return "\(file): too large for a \(noun) file (more than \(limit) bytes)"
        case .notUTF8(let line, let offset):
            return "\(file):\(line): not UTF-8 text (invalid byte sequence at byte offset \(offset))"
        case .format(let error):
            guard let line = error.line else { return "\(file): \(RecordLexer.oneLine(error.message))" }
            return "\(file):\(line): \(RecordLexer.oneLine(error.message))"
        case .invalid(let error):
            return "\(file): not written: invalid \(noun): \(RecordLexer.oneLine(error.description))"
        case .unwritable(let why):
            return "\(file): cannot write: \(RecordLexer.oneLine(why))"
        }
    }
}

extension RecordFileError {
    /// `FileBytes.read`'s failure as this file's: unreadable, or too large.
    public init(path: String, reading error: FileReadError) {
        switch error {
        case .system(let error): self.init(path: path, reason: .unreadable(error.text))
        case .tooLarge(let limit): self.init(path: path, reason: .tooLarge(limit: limit))
        }
    }
}

// The steps every format's file I/O takes, each failure mapped to its reason once.
extension RecordFileError {
    /// The whole file (`FileBytes.read`, at most `limit` bytes when given).
    public static func readBytes(_ path: String, limit: Int? = nil) throws(Self) -> [UInt8] {
        do {
            return try FileBytes.read(path, limit: limit)
        } catch {
            throw Self(path: path, reading: error)
        }
    }

    /// What `parse` makes of the file's text; its line error is the file's `format`.
    public static func parsing<T>(_ path: String, _ parse: () throws(RecordFormatError<Format>) -> T) throws(Self) -> T
    {
        do throws(RecordFormatError<Format>) {
            return try parse()
        } catch {
            throw Self(path: path, reason: .format(error))
        }
    }

    /// Runs `validate` (its line error: `invalid`, nothing written), then writes
    /// `bytes()` with `AtomicFile.write` (a temporary file synced and renamed over
    /// `path`; on failure, `unwritable`, `path` is untouched).
    public static func writeValidated(
        _ path: String, validate: () throws(RecordFormatError<Format>) -> Void, bytes: () -> [UInt8]
    ) throws(Self) {
        do throws(RecordFormatError<Format>) {
            try validate()
        } catch {
            throw Self(path: path, reason: .invalid(error))
        }
        do {
            try AtomicFile.write(bytes(), to: path)
        } catch {
            throw Self(path: path, reason: .unwritable(error.reason))
        }
    }
}
