import Dispatch
import Foundation

/// What a child process did: its status (the exit status, or the signal number when
/// `signaled`), and everything it wrote.
public struct ProcessOutcome: Sendable {
    public var status: Int32
    public var signaled: Bool
    public var stdout: Data
    public var stderr: Data

    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
    /// The shell's view: 128 + the signal for a process killed by one.
    public var shellStatus: Int32 { signaled ? 128 + status : status }
}

/// Runs test subjects (the built tools, compilers, instrumented programs) as child
/// processes. The one place the test targets do this, so that every test drains both
/// pipes at once (a chatty child never blocks on a full pipe) and bounds the run.
public enum ProcessRunner {
    /// Runs `executable` with `arguments`. `environment` replaces the inherited one
    /// when given; `extraEnvironment` is added to whichever is used. `stdin` is
    /// written to the child and closed (nil: /dev/null). After `timeout` seconds the
    /// child is sent SIGTERM (it then ends as signaled).
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        extraEnvironment: [String: String] = [:], directory: URL? = nil, stdin: Data? = nil,
        timeout: Double? = nil
    ) throws -> ProcessOutcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if environment != nil || !extraEnvironment.isEmpty {
            process.environment = (environment ?? ProcessInfo.processInfo.environment).merging(extraEnvironment) { $1 }
        }
        if let directory { process.currentDirectoryURL = directory }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input = stdin.map { _ in Pipe() }
        process.standardInput = input ?? FileHandle.nullDevice
        try process.run()
        if let input, let stdin {
            input.fileHandleForWriting.write(stdin)
            try? input.fileHandleForWriting.close()
        }
        let timer = timeout.map { seconds in
            let item = DispatchWorkItem { if process.isRunning { process.terminate() } }
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: item)
            return item
        }
        // Written by the reader thread before leave(), read after wait().
        final class Box: @unchecked Sendable { var data = Data() }
        let errors = Box()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errors.data = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        timer?.cancel()
        return ProcessOutcome(
            status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal,
            stdout: outData, stderr: errors.data)
    }
}
