import DyckModel
import SbxSystem
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A trace file that could not be read, parsed or written.
public struct TraceFileError: CategorizedError, Sendable {
    public enum Reason: Sendable {
        /// Opening or reading failed; the system's error text.
        case unreadable(String)
        /// The text breaks the trace format.
        case format(TraceFormatError)
        /// `write(to:)` refused a trace that fails `validate()`.
        case invalidTrace(TraceFormatError)
        /// Creating, writing, syncing or renaming failed; nothing was replaced.
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
        case .unreadable, .format: return .badInput
        case .invalidTrace, .unwritable: return .outputFailed
        }
    }

    /// One line, "PATH: problem" or "PATH:LINE: problem".
    public var description: String {
        let file = TraceIO.oneLine(path)
        switch reason {
        case .unreadable(let why):
            return "\(file): cannot read: \(why)"
        case .format(let error):
            guard let line = error.line else { return "\(file): \(error.message)" }
            return "\(file):\(line): \(error.message)"
        case .invalidTrace(let error):
            return "\(file): not written: invalid trace: \(error.description)"
        case .unwritable(let why):
            return "\(file): cannot write: \(why)"
        }
    }
}

extension Trace {
    /// Reads and parses the trace file at `path`.
    public static func load(path: String) throws(TraceFileError) -> Trace {
        let bytes: [UInt8]
        do {
            bytes = try FileBytes.read(path)
        } catch {
            switch error {
            case let .system(error): throw TraceFileError(path: path, reason: .unreadable(error.text))
            case let .tooLarge(limit):
                throw TraceFileError(path: path, reason: .unreadable("larger than \(limit) bytes"))
            }
        }
        do throws(TraceFormatError) {
            return try parse(bytes: bytes)
        } catch {
            throw TraceFileError(path: path, reason: .format(error))
        }
    }

    /// Validates the trace and writes it to `path` atomically: a temporary file in
    /// the same directory, synced, renamed over `path`. On failure `path` is untouched.
    public func write(to path: String) throws(TraceFileError) {
        do throws(TraceFormatError) {
            try validate()
        } catch {
            throw TraceFileError(path: path, reason: .invalidTrace(error))
        }
        do {
            try AtomicFile.write(serializedBytes(), to: path)
        } catch {
            throw TraceFileError(path: path, reason: .unwritable(error.reason))
        }
    }
}

enum TraceIO {
    /// Control characters escaped, so that a hostile file name cannot break the
    /// one-line diagnostic or drive the terminal.
    static func oneLine(_ text: String) -> String {
        RecordLexer.oneLine(text)
    }

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
