import SbxSystem
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Host tools run while preparing the guest (apt-get, dpkg, xz, modinfo) and QEMU.
enum HostTools {
    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String

        /// The first lines of stderr (or stdout), for an error message.
        var diagnostic: String {
            let text = stderr.isEmpty ? stdout : stderr
            let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            let useful = lines.filter { !$0.isEmpty && !$0.hasPrefix("W: Download is performed unsandboxed") }
            return useful.prefix(3).joined(separator: "; ")
        }
    }

    /// `name` looked up in `PATH` (then /usr/sbin, /sbin: modinfo is there on Debian).
    static func find(_ name: String, path: String? = ProcessInfo.processInfo.environment["PATH"]) -> String? {
        let fallback = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
        return Executables.find(name, searchPath: path.map { $0.isEmpty ? fallback : $0 + ":" + fallback } ?? fallback)
    }

    /// Looks up `name` or throws an environment error saying which package has it.
    static func require(_ name: String, package: String) throws -> String {
        guard let path = find(name) else {
            throw VMError(.environment, "\(name) is not installed (Debian: apt-get install \(package))")
        }
        return path
    }

    /// Runs `argv` (argv[0] a path) to completion with stdin from /dev/null. Stdout
    /// goes to `stdoutFile` when given (large outputs), else it is captured.
    static func run(_ argv: [String], in directory: String? = nil, stdoutFile: String? = nil) throws -> Outcome {
        var process = Subprocess(argv)
        process.workingDirectory = directory
        process.stdin = .null
        // 0644 as before: the file may become the cached kernel, which others read.
        process.stdout = stdoutFile.map { .file($0, mode: 0o644) } ?? .capture
        process.stderr = .capture
        let result: Subprocess.Result
        do { result = try process.run() } catch {
            throw VMError(.environment, "cannot run \(argv[0]): \(error.reason)")
        }
        return Outcome(status: result.status.shellStatus, stdout: result.stdoutText, stderr: result.stderrText)
    }
}

/// `'text'` for a POSIX shell, whatever `text` holds.
func shellQuote(_ text: String) -> String {
    "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
