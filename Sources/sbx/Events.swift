import ArgumentParser
import SbxCLI
import SbxRun
#if canImport(Glibc)
import Glibc
#endif

struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the kernel's violation records: kills and audit-mode deviations.",
        discussion: """
            Reads the violation records that the sbx_dyck module keeps for each loaded \
            policy, including policies installed with `sbx policy install` that no `sbx \
            run` waits for, and prints each as `sbx run` reports it: the refused event, \
            the function it happened in with its source location, the call stack and \
            what the policy allowed. Each report is headed by the record's time, its \
            policy id and the executable.

            To explain a record, sbx events needs the policy file of the record's \
            policy: for an installed policy, the file given to `sbx policy install` (as \
            remembered in /run/sbx/installed) or else EXE.dyck; for a live process \
            (--all), EXE.dyck of its /proc/PID/exe. The file must still be the \
            executable's policy. When it is not known or not usable, the raw record \
            (reason and ids) is printed, with the reason.

            Reading takes the records: the kernel keeps each record until one reader \
            takes it, so two readers (two sbx events, or sbx events --all and an sbx \
            run) each see only part of them. Without --all only the policies of \
            installed executables are read (each with its own queue), so a running sbx \
            run keeps its records; --all reads every loaded policy's, and an sbx run \
            running meanwhile then misses the records of its program (and cannot tell \
            it was killed by the monitor). Records older than --since are taken too, \
            and not shown.

            --follow keeps reading (every --interval seconds) until SIGINT or SIGTERM, \
            then ends with status 0. --json prints one JSON object per line (keys: \
            time, time_ns, seq, policy, exe, policy_file, pid, tid, command, event, \
            event_kind, function, location, action (killed or logged), killed, \
            reason, reason_code, stack, stack_truncated, allowed, note). --journal also \
            sends each record to the systemd journal through journald's native \
            protocol, with the fields SBX_POLICY, SBX_EXE, SBX_EVENT, SBX_FUNCTION, \
            SBX_LOCATION, SBX_ACTION (and SBX_REASON, SBX_PID, SBX_TID, SBX_COMMAND, \
            SBX_SEQ, SBX_STACK, MESSAGE, PRIORITY 4 for a kill and 5 for a logged \
            deviation, SYSLOG_IDENTIFIER=sbx): `journalctl -t sbx SBX_FUNCTION=greet`. \
            The socket is /run/systemd/journal/socket, or $SBX_JOURNAL_SOCKET, or \
            --journal-socket; when it does not exist, a warning says so and records are \
            only printed.

            Exit status: 0; 2 bad usage; 4 the device failed; 101 the module is not \
            loaded; 104 not privileged (needs root or CAP_SYS_ADMIN).
            """)

    @Flag(name: .long, help: "Keep reading until SIGINT or SIGTERM.")
    var follow = false

    @Option(name: .long, help: "With --follow: seconds between reads.")
    var interval: Double = 0.5

    @Flag(name: .long, help: "One JSON object per line.")
    var json = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Show only records from this time on: N or Ns/Nm/Nh/Nd (that long ago), @EPOCH-SECONDS, or an ISO 8601 date "
                + "(2026-12-07T04:30:00Z; without a zone, local time).",
            valueName: "time"))
    var since: String?

    @Flag(name: .long, help: "Also send each record to the systemd journal (structured SBX_* fields).")
    var journal = false

    @Option(name: .long, help: "The journal's socket (default: $SBX_JOURNAL_SOCKET, else /run/systemd/journal/socket).")
    var journalSocket: String?

    @Flag(name: .long, help: "Read every loaded policy's records, those of running sbx runs too (they then miss them).")
    var all = false

    @Option(name: .long, help: "The module's device.")
    var device: String = SandboxDevice.defaultPath

    func run() throws {
        guard interval > 0, interval <= 3600 else { throw UsageError("--interval must be between 0 and 3600 seconds") }
        var sinceTime: Int64?
        if let since {
            guard let t = parseSinceTime(since, now: Self.now()) else {
                throw UsageError(
                    "--since '\(since)': give seconds (300, 5m, 2h, 1d), @EPOCH-SECONDS or an ISO date "
                        + "(2026-12-07T04:30:00Z)")
            }
            sinceTime = t
        }
        var socketPath: String?
        if journal {
            let path =
                journalSocket ?? getenv("SBX_JOURNAL_SOCKET").map { String(cString: $0) }
                ?? JournalProtocol.defaultSocket
            if access(path, F_OK) == 0 {
                socketPath = path
            } else {
                Diagnostics.warning("--journal: no journal socket at \(path); records are only printed")
            }
        }
        // Blocked, and taken by sigtimedwait between reads: the loop ends cleanly
        // after the records read so far were printed (and journaled).
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        if follow { sigprocmask(SIG_BLOCK, &signals, nil) }

        let reader = EventReader(device: try SandboxDevice(path: device), all: all)
        var journalWarned = false
        while true {
            let (events, lost) = try reader.read()
            for (policy, dropped) in lost {
                Diagnostics.note(
                    policy == 0
                        ? "\(dropped) records lost in all (log records: queue full or rate limited)"
                        : "policy \(policy): \(dropped) records lost (log records: queue full or rate limited)")
            }
            for event in events where sinceTime.map({ event.time >= $0 }) ?? true {
                print(json ? event.jsonLine : event.text, terminator: json ? "\n" : "")
                if !json { print("") }
                if let socketPath, let code = JournalProtocol.send(event.journalFields, socketPath: socketPath),
                    !journalWarned
                {
                    journalWarned = true
                    Diagnostics.warning("--journal: sending to \(socketPath): \(String(cString: strerror(code)))")
                }
            }
            fflush(nil)  // every stream: stdout is a C global Swift 6 will not read
            guard follow else { return }
            var wait = timespec(tv_sec: Int(interval), tv_nsec: Int((interval - interval.rounded(.down)) * 1e9))
            var info = siginfo_t()
            let got = sigtimedwait(&signals, &info, &wait)
            if got == SIGINT || got == SIGTERM { return }
        }
    }

    static func now() -> Int64 {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
    }
}
