#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A file that could not be written; `reason` is the system's explanation.
public struct AtomicWriteError: CategorizedError, Sendable {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var category: ErrorCategory { .outputFailed }
    public var description: String { "\(path): cannot write: \(reason)" }
}

/// Writes files so that nothing is ever lost or half-written: the bytes go to a
/// temporary file in the target's directory, are synced, and replace the target by
/// rename. An existing file's permissions are kept; a symlink at the target is
/// replaced, not followed.
public enum AtomicFile {
    public static func write(_ bytes: [UInt8], to path: String) throws(AtomicWriteError) {
        func fail(_ why: String) -> AtomicWriteError {
            AtomicWriteError(path: path, reason: why)
        }
        let directory: String
        let base: String
        if let slash = path.lastIndex(of: "/") {
            let head = path[..<slash]
            directory = head.isEmpty ? "/" : String(head)
            base = String(path[path.index(after: slash)...])
        } else {
            directory = "."
            base = path
        }
        guard !base.isEmpty, base != ".", base != ".." else { throw fail("not a file name") }

        // A hidden name in the same directory, so that rename() stays within one file
        // system; short enough to respect NAME_MAX whatever the target's length.
        var temporary = ""
        var fd: Int32 = -1
        for _ in 0..<16 {
            let tag = String(UInt64.random(in: 0...UInt64.max), radix: 16)
            let prefix = directory == "/" ? "/" : directory + "/"
            temporary = "\(prefix).\(base.prefix(64)).tmp-\(getpid())-\(tag)"
            fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
            if fd >= 0 || errno != EEXIST { break }
        }
        guard fd >= 0 else { throw fail("cannot create a temporary file in \(directory): \(String(cString: strerror(errno)))") }

        var existing = stat()
        if stat(path, &existing) == 0 && (existing.st_mode & S_IFMT) == S_IFREG {
            _ = fchmod(fd, existing.st_mode & 0o7777)
        }

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
                problem = n < 0 ? String(cString: strerror(errno)) : "the system wrote nothing"
            }
        }
        // Synced before the rename, so a crash leaves either the old file or the
        // complete new one, never an empty or partial file under the real name.
        if problem == nil && fsync(fd) != 0 { problem = String(cString: strerror(errno)) }
        if close(fd) != 0 && problem == nil { problem = String(cString: strerror(errno)) }
        if let problem {
            unlink(temporary)
            throw fail(problem)
        }
        guard rename(temporary, path) == 0 else {
            let why = String(cString: strerror(errno))
            unlink(temporary)
            throw fail(why)
        }
        // Makes the rename itself durable; a file system that cannot sync a
        // directory has still replaced the file, so failure here is not reported.
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            _ = fsync(directoryFD)
            close(directoryFD)
        }
    }
}

/// `write(2)`, named apart from `AtomicFile.write`.
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}
