import Dispatch
import Foundation
import SbxSystem

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

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
/// pipes at once (a chatty child never blocks on a full pipe) and bounds the run. It
/// spawns with `SbxSystem.Subprocess`, as the tools themselves do, so the tests run
/// their subjects the way the product runs its children.
public enum ProcessRunner {
    /// Runs `executable` with `arguments`. `environment` replaces the inherited one
    /// when given; `extraEnvironment` is added to whichever is used. A relative
    /// `executable` is found from this process's working directory, not from
    /// `directory`. `stdin` is written to the child and closed (nil: /dev/null). After
    /// `timeout` seconds the child is sent SIGTERM (it then ends as signaled).
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        extraEnvironment: [String: String] = [:], directory: URL? = nil, stdin: Data? = nil,
        timeout: Double? = nil
    ) throws -> ProcessOutcome {
        var subprocess = Subprocess([absolute(executable)] + arguments)
        if environment != nil || !extraEnvironment.isEmpty {
            subprocess.environment = (environment ?? ProcessInfo.processInfo.environment).merging(extraEnvironment) {
                $1
            }
        }
        subprocess.workingDirectory = directory?.path
        subprocess.stdin = stdin.map { .bytes(Array($0)) } ?? .null
        subprocess.stdout = .capture
        subprocess.stderr = .capture
        // The child starts with every signal's default action, whatever the test
        // process ignores or handles (Foundation.Process, used before, did the same).
        subprocess.defaultSignals = (1...31).filter { $0 != SIGKILL && $0 != SIGSTOP }
        let child = try subprocess.spawn()
        let guardian = TimeoutGuard(pid: child.pid)
        let timer = timeout.map { seconds in
            let item = DispatchWorkItem { guardian.terminate() }
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: item)
            return item
        }
        let (out, err) = try child.communicate()
        // The timer may only signal the pid while it is still ours: wait for the end
        // without reaping it (WNOWAIT), close the guard, then reap.
        guardian.closeAfterExit()
        timer?.cancel()
        let status = try child.wait()
        return ProcessOutcome(
            status: status.signal ?? status.shellStatus, signaled: status.signal != nil, stdout: Data(out),
            stderr: Data(err))
    }

    private static func absolute(_ path: String) -> String {
        guard !path.hasPrefix("/") else { return path }
        return FileManager.default.currentDirectoryPath + "/" + path
    }
}

/// Sends SIGTERM to a child until the child has ended: after that its pid may belong
/// to another process once reaped, so `closeAfterExit` waits for the end without
/// reaping (waitid with WNOWAIT) and closes the guard under the lock the timer takes.
private final class TimeoutGuard: @unchecked Sendable {
    private let pid: pid_t
    private let lock = NSLock()
    private var open = true

    init(pid: pid_t) { self.pid = pid }

    func terminate() {
        lock.lock()
        defer { lock.unlock() }
        if open { kill(pid, SIGTERM) }
    }

    func closeAfterExit() {
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR {}
        lock.lock()
        open = false
        lock.unlock()
    }
}
