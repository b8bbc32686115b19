import SbxSystem

/// A policy file that could not be read, parsed or written: `SbxSystem`'s file error
/// of the record formats, shared with the trace format; `invalid` is a policy that
/// fails `validate()`, `tooLarge` a file over `PolicyLimits.maxFileBytes`.
public typealias PolicyFileError = RecordFileError<PolicyFormat>

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
        try PolicyFileError.readBytes(path, limit: PolicyLimits.maxFileBytes)
    }

    /// Parses and validates `bytes`, read from `path` (named in the errors), as
    /// `load(path:)` does.
    public static func parse(bytes: [UInt8], path: String) throws(PolicyFileError) -> Policy {
        if let offset = firstInvalidUTF8(bytes) {
            let line = bytes[..<offset].reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
            throw PolicyFileError(path: path, reason: .notUTF8(line: line, byteOffset: offset))
        }
        return try PolicyFileError.parsing(path) { () throws(PolicyFormatError) in try parse(utf8: bytes) }
    }

    /// Validates the policy and writes it to `path` atomically: the text goes to a
    /// temporary file in the same directory, is synced, and is renamed over `path`.
    /// On any failure `path` is untouched and the temporary file is removed. An
    /// existing file's permission bits are kept; a symbolic link at `path` is
    /// replaced by the file, not followed.
    public func write(to path: String) throws(PolicyFileError) {
        try PolicyFileError.writeValidated(path, validate: validate) { Array(serialized().utf8) }
    }
}

/// Byte offset of the first invalid UTF-8 sequence, or nil if there is none.
private func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
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
