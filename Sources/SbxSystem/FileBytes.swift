#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Why a file's bytes could not be read.
public enum FileReadError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Opening or reading failed (a directory gives EISDIR).
    case system(SystemError)
    /// More than the caller's limit of bytes.
    case tooLarge(limit: Int)

    /// The reason alone, without the path: "No such file or directory".
    public var description: String {
        switch self {
        case let .system(error): return error.text
        case let .tooLarge(limit): return "larger than \(limit) bytes"
        }
    }
}

/// Whole files read with POSIX calls, so that failures carry errno, with a bound on
/// what is read: the size from fstat is only a hint (the file may grow, or be a
/// pipe), so the limit is enforced on what is actually read.
public enum FileBytes {
    public static func read(_ path: String, limit: Int? = nil) throws(FileReadError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .system(SystemError(errno)) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .system(SystemError(errno)) }
        if (info.st_mode & S_IFMT) == S_IFDIR { throw .system(SystemError(EISDIR)) }
        if let limit, info.st_size > limit { throw .tooLarge(limit: limit) }

        var bytes: [UInt8] = []
        if (info.st_mode & S_IFMT) == S_IFREG && info.st_size > 0 { bytes.reserveCapacity(Int(info.st_size)) }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { buffer -> Int in
                guard let base = buffer.baseAddress else { return 0 }
                return Glibc.read(fd, base, buffer.count)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw .system(SystemError(errno))
            }
            if n == 0 { return bytes }
            if let limit, bytes.count + n > limit { throw .tooLarge(limit: limit) }
            bytes.append(contentsOf: chunk.prefix(n))
        }
    }

    /// The first `count` bytes of a file (fewer if it is shorter): enough to tell
    /// formats apart by their magic.
    public static func readPrefix(_ path: String, count: Int) throws(FileReadError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .system(SystemError(errno)) }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let n = bytes.withUnsafeMutableBytes { buffer -> Int in
                Glibc.read(fd, buffer.baseAddress! + filled, count - filled)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw .system(SystemError(errno))
            }
            if n == 0 { break }
            filled += n
        }
        return Array(bytes.prefix(filled))
    }
}
