import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The driver's private temporary directory, and the temporary files it writes next to
/// outputs before renaming them into place. Everything is removed when the driver ends,
/// also when it is interrupted (SIGINT, SIGTERM, SIGHUP): a build never sees a
/// half-written output or a stray temporary file.
public final class Temporaries {
    public let directory: String
    private var counter = 0

    /// Creates `dyck-cc.XXXXXX` under `$TMPDIR` (or /tmp), readable only by the user.
    public init() throws {
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(base)/dyck-cc.XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else {
            throw DriverError.temporary(path: "\(base)/dyck-cc.XXXXXX", reason: String(cString: strerror(errno)))
        }
        directory = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        Temporaries.register(directory)
    }

    /// A fresh path inside the private directory whose name ends with `name`.
    public func newPath(_ name: String) throws -> String {
        counter += 1
        let safe = name.split(separator: "/").last.map(String.init) ?? "file"
        return "\(directory)/\(counter)-\(safe)"
    }

    /// Removes the directory and everything in it.
    public func remove() {
        Temporaries.unregister(directory)
        Temporaries.removeTree(directory)
    }

    /// A temporary name next to `path`, in the same directory so that the final
    /// `rename` is atomic. Registered for removal until `commit` or `discard`.
    static func sibling(of path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        let name = ".\(url.lastPathComponent).dyck-cc-\(getpid())-\(nextSibling()).tmp"
        let sibling = dir == "/" ? "/\(name)" : "\(dir)/\(name)"
        register(sibling)
        return sibling
    }

    /// Moves a finished temporary file over its destination.
    static func commit(_ temporary: String, to path: String) throws {
        defer { unregister(temporary) }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw DriverError.output(path: path, reason: reason)
        }
    }

    /// Marks a finished output that is not yet complete for `dyck-cc` (an object
    /// whose bitcode is still to be added): an interruption removes it, so that make
    /// never takes an object without bitcode for up to date.
    static func guardOutput(_ path: String) {
        register(path)
    }

    static func releaseOutput(_ path: String) {
        unregister(path)
    }

    static func discard(_ temporary: String) {
        unlink(temporary)
        unregister(temporary)
    }

    // MARK: Process-wide bookkeeping, shared with the signal handler.

    private static let lock = NSLock()
    nonisolated(unsafe) private static var paths: [String] = []
    nonisolated(unsafe) private static var siblingCounter = 0
    nonisolated(unsafe) private static var child: pid_t = 0
    nonisolated(unsafe) private static var signalSources: [DispatchSourceSignal] = []

    private static func nextSibling() -> Int {
        lock.lock(); defer { lock.unlock() }
        siblingCounter += 1
        return siblingCounter
    }

    private static func register(_ path: String) {
        lock.lock(); defer { lock.unlock() }
        paths.append(path)
    }

    private static func unregister(_ path: String) {
        lock.lock(); defer { lock.unlock() }
        paths.removeAll { $0 == path }
    }

    static func childStarted(_ pid: pid_t) {
        lock.lock(); defer { lock.unlock() }
        child = pid
    }

    static func childEnded() {
        lock.lock(); defer { lock.unlock() }
        child = 0
    }

    /// Removes every registered path; called at exit and on a fatal signal.
    public static func removeAll() {
        lock.lock()
        let all = paths
        paths.removeAll()
        lock.unlock()
        for path in all.reversed() { removeTree(path) }
    }

    static func removeTree(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            try? FileManager.default.removeItem(atPath: path)
        } else {
            unlink(path)
        }
    }

    /// On SIGINT, SIGTERM or SIGHUP: pass the signal to the running child (it may not
    /// have received it, e.g. from `kill`), remove the temporaries, and die of the same
    /// signal so that make and shells see the usual cause of death.
    static let handledSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    public static func installSignalHandlers() {
        for sig in handledSignals {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                lock.lock()
                let pid = child
                lock.unlock()
                if pid > 0 { kill(pid, sig) }
                removeAll()
                signal(sig, SIG_DFL)
                raise(sig)
            }
            source.resume()
            signalSources.append(source)
        }
    }
}
