import DyckModel
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
            bytes = try TraceIO.readFile(path)
        } catch {
            throw TraceFileError(path: path, reason: .unreadable(error.text))
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
            try TraceIO.writeAtomically(serializedBytes(), to: path)
        } catch {
            throw TraceFileError(path: path, reason: .unwritable(error.text))
        }
    }
}

/// An errno, with the system's text for it.
struct SystemError: Error {
    var code: Int32
    var context: String?

    init(_ code: Int32, _ context: String? = nil) {
        self.code = code
        self.context = context
    }

    var text: String {
        let reason = String(cString: strerror(code))
        guard let context else { return reason }
        return "\(context): \(reason)"
    }
}

enum TraceIO {
    /// Control characters escaped, so that a hostile file name cannot break the
    /// one-line diagnostic or drive the terminal.
    static func oneLine(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F {
                out += "\\x" + TraceParser.hex(UInt8(scalar.value)).dropFirst(2)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func readFile(_ path: String) throws(SystemError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError(errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SystemError(errno) }
        if (info.st_mode & S_IFMT) == S_IFDIR { throw SystemError(EISDIR) }
        var bytes: [UInt8] = []
        if (info.st_mode & S_IFMT) == S_IFREG && info.st_size > 0 { bytes.reserveCapacity(Int(info.st_size)) }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { buffer -> Int in
                guard let base = buffer.baseAddress else { return 0 }
                return read(fd, base, buffer.count)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError(errno)
            }
            if n == 0 { return bytes }
            bytes.append(contentsOf: chunk.prefix(n))
        }
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

    static func writeAtomically(_ bytes: [UInt8], to path: String) throws(SystemError) {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { path[..<$0].isEmpty ? "/" : String(path[..<$0]) } ?? "."
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        guard !base.isEmpty, base != ".", base != ".." else { throw SystemError(EISDIR, "not a file name") }

        // Same directory, so that rename() stays within one file system.
        var temporary = ""
        var fd: Int32 = -1
        for _ in 0..<16 {
            let tag = String(UInt64.random(in: 0...UInt64.max), radix: 16)
            temporary = "\(directory == "/" ? "" : directory)/.\(base.prefix(64)).tmp-\(getpid())-\(tag)"
            fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
            if fd >= 0 || errno != EEXIST { break }
        }
        guard fd >= 0 else { throw SystemError(errno, "cannot create a temporary file in \(directory)") }
        var failure: SystemError?
        do throws(SystemError) {
            try writeAll(fd, bytes)
            // Synced before the rename: a crash leaves the old file or the new one.
            if fsync(fd) != 0 { throw SystemError(errno) }
        } catch {
            failure = error
        }
        if close(fd) != 0 && failure == nil { failure = SystemError(errno) }
        if failure == nil && rename(temporary, path) != 0 { failure = SystemError(errno) }
        if let failure {
            unlink(temporary)
            throw failure
        }
    }
}
