import DyckModel
import SbxSystem
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A trace file that could not be read, parsed or written: `SbxSystem`'s file error
/// of the record formats, shared with the policy format; `invalid` is a trace that
/// fails `validate()`. A trace is read whole, without a size limit, and need not be
/// UTF-8 (paths are bytes): `tooLarge` and `notUTF8` do not occur.
public typealias TraceFileError = RecordFileError<TraceFormat>

extension Trace {
    /// Reads and parses the trace file at `path`.
    public static func load(path: String) throws(TraceFileError) -> Trace {
        let bytes = try TraceFileError.readBytes(path)
        return try TraceFileError.parsing(path) { () throws(TraceFormatError) in try parse(bytes: bytes) }
    }

    /// Validates the trace and writes it to `path` atomically: a temporary file in
    /// the same directory, synced, renamed over `path`. On failure `path` is untouched.
    public func write(to path: String) throws(TraceFileError) {
        try TraceFileError.writeValidated(path, validate: validate) { serializedBytes() }
    }
}

enum TraceIO {
    /// Writes all of `bytes` to `fd`, retrying short writes and EINTR.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { buffer -> Int in
                guard let base = buffer.baseAddress else { return 0 }
                return Glibc.write(fd, base + offset, buffer.count - offset)
            }
            if n > 0 {
                offset += n
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                throw SystemError(n < 0 ? errno : EIO)
            }
        }
    }
}
