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
           underlying.domain == NSPOSIXErrorDomain {
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
    public static func render(dot text: String, format: String, to path: String) throws {
        guard let dot = findExecutable("dot") else {
            throw GraphvizError(message: "Graphviz's 'dot' is not installed (Debian: apt-get install graphviz); cannot write \(path)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: dot)
        let temporary = path + ".tmp-\(getpid())"
        process.arguments = ["-T\(format)", "-o", temporary]
        let input = Pipe()
        let errors = Pipe()
        process.standardInput = input
        process.standardError = errors
        do { try process.run() } catch {
            throw GraphvizError(message: "cannot run \(dot): \(error.localizedDescription)")
        }
        input.fileHandleForWriting.write(Data(text.utf8))
        try? input.fileHandleForWriting.close()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            unlink(temporary)
            let first = message.split(separator: "\n").first.map(String.init) ?? "exit status \(process.terminationStatus)"
            throw GraphvizError(message: "dot failed on \(path): \(first)")
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw OutputError(path: path, reason: reason)
        }
    }

    static func findExecutable(_ name: String) -> String? {
        Executables.find(name)
    }
}
