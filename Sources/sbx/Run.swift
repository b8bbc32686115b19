import ArgumentParser
import Foundation
import SbxBlob
import SbxCLI
import SbxRun
#if canImport(Glibc)
import Glibc
#endif

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a program under its policy, enforced by the sbx_dyck kernel module.",
        discussion: """
            Loads the policy (by default PROG.dyck next to the program), checks that it \
            is the policy the program was built with (dyck-cc records its SHA-256 in the \
            executable), arms a child process bound to the program's inode through \
            /dev/sbx, and execs the program in it. If another file ends up being exec'd \
            the kernel kills it before its first instruction. Needs root (CAP_SYS_ADMIN) \
            and the module (insmod kmod/sbx_dyck.ko, or inside `sbx vm --module ...`).

            The program runs with PR_SET_NO_NEW_PRIVS: no setuid or setgid file, and no \
            file capability, raises its privileges or its children's. --cap-drop ALL (or \
            a list of capabilities) takes capabilities away from it, and --cap-add keeps \
            some of them, as bubblewrap's options do: a service started as root can run \
            without root's powers (it still owns root's files).

            With --action kill (the default) the first violation kills the program: a \
            report on stderr names the refused event (the libc function, or the call \
            site with file:line), the function it happened in, the stack of call sites, \
            and what the policy allowed next. With --action log (audit mode) the program \
            runs to its end and every deviation is reported: after one, the monitor \
            finds its place again at the next libc call the function may make somewhere \
            (in main too), or when the function returns. A thread that ends before \
            that is reported as "monitoring lost", with the number of events that went \
            unchecked (lost_threads in --json-report).

            --exec says what an exec by the program (or any process it forks) does: \
            registry (the default) runs an executable with an installed policy (sbx \
            policy install) under that policy and refuses any other file (the process \
            is killed before the new image runs, and the report names the file and the \
            libc function that execed); deny refuses every exec; unconfined runs an \
            installed executable under its policy and any other file without a policy, \
            but never privileged for /dev/sbx (nor its descendants). A failed exec \
            (ENOENT, EACCES) stays an error of the program. With --action log a refused \
            exec is reported and the file runs unconfined.

            Signals: SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to sbx \
            run (by kill(1) or a service manager) are passed on to the program; those the \
            terminal sends to its foreground process group (Ctrl-C, Ctrl-\\) reach the \
            program directly and are not passed on twice. If sbx run dies, the program \
            is killed (SIGKILL): it never runs on enforced with nobody to report.

            Exit status: the program's own, or 128+N when signal N ended it (also when \
            the monitor killed a process the program started: a note on stderr and \
            killed_descendants in the JSON name them); 100 the monitor killed the program \
            itself (policy violation); 101 the kernel module is not \
            loaded; 102 the policy is missing, unreadable or corrupt; 103 the program is \
            not instrumented (not built with dyck-cc); 104 not privileged; 105 the policy \
            is not the program's (or another file was exec'd or an installed one was \
            rebuilt); 126 the program cannot \
            be executed; 127 it was not found; 2 usage error; 3 the JSON report could \
            not be written; 4 another system error.

            The JSON report also has the program's CPU time (utime_us, stime_us, from \
            wait4), its wall time from fork to exit (wall_ns), and the markers the \
            module checked meanwhile (exact when no other sandboxed process ran).
            """
    )

    @Option(name: .long, help: "dyck (context-sensitive, the default) or nfa (context-insensitive).")
    var mode: String = "dyck"

    @Option(name: .long, help: "The policy file (default: PROG.dyck).")
    var policy: String?

    @Option(name: .long, help: "kill (default) or log (audit mode: record deviations, never kill).")
    var action: String = "kill"

    @Option(
        name: .long,
        help:
            "What the program's execs do: registry (default: an installed policy, else refused), deny, or unconfined (an installed policy, else no policy and never privileged)."
    )
    var exec: String = "registry"

    @Option(
        name: .customLong("json-report"),
        help:
            "Also write the outcome and every violation report as JSON here (- for stdout, after the program's own output); checked for writability before the program runs."
    )
    var jsonReport: String?

    @Option(
        name: .customLong("cap-drop"),
        help: ArgumentHelp(
            "Capabilities the program does not get: ALL, or names (CAP_CHOWN or chown), comma-separated.",
            valueName: "CAPS"))
    var capDrop: String?

    @Option(
        name: .customLong("cap-add"),
        help: ArgumentHelp(
            "Capabilities the program keeps after --cap-drop (of those sbx run has), comma-separated.",
            valueName: "CAPS"))
    var capAdd: String?

    @OptionGroup var bounds: StackBoundOptions

    @Option(name: .long, help: "The module's device.")
    var device: String = SandboxDevice.defaultPath

    @Argument(parsing: .captureForPassthrough, help: "-- PROG [ARGS...]")
    var command: [String] = []

    func run() throws {
        var argv = PassthroughTail.complete(command)
        // The passthrough argument would take `--help` for the program's name.
        if argv.first == "--help" || argv.first == "-h" { throw CleanExit.helpRequest(self) }
        if argv.first == "--" { argv.removeFirst() }
        guard let program = argv.first else {
            throw UsageError("missing the program: sbx run [OPTIONS] -- PROG [ARGS...]")
        }
        guard let blobMode = BlobMode(rawValue: mode) else {
            throw UsageError("--mode must be dyck or nfa, not '\(mode)'")
        }
        guard let enforcement = EnforcementAction(rawValue: action) else {
            throw UsageError("--action must be kill or log, not '\(action)'")
        }
        guard let transition = ExecTransition(rawValue: exec) else {
            throw UsageError("--exec must be registry, deny or unconfined, not '\(exec)'")
        }
        func capabilities(_ list: String?, option: String) throws -> CapabilitySet? {
            guard let list else { return nil }
            switch CapabilitySet.parse(list) {
            case .success(let set): return set
            case .failure(let error): throw UsageError("\(option): unknown capability '\(error.name)'")
            }
        }
        let kept = CapabilitySet.kept(
            drop: try capabilities(capDrop, option: "--cap-drop"),
            add: try capabilities(capAdd, option: "--cap-add"))
        // A report that cannot be written must not be found out after the run.
        if let jsonReport, jsonReport != "-" { try OutputFile.checkWritable(jsonReport) }
        let request = SandboxRun(
            program: program, arguments: Array(argv.dropFirst()), policyPath: policy,
            mode: blobMode, action: enforcement, exec: transition, devicePath: device,
            capabilities: kept,
            bounds: StackBounds(stackLimit: bounds.stackLimit, maxDepth: bounds.maxDepth))
        let outcome = try request.run()

        for report in outcome.reports { Diagnostics.printError(report.text) }
        let deviations = outcome.reports.filter { $0.uncheckedEvents == nil }
        if enforcement == .log && !deviations.isEmpty {
            Diagnostics.note(
                "audit: \(deviations.count) deviation\(deviations.count == 1 ? "" : "s") from \(outcome.policyPath) (--action log: nothing was killed)"
            )
        }
        let lost = outcome.reports.filter { $0.uncheckedEvents != nil }
        if !lost.isEmpty {
            let unchecked = lost.reduce(UInt64(0)) { $0 + ($1.uncheckedEvents ?? 0) }
            Diagnostics.warning(
                "audit: \(lost.count) thread\(lost.count == 1 ? "" : "s") never resynchronised after a deviation: \(unchecked) event\(unchecked == 1 ? "" : "s") went unchecked (see \"monitoring lost\" above)"
            )
        }
        if outcome.recordsDropped > 0 && outcome.recordsDroppedArePerPolicy {
            Diagnostics.warning(
                "\(outcome.recordsDropped) violation record\(outcome.recordsDropped == 1 ? " was" : "s were") dropped (the policy's queue was full or over its rate limit): the reports above are not all of them"
            )
        }
        let descendants = outcome.killedDescendants
        if !descendants.isEmpty {
            let named = descendants.map { "\($0.pid) (\($0.command))" }.joined(separator: ", ")
            Diagnostics.note(
                "the monitor killed \(descendants.count) process\(descendants.count == 1 ? "" : "es") the program started: \(named); the exit status is the program's own"
            )
        }
        if outcome.policyStillLoaded {
            Diagnostics.warning(
                "processes started by the program still use its policy (a daemon?): it stays loaded until the last of them exits, and their violations are not reported here; for a daemon, install its policy (sbx policy install) instead"
            )
        }
        if let jsonReport {
            let text = try RunReport(outcome, request: request).json()
            if jsonReport == "-" {
                fflush(nil)  // every stream: stdout is a C global Swift 6 will not read
                FileHandle.standardOutput.write(Data(text.utf8))
            } else {
                try OutputFile.write(text, to: jsonReport)
            }
        }
        let status: Int32
        if outcome.exeMismatch {
            Diagnostics.printError(
                "sbx: error: \(outcome.resolvedProgram): the file exec'd was not the program checked against \(outcome.policyPath); killed before it ran"
            )
            status = ExitStatus.wrongPolicy.rawValue
        } else if outcome.killedByMonitor {
            status = ExitStatus.violation.rawValue
        } else {
            status = outcome.programStatus
        }
        // Any status, which `CommandOutcome` (a fixed set) cannot carry.
        fflush(nil)  // every stream: stdout is a C global Swift 6 will not read
        Glibc.exit(status)
    }
}
