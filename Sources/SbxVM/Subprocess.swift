import SbxSystem
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Host tools run while preparing the guest (apt-get, dpkg, xz, modinfo) and QEMU.
enum Subprocess {
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
        let scratch = FileManager.default.temporaryDirectory
            .appendingPathComponent("sbx-vm-tool-\(getpid())-\(UUID().uuidString)")
        let outPath = stdoutFile ?? scratch.path + ".out"
        let errPath = scratch.path + ".err"
        defer {
            if stdoutFile == nil { unlink(outPath) }
            unlink(errPath)
        }
        guard FileManager.default.createFile(atPath: outPath, contents: nil),
            FileManager.default.createFile(atPath: errPath, contents: nil),
            let out = FileHandle(forWritingAtPath: outPath),
            let err = FileHandle(forWritingAtPath: errPath)
        else {
            throw VMError(
                .outputFailed,
                "cannot create temporary files for \(argv[0]) in \(scratch.deletingLastPathComponent().path)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err
        do { try process.run() } catch {
            throw VMError(.environment, "cannot run \(argv[0]): \(error.localizedDescription)")
        }
        process.waitUntilExit()
        try? out.close()
        try? err.close()
        let status =
            process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        let stdoutText = stdoutFile == nil ? (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "" : ""
        let stderrText = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        return Outcome(status: status, stdout: stdoutText, stderr: stderrText)
    }
}

/// `'text'` for a POSIX shell, whatever `text` holds.
func shellQuote(_ text: String) -> String {
    "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
