import DyckModel
import SbxSystem
import Foundation

/// An output file that could not be written.
public typealias OutputError = AtomicWriteError

public enum OutputFile {
    /// Writes atomically, so a failure never leaves a half-written file behind.
    public static func write(_ text: String, to path: String) throws {
        try AtomicFile.write(Array(text.utf8), to: path)
    }

    /// Fails now if `write(_:to:)` could not write `path` later: its directory must exist
    /// and be writable (the file is written beside it, then renamed), and `path` must not
    /// be a directory. For outputs written after long work, such as a report after a run.
    public static func checkWritable(_ path: String) throws {
        let directory: String
        if let slash = path.lastIndex(of: "/") {
            let head = path[..<slash]
            directory = head.isEmpty ? "/" : String(head)
        } else {
            directory = "."
        }
        var info = stat()
        if stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR {
            throw OutputError(path: path, reason: "is a directory")
        }
        guard stat(directory, &info) == 0 else {
            throw OutputError(path: path, reason: "\(directory): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw OutputError(path: path, reason: "\(directory) is not a directory")
        }
        guard access(directory, W_OK | X_OK) == 0 else {
            throw OutputError(path: path, reason: "\(directory): \(String(cString: strerror(errno)))")
        }
    }

    /// The system's explanation of a Foundation file error.
    public static func describe(_ error: Error) -> String {
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError,
            underlying.domain == NSPOSIXErrorDomain
        {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return nsError.localizedDescription
    }
}

/// Graphviz's `dot`, run as a child process.
public struct GraphvizError: CategorizedError {
    public let message: String
    public var category: ErrorCategory { .environment }
    public var description: String { message }
}

public enum Graphviz {
    /// The running `dot` child and its temporary output, for the signal handler: an
    /// interrupted render must end the child (a SIGTERM sent to sbx alone would leave
    /// it running) and leave no partial file. Plain C storage, set before the handler
    /// is installed, since a signal handler may touch nothing else.
    nonisolated(unsafe) private static var childPID: pid_t = 0
    nonisolated(unsafe) private static var temporaryPath = UnsafeMutablePointer<CChar>.allocate(
        capacity: Int(PATH_MAX) + 1)
    static let interruptions: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    public static func render(dot text: String, format: String, to path: String) throws {
        guard let dot = findExecutable("dot") else {
            throw GraphvizError(
                message: "Graphviz's 'dot' is not installed (Debian: apt-get install graphviz); cannot write \(path)")
        }
        let temporary = path + ".tmp-\(getpid())"
        guard temporary.utf8.count <= Int(PATH_MAX) else {
            throw OutputError(path: path, reason: "the path is too long")
        }
        var process = Subprocess([dot, "-T\(format)", "-o", temporary])
        process.stdin = .bytes(Array(text.utf8))
        process.stderr = .capture
        _ = temporary.withCString { strcpy(temporaryPath, $0) }
        var previous: [Int32: sigaction] = [:]
        for sig in interruptions {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { sig in Graphviz.interrupted(sig) }
            sigemptyset(&action.sa_mask)
            var old = sigaction()
            sigaction(sig, &action, &old)
            previous[sig] = old
        }
        // Blocked while the child starts, so that the handler sees either no child or
        // its pid, never a child it does not know about.
        var block = sigset_t()
        var saved = sigset_t()
        sigemptyset(&block)
        for sig in interruptions { sigaddset(&block, sig) }
        pthread_sigmask(SIG_BLOCK, &block, &saved)
        defer {
            childPID = 0
            for (sig, old) in previous {
                var old = old
                sigaction(sig, &old, nil)
            }
        }
        let child: Subprocess.Child
        do {
            child = try process.spawn()
        } catch {
            pthread_sigmask(SIG_SETMASK, &saved, nil)
            throw GraphvizError(message: "cannot run \(dot): \(error.reason)")
        }
        childPID = child.pid
        pthread_sigmask(SIG_SETMASK, &saved, nil)
        let status: WaitStatus
        let message: String
        do {
            message = String(decoding: try child.communicate().stderr, as: UTF8.self)
            status = try child.wait()
        } catch {
            throw GraphvizError(message: "dot failed on \(path): \(error.reason)")
        }
        guard status == .exited(0) else {
            unlink(temporary)
            let first = message.split(separator: "\n").first.map(String.init) ?? status.description
            throw GraphvizError(message: "dot failed on \(path): \(first)")
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw OutputError(path: path, reason: reason)
        }
    }

    /// Async-signal-safe: kill and reap the child (so that it cannot create the file
    /// after the unlink), remove the temporary, then die of the signal as if
    /// unhandled, so that shells and service managers see the usual cause.
    private static func interrupted(_ sig: Int32) {
        let child = childPID
        if child > 0 {
            kill(child, SIGKILL)
            var status: Int32 = 0
            waitpid(child, &status, 0)
            unlink(temporaryPath)
        }
        signal(sig, SIG_DFL)
        raise(sig)
    }

    static func findExecutable(_ name: String) -> String? {
        Executables.find(name)
    }
}
