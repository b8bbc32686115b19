import ArgumentParser
import SbxCLI
import SbxRun
#if canImport(Glibc)
import Glibc
#endif

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the kernel module's state: ABI, enforced processes, counters.",
        discussion: """
            --json prints one JSON object instead (snake_case keys; specs/json-output.md), \
            also when the module is not loaded ({"loaded": false, ...}, status 101).

            Exit status: 0, or 101 when the module is not loaded (after saying so).
            """)

    @Option(name: .long, help: "The module's device.")
    var device: String = SandboxDevice.defaultPath

    @Flag(name: .long, help: "Print one JSON object (specs/json-output.md).")
    var json = false

    func run() throws {
        let handle: SandboxDevice
        do {
            handle = try SandboxDevice(path: device)
        } catch RunError.moduleNotLoaded {
            if json {
                print(try JSONOutput.text(NotLoaded(loaded: false, device: device)), terminator: "")
            } else {
                print("module: not loaded (no \(device))")
            }
            throw CommandOutcome(.moduleNotLoaded)
        }
        let s = try handle.status()
        let policies = try handle.policies()
        let threads = try handle.threads().sorted(by: { ($0.pid, $0.tid) < ($1.pid, $1.tid) })
        if json {
            print(
                try JSONOutput.text(Self.document(s, device: device, policies: policies, threads: threads)),
                terminator: "")
            return
        }
        print("module: loaded, ABI version \(s.abiVersion)")
        print("policies: \(s.policies) loaded (\(s.policyBytes) bytes), \(s.installed) installed for executables")
        print("threads: \(s.enforcedThreads) enforced, \(s.armedThreads) armed, \(s.unconfinedThreads) unconfined")
        print("markers: \(s.markers) checked")
        print(
            "violations: \(s.violations) (records waiting: \(s.recordsQueued) of \(s.ringSize), dropped: \(s.recordsDropped), allocation failures: \(s.allocationFailures))"
        )
        if s.killsDropped > 0 { print("kill records lost: \(s.killsDropped)") }
        if let policies, !policies.isEmpty {
            // Each policy has its own queue and rate limit: its drops are its own.
            print("")
            print("POLICY  MODE  USERS  VIOLATIONS  WAITING  KILLS  DROPPED  RATE-LIMITED")
            for p in policies {
                print(
                    pad("\(p.id)", 8) + pad(p.nfa ? "nfa" : "dyck", 6) + pad("\(p.users)", 7)
                        + pad("\(p.violations)", 12)
                        + pad("\(p.queued)", 9) + pad("\(p.queuedKills)", 7) + pad("\(p.dropped)", 9)
                        + "\(p.droppedByRate)")
            }
        }
        guard !threads.isEmpty else { return }
        print("")
        print("PID     TID     POLICY  MODE  ACTION  STATE     MARKERS     VIOLATIONS  PROGRAM")
        for t in threads {
            let (mode, action) = t.unconfined ? ("-", "-") : (t.mode, t.action)
            print(
                pad("\(t.pid)", 8) + pad("\(t.tid)", 8) + pad(t.unconfined ? "-" : "\(t.policyID)", 8) + pad(mode, 6)
                    + pad(action, 8)
                    + pad(Self.state(t), 10) + pad("\(t.markers)", 12) + pad("\(t.violations)", 12)
                    + Self.program(pid: t.pid, command: t.command) + (t.installed ? " (installed)" : ""))
        }
    }

    static func state(_ t: SandboxedThread) -> String {
        if t.killed { return "killed" }
        if t.lost { return "lost" }
        return t.armed ? "armed" : t.unconfined ? "unconfined" : "enforced"
    }

    static func program(pid: UInt32, command: String) -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/\(pid)/exe", &buffer, buffer.count - 1)
        return n > 0 ? String(decoding: buffer[..<Int(n)].map { UInt8(bitPattern: $0) }, as: UTF8.self) : command
    }

    // The JSON document (specs/json-output.md). Property names are camelCase and
    // printed snake_case by JSONOutput.

    struct NotLoaded: Encodable {
        var loaded: Bool
        var device: String
    }

    struct Document: Encodable {
        var loaded = true
        var device: String
        var abiVersion: UInt32
        var policiesLoaded: UInt32
        var policyBytes: UInt64
        var installed: UInt32
        var threadsEnforced: UInt32
        var threadsArmed: UInt32
        var threadsUnconfined: UInt32
        var markers: UInt64
        var violations: UInt64
        var recordsQueued: UInt32
        var queueSize: UInt32
        var recordsDropped: UInt64
        var killsDropped: UInt64
        var allocationFailures: UInt64
        /// nil before ABI 4 (no per-policy list).
        var policies: [Policy]?
        var threads: [Thread]
    }

    struct Policy: Encodable {
        var policy: UInt32
        var mode: String
        var size: UInt32
        var users: UInt32
        var violations: UInt64
        var recordsQueued: UInt32
        var killsQueued: UInt32
        var queueSize: UInt32
        var recordsDropped: UInt64
        var rateLimited: UInt64
        var killsDropped: UInt32
    }

    struct Thread: Encodable {
        var pid: UInt32
        var tid: UInt32
        /// nil for an unconfined thread (no policy).
        var policy: UInt32?
        var mode: String?
        var action: String?
        var state: String
        var markers: UInt64
        var violations: UInt32
        var program: String
        var command: String
        var installed: Bool
    }

    static func document(
        _ s: DeviceStatus, device: String, policies: [LoadedPolicy]?,
        threads: [SandboxedThread]
    ) -> Document {
        Document(
            device: device, abiVersion: s.abiVersion, policiesLoaded: s.policies, policyBytes: s.policyBytes,
            installed: s.installed, threadsEnforced: s.enforcedThreads, threadsArmed: s.armedThreads,
            threadsUnconfined: s.unconfinedThreads, markers: s.markers, violations: s.violations,
            recordsQueued: s.recordsQueued, queueSize: s.ringSize, recordsDropped: s.recordsDropped,
            killsDropped: s.killsDropped, allocationFailures: s.allocationFailures,
            policies: policies?.map {
                Policy(
                    policy: $0.id, mode: $0.nfa ? "nfa" : "dyck", size: $0.size, users: $0.users,
                    violations: $0.violations, recordsQueued: $0.queued, killsQueued: $0.queuedKills,
                    queueSize: $0.queueSize, recordsDropped: $0.dropped, rateLimited: $0.droppedByRate,
                    killsDropped: $0.killsDropped)
            },
            threads: threads.map {
                Thread(
                    pid: $0.pid, tid: $0.tid, policy: $0.unconfined ? nil : $0.policyID,
                    mode: $0.unconfined ? nil : $0.mode, action: $0.unconfined ? nil : $0.action,
                    state: state($0), markers: $0.markers, violations: $0.violations,
                    program: program(pid: $0.pid, command: $0.command), command: $0.command, installed: $0.installed)
            })
    }
}
