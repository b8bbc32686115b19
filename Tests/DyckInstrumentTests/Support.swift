import TestSupport
import DyckAnalysis
import DyckInstrument
import DyckModel
import Foundation
import XCTest

/// Compiling, instrumenting, running and tracing test programs.
enum Lab {
    static let programs: URL = {
        if let url = Bundle.module.url(forResource: "Programs", withExtension: nil) { return url }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Programs")
    }()

    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let work: URL = {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("dyck-instrument-tests-\(getpid())-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    static func tool(_ candidates: [String]) -> String? {
        candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func clang() throws -> String {
        guard let path = tool(["/usr/bin/clang-19", "/usr/lib/llvm-19/bin/clang"]) else {
            throw XCTSkip("clang-19 is not installed")
        }
        return path
    }

    static var strace: String? { tool(["/usr/bin/strace", "/bin/strace"]) }

    struct Output: Equatable, CustomStringConvertible {
        var status: Int32
        var signaled: Bool
        var stdout: String
        var stderr: String

        var description: String {
            "status \(status)\(signaled ? " (signal)" : "")\n--- stdout\n\(stdout)--- stderr\n\(stderr)"
        }
    }

    /// Runs a program to its end (killed after `timeout` seconds) and captures it.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], timeout: Double = 60) throws -> Output {
        let outcome = try ProcessRunner.run(executable, arguments, timeout: timeout)
        return Output(
            status: outcome.status, signaled: outcome.signaled, stdout: outcome.stdoutText, stderr: outcome.stderrText)
    }

    /// Runs a build tool and fails with its message unless it succeeds.
    static func build(_ tool: String, _ arguments: [String]) throws {
        let output = try run(tool, arguments, timeout: 300)
        guard output.status == 0, !output.signaled else {
            throw Failure("\(tool) \(arguments.joined(separator: " ")) failed: \(output.stderr)")
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    static func source(_ name: String) -> String { programs.appendingPathComponent(name + ".c").path }

    static func tag(_ flags: [String]) -> String { flags.joined().replacingOccurrences(of: "-", with: "") }

    /// `name`.c compiled to textual IR with `flags`.
    static func compileIR(_ name: String, flags: [String]) throws -> String {
        let path = work.appendingPathComponent("\(name)-\(tag(flags)).ll").path
        try build(try clang(), flags + ["-S", "-emit-llvm", "-o", path, source(name)])
        return path
    }

    /// Writes IR text to a file in the work directory.
    static func write(_ text: String, to name: String) throws -> String {
        let path = work.appendingPathComponent(name).path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    struct Instrumented {
        var policy: Policy
        var report: InstrumentReport
        var path: String
        var text: String
    }

    /// Analyses and instruments the IR at `path`, writing `<path>.inst.ll`. The test
    /// programs use string functions (strcmp, strlen, ...) as their cheapest libc
    /// calls, so by default every libc call is an event; `.effectful` is the
    /// analysis's own default.
    static func instrumentFile(_ path: String, libcEvents: LibcEventSelection = .all) throws -> Instrumented {
        let module = try IRModule(contentsOf: path)
        let analysis = try analyzeModule(module, options: AnalysisOptions(libcEvents: libcEvents))
        let report = try instrument(module, analysis: analysis)
        let output = path.replacingOccurrences(of: ".ll", with: ".inst.ll")
        try module.writeText(to: output)
        let text = try String(contentsOfFile: output, encoding: .utf8)
        return Instrumented(policy: analysis.result.policy, report: report, path: output, text: text)
    }

    /// Compiles IR or C to an executable.
    static func link(_ input: String, flags: [String], output: String) throws -> String {
        let path = work.appendingPathComponent(output).path
        try build(try clang(), flags + [input, "-o", path, "-lpthread"])
        return path
    }

    // MARK: Traces

    enum TraceEvent {
        case marker(kind: UInt64, id: Int)
        case spawn(pid: Int, thread: Bool)
    }

    typealias Trace = (root: Int, events: [Int: [TraceEvent]])

    static func marker(_ event: TraceEvent) -> (kind: MarkerKind, id: Int)? {
        guard case let .marker(raw, id) = event, let kind = MarkerKind(rawValue: Int(raw)) else { return nil }
        return (kind, id)
    }

    static func isMarker(_ event: TraceEvent, _ kind: MarkerKind) -> Bool { marker(event)?.kind == kind }

    /// The marker and clone events of every thread and process of a run, by id, and the
    /// id of the first process. Markers are system call 999, which strace cannot filter
    /// by name but always shows as `syscall_0x3e7(kind, id, ...)`.
    static func trace(_ executable: String, _ arguments: [String]) throws -> (root: Int, events: [Int: [TraceEvent]]) {
        guard let strace else { throw XCTSkip("strace is not installed (apt-get install strace)") }
        let directory = work.appendingPathComponent("trace-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let prefix = directory.appendingPathComponent("t").path
        let output = try run(
            strace, ["-ff", "-qq", "-o", prefix, "-e", "trace=execve,clone,clone3,fork,vfork", executable] + arguments)
        if output.stderr.contains("ptrace") && output.stderr.contains("Operation not permitted") {
            throw XCTSkip("ptrace is not permitted here: \(output.stderr)")
        }
        var events: [Int: [TraceEvent]] = [:]
        var root: Int?
        for file in try FileManager.default.contentsOfDirectory(atPath: directory.path) {
            guard let pid = Int(file.split(separator: ".").last ?? "") else { continue }
            let text = try String(contentsOfFile: directory.appendingPathComponent(file).path, encoding: .utf8)
            var list: [TraceEvent] = []
            for line in text.split(separator: "\n") {
                if line.hasPrefix("execve(") { root = pid }
                if line.hasPrefix("syscall_0x3e7(") {
                    let arguments = line.dropFirst("syscall_0x3e7(".count).split(separator: ",").prefix(2)
                        .map { $0.trimmingCharacters(in: .whitespaces) }
                    guard arguments.count == 2, let kind = hex(arguments[0]), let id = hex(arguments[1]) else {
                        throw Failure("unreadable marker line: \(line)")
                    }
                    list.append(.marker(kind: kind, id: Int(id)))
                } else if line.hasPrefix("clone") || line.hasPrefix("fork") || line.hasPrefix("vfork") {
                    guard let equals = line.range(of: " = ", options: .backwards),
                        let child = Int(line[equals.upperBound...].prefix { $0.isNumber }), child > 0
                    else { continue }
                    list.append(.spawn(pid: child, thread: line.contains("CLONE_THREAD")))
                }
            }
            events[pid] = list
        }
        guard let root else { throw Failure("no execve in the trace") }
        return (root, events)
    }

    private static func hex(_ text: String) -> UInt64? {
        text.hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
    }

    struct Replay {
        var violations: [String] = []
        var kinds: [MarkerKind: Int] = [:]
        var threads = 0
    }

    /// Replays every thread of a trace through the monitor, each starting where the
    /// spec says: the process at exec, a forked child with its parent's state at the
    /// fork, a new thread with an empty root frame.
    static func replay(_ trace: (root: Int, events: [Int: [TraceEvent]]), policy: Policy) -> Replay {
        let monitor = ReplayMonitor(policy: policy)
        var result = Replay()
        func follow(_ pid: Int, _ start: ReplayMonitor.Thread) {
            result.threads += 1
            var thread = start
            var stopped = false
            for (index, event) in (trace.events[pid] ?? []).enumerated() {
                switch event {
                case let .marker(kind, id):
                    if let k = MarkerKind(rawValue: Int(kind)) { result.kinds[k, default: 0] += 1 }
                    guard !stopped else { continue }
                    if let violation = monitor.step(&thread, kind: kind, id: id) {
                        result.violations.append("thread \(pid), marker \(index) (\(kind), \(id)): \(violation)")
                        stopped = true
                    }
                case let .spawn(child, isThread):
                    follow(child, isThread ? monitor.newThread : thread)
                }
            }
        }
        follow(trace.root, monitor.start)
        return result
    }
}
