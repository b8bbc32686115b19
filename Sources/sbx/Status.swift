import ArgumentParser
import SbxCLI
import SbxRun
#if canImport(Glibc)
import Glibc
#endif

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the kernel module's state: ABI, enforced processes, counters.",
        discussion: "Exit status: 0, or 101 when the module is not loaded (after saying so).")

    @Option(name: .long, help: "The module's device.")
    var device: String = SandboxDevice.defaultPath

    func run() throws {
        let handle: SandboxDevice
        do {
            handle = try SandboxDevice(path: device)
        } catch RunError.moduleNotLoaded {
            print("module: not loaded (no \(device))")
            throw CommandOutcome(.moduleNotLoaded)
        }
        let s = try handle.status()
        print("module: loaded, ABI version \(s.abiVersion)")
        print("policies: \(s.policies) loaded (\(s.policyBytes) bytes), \(s.installed) installed for executables")
        print("threads: \(s.enforcedThreads) enforced, \(s.armedThreads) armed, \(s.unconfinedThreads) unconfined")
        print("markers: \(s.markers) checked")
        print("violations: \(s.violations) (records waiting: \(s.recordsQueued) of \(s.ringSize), dropped: \(s.recordsDropped), allocation failures: \(s.allocationFailures))")
        if s.killsDropped > 0 { print("kill records lost: \(s.killsDropped)") }
        if let policies = try handle.policies(), !policies.isEmpty {
            // Each policy has its own queue and rate limit: its drops are its own.
            print("")
            print("POLICY  MODE  USERS  VIOLATIONS  WAITING  KILLS  DROPPED  RATE-LIMITED")
            for p in policies {
                print(pad("\(p.id)", 8) + pad(p.nfa ? "nfa" : "dyck", 6) + pad("\(p.users)", 7) + pad("\(p.violations)", 12)
                      + pad("\(p.queued)", 9) + pad("\(p.queuedKills)", 7) + pad("\(p.dropped)", 9) + "\(p.droppedByRate)")
            }
        }
        let threads = try handle.threads()
        guard !threads.isEmpty else { return }
        print("")
        print("PID     TID     POLICY  MODE  ACTION  STATE     MARKERS     VIOLATIONS  PROGRAM")
        for t in threads.sorted(by: { ($0.pid, $0.tid) < ($1.pid, $1.tid) }) {
            var state = t.armed ? "armed" : t.unconfined ? "unconfined" : "enforced"
            if t.killed { state = "killed" } else if t.lost { state = "lost" }
            let (mode, action) = t.unconfined ? ("-", "-") : (t.mode, t.action)
            print(pad("\(t.pid)", 8) + pad("\(t.tid)", 8) + pad(t.unconfined ? "-" : "\(t.policyID)", 8) + pad(mode, 6) + pad(action, 8)
                  + pad(state, 10) + pad("\(t.markers)", 12) + pad("\(t.violations)", 12)
                  + program(pid: t.pid, command: t.command) + (t.installed ? " (installed)" : ""))
        }
    }

    private func program(pid: UInt32, command: String) -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/\(pid)/exe", &buffer, buffer.count - 1)
        return n > 0 ? String(decoding: buffer[..<Int(n)].map { UInt8(bitPattern: $0) }, as: UTF8.self) : command
    }
}
