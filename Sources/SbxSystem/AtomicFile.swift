#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A file that could not be written; `reason` is the system's explanation.
public struct AtomicWriteError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): cannot write: \(reason)" }
}

/// Writes files so that nothing is ever lost or half-written: the bytes go to a
/// temporary file in the target's directory, are synced, and replace the target by
/// rename, and the directory is synced. An existing file's permissions are kept; a
/// symlink at the target is replaced, not followed.
public enum AtomicFile {
    public static func write(_ bytes: [UInt8], to path: String) throws(AtomicWriteError) {
        let (temporary, fd) = try createTemporary(for: path)
        var problem: String?
        var offset = 0
        while offset < bytes.count && problem == nil {
            let n = bytes.withUnsafeBytes { buffer -> Int in
                guard let base = buffer.baseAddress else { return 0 }
                return systemWrite(fd, base + offset, buffer.count - offset)
            }
            if n > 0 {
                offset += n
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                problem = n < 0 ? SystemError.describe(errno) : "the system wrote nothing"
            }
        }
        try commit(temporary, fd: fd, to: path, problem: problem)
    }

    /// For writers that take a path (LLVM, another process): `produce` writes the
    /// temporary file at the path it is given and returns the reason of a failure, or
    /// nil; the file is then synced and renamed over `path` as `write(_:to:)` does.
    public static func write(to path: String, producing produce: (String) -> String?) throws(AtomicWriteError) {
        let (temporary, fd) = try createTemporary(for: path)
        var mode = stat()
        let hasMode = fstat(fd, &mode) == 0
        close(fd)
        if let reason = produce(temporary) {
            unlink(temporary)
            throw AtomicWriteError(path: path, reason: reason)
        }
        // The producer may have replaced the file (and its mode): reopen what is there.
        let reopened = open(temporary, O_RDONLY | O_CLOEXEC)
        guard reopened >= 0 else {
            let reason = SystemError.describe(errno)
            unlink(temporary)
            throw AtomicWriteError(path: path, reason: reason)
        }
        if hasMode { _ = fchmod(reopened, mode.st_mode & 0o7777) }
        try commit(temporary, fd: reopened, to: path, problem: nil)
    }

    /// A new hidden file in `path`'s directory, so that rename() stays within one file
    /// system, with the mode of the file it will replace.
    private static func createTemporary(for path: String) throws(AtomicWriteError) -> (String, Int32) {
        let (directory, base) = split(path)
        guard !base.isEmpty, base != ".", base != ".." else {
            throw AtomicWriteError(path: path, reason: "not a file name")
        }
        // Short enough to respect NAME_MAX whatever the target's length.
        var temporary = ""
        var fd: Int32 = -1
        for _ in 0..<16 {
            let tag = String(UInt64.random(in: 0...UInt64.max), radix: 16)
            let prefix = directory == "/" ? "/" : directory + "/"
            temporary = "\(prefix).\(base.prefix(64)).tmp-\(getpid())-\(tag)"
            fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
            if fd >= 0 || errno != EEXIST { break }
        }
        guard fd >= 0 else {
            throw AtomicWriteError(
                path: path, reason: "cannot create a temporary file in \(directory): \(SystemError.describe(errno))")
        }
        var existing = stat()
        if stat(path, &existing) == 0 && (existing.st_mode & S_IFMT) == S_IFREG {
            _ = fchmod(fd, existing.st_mode & 0o7777)
        }
        return (temporary, fd)
    }

    /// Syncs and closes `fd`, then renames `temporary` over `path` and syncs the
    /// directory; on any problem, removes the temporary file and throws.
    private static func commit(_ temporary: String, fd: Int32, to path: String, problem: String?)
        throws(AtomicWriteError)
    {
        var problem = problem
        // Synced before the rename, so a crash leaves either the old file or the
        // complete new one, never an empty or partial file under the real name.
        if problem == nil && fsync(fd) != 0 { problem = SystemError.describe(errno) }
        if close(fd) != 0 && problem == nil { problem = SystemError.describe(errno) }
        if let problem {
            unlink(temporary)
            throw AtomicWriteError(path: path, reason: problem)
        }
        guard rename(temporary, path) == 0 else {
            let why = SystemError.describe(errno)
            unlink(temporary)
            throw AtomicWriteError(path: path, reason: why)
        }
        // Makes the rename itself durable; a file system that cannot sync a
        // directory has still replaced the file, so failure here is not reported.
        let directoryFD = open(split(path).directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            _ = fsync(directoryFD)
            close(directoryFD)
        }
    }

    private static func split(_ path: String) -> (directory: String, base: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let head = path[..<slash]
        return (head.isEmpty ? "/" : String(head), String(path[path.index(after: slash)...]))
    }
}

/// `write(2)`, named apart from `AtomicFile.write`.
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}
