import ArgumentParser
import DyckModel
import SbxSystem
import Foundation
import SbxCLI
import SbxRun
import SbxTrace
#if canImport(Glibc)
import Glibc
#endif

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decide whether libc calls, or a recorded marker trace, are allowed by a policy.",
        discussion: """
            The events are libc function names, in the order the program would call \
            them. Call and return events are not written: in dyck mode the checker \
            finds matching calls and returns itself (context-free reachability); in \
            nfa mode the policy is first flattened into Wagner and Dean's single-copy \
            model, so returns may go to any caller.

            The sequence is allowed when it is a prefix of some run of the policy. \
            With --trace, checks a trace recorded by `sbx record` instead: every \
            marker, including calls and returns, thread by thread, with forks \
            continuing their parent's state and new threads starting at their start \
            routine (specs/marker-abi.md). Every recorded system call is checked \
            against its thread's window with the kernel's rules (the set of the libc \
            call announced last, or the start window, and the ambient set; \
            specs/checking.md), if the policy carries system-call sets. The policy must \
            be the one dyck-gen wrote for the traced program: a marker id the policy \
            does not have means another program's trace (status 2), unless the traced \
            program, still there, records this policy's digest (then it is a forged \
            marker, refused). A refusal names the \
            event (the system call and the window), the function, the call stack of \
            sites and what was allowed.

            Exit status: 0 allowed, 1 refused (the first refused event and what was \
            allowed there are printed), 2 bad input.
            """
    )

    @Argument(help: "The policy file (.dyck).")
    var policy: String

    @Option(help: "dyck: calls and returns must match; nfa: single-copy flattened model.")
    var mode: CheckMode = .dyck

    @Option(help: "A trace recorded by `sbx record`, checked instead of event names.")
    var trace: String?

    @Argument(parsing: .postTerminator, help: "libc call names, after --.")
    var events: [String] = []

    /// The event names, with those set aside before parsing (PassthroughTail).
    var allEvents: [String] { PassthroughTail.complete(events) }

    func validate() throws {
        if trace != nil && !allEvents.isEmpty {
            throw ValidationError("give either --trace or event names, not both")
        }
    }

    func run() throws {
        let loaded = try Policy.load(path: policy)
        if let trace {
            try checkTrace(loaded, path: trace)
            return
        }
        for (index, name) in allEvents.enumerated() where name.isEmpty || name.contains(where: \.isWhitespace) {
            throw UsageError("event \(index + 1) is not a function name: '\(name)'")
        }
        // The flattened model keeps the policy's symbol table.
        let model = loaded
        let ids = allEvents.map { model.symbolID(named: $0) }
        // nfa mode of a Dyck policy runs over the shared flattening, linear in the
        // policy, with the verdict `PolicyChecker` gives on `flattened()`.
        let verdict =
            mode == .nfa && loaded.kind == .dyck
            ? SharedFlatChecker(policy: loaded).check(ids) : PolicyChecker(policy: loaded).check(ids)
        guard let refused = verdict.refusedIndex else {
            print("allowed: \(allEvents.count) event\(allEvents.count == 1 ? "" : "s") (\(mode.rawValue) mode)")
            return
        }
        let name = allEvents[refused]
        var lines = ["refused: event \(refused + 1) '\(name)' (\(mode.rawValue) mode)"]
        if ids[refused] == nil {
            lines.append("  '\(name)' is not called anywhere in this policy")
        }
        lines.append("  after: " + (refused == 0 ? "(start of run)" : allEvents[..<refused].joined(separator: " ")))
        lines.append(
            "  in: " + (verdict.functions.isEmpty ? "(no function)" : verdict.functions.joined(separator: ", ")))
        let allowed = verdict.allowedNext.map { model.symbols[$0] }
        lines.append("  allowed here: " + (allowed.isEmpty ? "(no further libc call)" : allowed.joined(separator: " ")))
        print(lines.joined(separator: "\n"))
        throw CommandOutcome(.refused)
    }
}

extension Check {
    func checkTrace(_ loaded: Policy, path: String) throws {
        let recorded = try Trace.load(path: path)
        let checker = try TraceChecker(policy: loaded, mode: mode == .dyck ? .dyck : .nfa)
        let outcome = checker.check(recorded)
        for note in outcome.unchecked {
            Diagnostics.note("not checked after exec: \(note)")
        }
        guard let refusal = outcome.refusal else {
            let calls =
                outcome.systemCallsBound
                ? " and \(outcome.checkedSystemCalls) system call\(outcome.checkedSystemCalls == 1 ? "" : "s")" : ""
            print(
                "allowed: \(outcome.checkedMarkers) markers\(calls) in \(outcome.threads) thread\(outcome.threads == 1 ? "" : "s") "
                    + "of \(outcome.processes) process\(outcome.processes == 1 ? "" : "es") (\(mode.rawValue) mode)")
            if !outcome.systemCallsBound {
                print(Self.unboundNote(policyBinds: checker.bindsSystemCalls, trace: recorded))
            }
            return
        }
        // An id the policy does not have: a forged marker of this very program (a
        // refusal), or a trace of another program or build (bad input). The traced
        // program's recorded policy digest tells, while its file is there.
        if case .idOutOfRange = refusal.reason,
            Self.tracedProgramBuiltWith(policyPath: policy, trace: recorded) != true
        {
            throw TraceChecker.OtherProgram(
                trace: path, policy: policy,
                reason: "event \(refusal.eventIndex + 1) (\(refusal.event)) has an id the policy does not have")
        }
        print(refusal.report(mode: checker.mode, path: path))
        throw CommandOutcome(.refused)
    }

    /// Whether the traced program (the trace's first exec) records the digest of the
    /// policy at `policyPath` (dyck-cc's `.sbx_policy`); nil when that cannot be told
    /// (the file is gone or not instrumented). A derived policy (`sbx convert`) of the
    /// same program has other bytes, so a mismatch alone decides nothing.
    static func tracedProgramBuiltWith(policyPath: String, trace: Trace) -> Bool? {
        guard case .start(_, let program)? = trace.events.first(where: { if case .start = $0 { true } else { false } }),
            let policyBytes = try? Array(Data(contentsOf: URL(fileURLWithPath: policyPath)))
        else { return nil }
        let exe = program.description
        let fd = open(exe, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard let recorded = try? ExecutableBinding.recordedDigest(fd: fd, program: exe) else { return nil }
        return recorded == SHA256.hash(policyBytes)
    }
}

extension Check {
    /// Why the system calls of a trace were not checked against windows.
    static func unboundNote(policyBinds: Bool, trace: Trace) -> String {
        if !trace.recordsSystemCalls {
            return "system calls: not checked: the trace (version \(trace.version)) has no system calls; "
                + "record it again with this sbx"
        }
        return "system calls: not checked against windows: the policy has no system-call sets "
            + "(only io_uring and 32-bit system calls are refused)"
    }
}

enum CheckMode: String, ExpressibleByArgument, CaseIterable {
    case dyck
    case nfa
}
