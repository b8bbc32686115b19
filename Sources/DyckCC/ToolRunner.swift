import Foundation
import SbxSystem
#if canImport(Glibc)
import Glibc
#endif

/// Runs the compilers and LLVM tools. Children inherit stdin, stdout and stderr unless
/// told otherwise, so clang's diagnostics reach the user exactly as clang prints them.
enum ToolRunner {
    /// Prints every command to stderr before running it (`--dyck-verbose` or
    /// `DYCK_CC_VERBOSE=1`), for debugging build systems.
    nonisolated(unsafe) static var verbose = false

    /// Runs `argv` (argv[0] is an absolute path) and returns its exit status; a child
    /// killed by a signal gives 128 + the signal number, as a shell reports it.
    /// `stdoutPath`/`stderrPath` redirect those streams into files (truncated).
    static func run(_ argv: [String], stdoutPath: String? = nil, stderrPath: String? = nil) throws -> Int32 {
        if verbose {
            Log.note("running: " + argv.map(shellQuoted).joined(separator: " "))
        }
        var process = Subprocess(argv)
        if let stdoutPath { process.stdout = .file(stdoutPath) }
        if let stderrPath { process.stderr = .file(stderrPath) }
        // The driver ignores the termination signals it handles itself (see
        // `Temporaries.installSignalHandlers`); children must get the default actions.
        process.defaultSignals = Temporaries.handledSignals
        do {
            let child = try process.spawn()
            Temporaries.childStarted(child.pid)
            defer { Temporaries.childEnded() }
            return try child.wait().shellStatus
        } catch {
            throw DriverError.cannotRun(tool: argv[0], reason: error.reason)
        }
    }

    /// Runs `argv` and throws `ToolFailed` with its status when it fails.
    static func check(_ argv: [String], stdoutPath: String? = nil, stderrPath: String? = nil) throws {
        let status = try run(argv, stdoutPath: stdoutPath, stderrPath: stderrPath)
        if status != 0 { throw ToolFailed(tool: argv[0], status: status) }
    }

    /// Runs `argv` with stdout captured (through a file in the private temporary
    /// directory) and returns it; stderr is inherited.
    static func output(_ argv: [String], temporaries: Temporaries) throws -> String {
        let path = try temporaries.newPath("stdout.txt")
        try check(argv, stdoutPath: path)
        let data = FileManager.default.contents(atPath: path) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// Replaces this process with `argv`: used for the commands `dyck-cc` does not
    /// change, so that clang sees the terminal, stdin and signals exactly as if it had
    /// been called directly. Returns only if exec fails.
    static func exec(_ argv: [String]) -> DriverError {
        if verbose {
            Log.note("running: " + argv.map(shellQuoted).joined(separator: " "))
        }
        for sig in Temporaries.handledSignals { signal(sig, SIG_DFL) }
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) }
        cArgs.append(nil)
        execv(argv[0], cArgs)
        let reason = String(cString: strerror(errno))
        for arg in cArgs { free(arg) }
        return .cannotRun(tool: argv[0], reason: reason)
    }
}

func shellQuoted(_ word: String) -> String {
    let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+%@")
    if !word.isEmpty && word.allSatisfy({ safe.contains($0) }) { return word }
    return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

/// Diagnostics of the driver itself: one line on stderr, prefixed `dyck-cc:` so they
/// stand apart from clang's.
public enum Log {
    public static func warning(_ message: String) {
        write("dyck-cc: warning: \(message)")
    }

    public static func note(_ message: String) {
        write("dyck-cc: \(message)")
    }

    public static func error(_ message: String) {
        write("dyck-cc: error: \(message)")
    }

    static func write(_ line: String) {
        var text = line
        if !text.hasSuffix("\n") { text += "\n" }
        FileHandle.standardError.write(Data((text).utf8))
    }
}
