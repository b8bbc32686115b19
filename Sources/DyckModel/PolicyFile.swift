import SbxSystem
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A policy file that could not be read, parsed or written.
public struct PolicyFileError: CategorizedError, Sendable {
    public enum Reason: Sendable {
        /// Opening or reading failed; the system's error text.
        case unreadable(String)
        /// The file is larger than `PolicyLimits.maxFileBytes`.
        case tooLarge(limit: Int)
        /// The bytes are not UTF-8; where the first bad sequence starts.
        case notUTF8(line: Int, byteOffset: Int)
        /// The text breaks the policy format.
        case format(PolicyFormatError)
        /// `write(to:)` refused a policy that fails `validate()`: writing it would
        /// produce a file that no reader accepts.
        case invalidPolicy(PolicyFormatError)
        /// Creating, writing, syncing or renaming the file failed; nothing was
        /// replaced.
        case unwritable(String)
    }

    public var path: String
    public var reason: Reason

    public init(path: String, reason: Reason) {
        self.path = path
        self.reason = reason
    }

    public var category: ErrorCategory {
        switch reason {
        case .unreadable, .tooLarge, .notUTF8, .format: return .badInput
        case .invalidPolicy, .unwritable: return .outputFailed
        }
    }

    /// One line, "PATH: problem" or "PATH:LINE: problem".
    public var description: String {
        let file = oneLine(path)
        switch reason {
        case .unreadable(let why):
            return "\(file): cannot read: \(oneLine(why))"
        case .tooLarge(let limit):
            return "\(file): too large for a policy file (more than \(limit) bytes)"
        case .notUTF8(let line, let offset):
            return "\(file):\(line): not UTF-8 text (invalid byte sequence at byte offset \(offset))"
        case .format(let error):
            guard let line = error.line else { return "\(file): \(oneLine(error.message))" }
            return "\(file):\(line): \(oneLine(error.message))"
        case .invalidPolicy(let error):
            return "\(file): not written: invalid policy: \(oneLine(error.description))"
        case .unwritable(let why):
            return "\(file): cannot write: \(oneLine(why))"
        }
    }
}

/// Control characters escaped, so that a hostile file name cannot break the one-line
/// diagnostic or drive the terminal.
private func oneLine(_ text: String) -> String {
    RecordLexer.oneLine(text)
}

extension Policy {
    /// Reads, parses and validates the policy file at `path`.
    public static func load(path: String) throws(PolicyFileError) -> Policy {
        try loadWithBytes(path: path).policy
    }

    /// As `load(path:)`, also returning the bytes read (whose digest an instrumented
    /// executable records: `SbxABI.PolicyDigest`).
    public static func loadWithBytes(path: String) throws(PolicyFileError) -> (policy: Policy, bytes: [UInt8]) {
        let bytes = try readBytes(path: path)
        return (try parse(bytes: bytes, path: path), bytes)
    }

    /// The policy file's bytes, not parsed: `sbx run` looks its blob cache up by their
    /// digest before it pays for parsing (seconds for a large program's policy).
    public static func readBytes(path: String) throws(PolicyFileError) -> [UInt8] {
        try PolicyFileIO.readFile(path)
    }

    /// Parses and validates `bytes`, read from `path` (named in the errors), as
    /// `load(path:)` does.
    public static func parse(bytes: [UInt8], path: String) throws(PolicyFileError) -> Policy {
        if let offset = PolicyFileIO.firstInvalidUTF8(bytes) {
            let line = bytes[..<offset].reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
            throw PolicyFileError(path: path, reason: .notUTF8(line: line, byteOffset: offset))
        }
        do throws(PolicyFormatError) {
            return try parse(utf8: bytes)
        } catch {
            throw PolicyFileError(path: path, reason: .format(error))
        }
    }

    /// Validates the policy and writes it to `path` atomically: the text goes to a
    /// temporary file in the same directory, is synced, and is renamed over `path`.
    /// On any failure `path` is untouched and the temporary file is removed. An
    /// existing file's permission bits are kept; a symbolic link at `path` is
    /// replaced by the file, not followed.
    public func write(to path: String) throws(PolicyFileError) {
        do throws(PolicyFormatError) {
            try validate()
        } catch {
            throw PolicyFileError(path: path, reason: .invalidPolicy(error))
        }
        try PolicyFileIO.writeAtomically(Array(serialized().utf8), to: path)
    }
}

enum PolicyFileIO {
    static func readFile(_ path: String) throws(PolicyFileError) -> [UInt8] {
        do {
            return try FileBytes.read(path, limit: PolicyLimits.maxFileBytes)
        } catch {
            switch error {
            case let .system(error): throw PolicyFileError(path: path, reason: .unreadable(error.text))
            case let .tooLarge(limit): throw PolicyFileError(path: path, reason: .tooLarge(limit: limit))
            }
        }
    }

    /// Byte offset of the first invalid UTF-8 sequence, or nil if there is none.
    static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
        if bytes.allSatisfy({ $0 < 0x80 }) { return nil }
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var offset = 0
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): offset += UTF8.width(scalar)
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }

    static func writeAtomically(_ bytes: [UInt8], to path: String) throws(PolicyFileError) {
        do {
            try AtomicFile.write(bytes, to: path)
        } catch {
            throw PolicyFileError(path: path, reason: .unwritable(error.reason))
        }
    }
}
