import Foundation
import SbxCLI

/// The document of `sbx run --json-report` (specs/json-output.md): written with the
/// shared `JSONOutput.encoder()`, so its keys are snake_case and `/` is not escaped,
/// as in every other JSON output. The property names are the keys already.
public struct RunReport: Codable, Sendable {
    var program: String
    var arguments: [String]
    var policy: String
    var mode: String
    var action: String
    var exec: String
    var status: Int32
    var signal: Int32?
    var killed_by_monitor: Bool
    var violations: [ViolationReport]
    /// Log mode: threads that ended still lost after a deviation, each with the
    /// events that went unchecked (`unchecked_events`); empty when every
    /// thread resynchronised.
    var lost_threads: [LostThread]
    var utime_us: UInt64
    var stime_us: UInt64
    var wall_ns: UInt64
    var markers: UInt64?
    /// Violation records of the run's policy that were lost (log records only:
    /// a kill record is never dropped; ABI 3 modules report all policies').
    var records_dropped: UInt64
    /// Processes the program started that the monitor killed (the program itself
    /// is `killed_by_monitor`).
    var killed_descendants: [KilledProcess]

    struct LostThread: Codable, Sendable {
        var pid: UInt32
        var tid: UInt32
        var command: String
        var unchecked_events: UInt64
        /// The function(s) of the frame it was lost in.
        var functions: [String]
        /// Innermost first, as in a violation.
        var stack: [ViolationReport.Frame]
    }

    struct KilledProcess: Codable, Sendable {
        var pid: UInt32
        var command: String
    }

    /// The report of `outcome`, a run of `request`.
    public init(_ outcome: SandboxRun.Outcome, request: SandboxRun) {
        self.init(
            program: outcome.resolvedProgram, arguments: request.arguments, policy: outcome.policyPath,
            mode: request.mode.rawValue, action: request.action.rawValue, exec: request.exec.rawValue,
            status: outcome.exeMismatch
                ? ExitStatus.wrongPolicy.rawValue
                : outcome.killedByMonitor ? ExitStatus.violation.rawValue : outcome.programStatus,
            signal: outcome.signal, killed_by_monitor: outcome.killedByMonitor,
            violations: outcome.reports.filter { $0.uncheckedEvents == nil },
            lost_threads: outcome.reports.compactMap { r in
                r.uncheckedEvents.map {
                    LostThread(
                        pid: r.pid, tid: r.tid, command: r.command, unchecked_events: $0,
                        functions: r.functions, stack: r.stack)
                }
            },
            utime_us: outcome.userMicroseconds, stime_us: outcome.systemMicroseconds, wall_ns: outcome.wallNanoseconds,
            markers: outcome.markers, records_dropped: outcome.recordsDropped,
            killed_descendants: outcome.killedDescendants.map { KilledProcess(pid: $0.pid, command: $0.command) })
    }

    init(
        program: String, arguments: [String], policy: String, mode: String, action: String, exec: String,
        status: Int32, signal: Int32?, killed_by_monitor: Bool, violations: [ViolationReport],
        lost_threads: [LostThread], utime_us: UInt64, stime_us: UInt64, wall_ns: UInt64, markers: UInt64?,
        records_dropped: UInt64, killed_descendants: [KilledProcess]
    ) {
        self.program = program
        self.arguments = arguments
        self.policy = policy
        self.mode = mode
        self.action = action
        self.exec = exec
        self.status = status
        self.signal = signal
        self.killed_by_monitor = killed_by_monitor
        self.violations = violations
        self.lost_threads = lost_threads
        self.utime_us = utime_us
        self.stime_us = stime_us
        self.wall_ns = wall_ns
        self.markers = markers
        self.records_dropped = records_dropped
        self.killed_descendants = killed_descendants
    }

    /// The document, pretty-printed with sorted keys, ending in a newline.
    public func json() throws -> String {
        try JSONOutput.text(self)
    }
}
