import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs the compilers and LLVM tools. Children inherit stdin, stdout and stderr unless
/// told otherwise, so clang's diagnostics reach the user exactly as clang prints them.
enum Subprocess {
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
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let stdoutPath {
            posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        }
        if let stderrPath {
            posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        }
        // The driver ignores the termination signals it handles itself (see
        // `Temporaries.installSignalHandlers`); children must get the default actions.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in Temporaries.handledSignals { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF))
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) }
        cArgs.append(nil)
        defer { for arg in cArgs { free(arg) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, &attributes, cArgs, environ)
        guard rc == 0 else {
            throw DriverError.cannotRun(tool: argv[0], reason: String(cString: strerror(rc)))
        }
        Temporaries.childStarted(pid)
        defer { Temporaries.childEnded() }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR {
                throw DriverError.cannotRun(tool: argv[0], reason: "waitpid: \(String(cString: strerror(errno)))")
            }
        }
        // WIFEXITED / WEXITSTATUS / WTERMSIG are macros, unavailable in Swift.
        let signal = status & 0x7f
        if signal == 0 { return (status >> 8) & 0xff }
        return 128 + signal
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
