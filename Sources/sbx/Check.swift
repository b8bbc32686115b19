import ArgumentParser
import DyckModel
import SbxCLI

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decide whether a sequence of libc calls is allowed by a policy.",
        discussion: """
            The events are libc function names, in the order the program would call \
            them. Call and return events are not written: in dyck mode the checker \
            finds matching calls and returns itself (context-free reachability); in \
            nfa mode the policy is first flattened into Wagner and Dean's single-copy \
            model, so returns may go to any caller.

            The sequence is allowed when it is a prefix of some run of the policy. \
            Exit status: 0 allowed, 1 refused (the first refused event and what was \
            allowed there are printed), 2 bad input.
            """
    )

    @Argument(help: "The policy file (.dyck).")
    var policy: String

    @Option(help: "dyck: calls and returns must match; nfa: single-copy flattened model.")
    var mode: CheckMode = .dyck

    @Argument(parsing: .postTerminator, help: "libc call names, after --.")
    var events: [String] = []

    func run() throws {
        let loaded = try Policy.load(path: policy)
        let model = mode == .dyck ? loaded : loaded.flattened()
        for (index, name) in events.enumerated() where name.isEmpty || name.contains(where: \.isWhitespace) {
            throw UsageError("event \(index + 1) is not a function name: '\(name)'")
        }
        let ids = events.map { model.symbolID(named: $0) }
        let verdict = PolicyChecker(policy: model).check(ids)
        guard let refused = verdict.refusedIndex else {
            print("allowed: \(events.count) event\(events.count == 1 ? "" : "s") (\(mode.rawValue) mode)")
            return
        }
        let name = events[refused]
        var lines = ["refused: event \(refused + 1) '\(name)' (\(mode.rawValue) mode)"]
        if ids[refused] == nil {
            lines.append("  '\(name)' is not called anywhere in this policy")
        }
        lines.append("  after: " + (refused == 0 ? "(start of run)" : events[..<refused].joined(separator: " ")))
        lines.append("  in: " + (verdict.functions.isEmpty ? "(no function)" : verdict.functions.joined(separator: ", ")))
        let allowed = verdict.allowedNext.map { model.symbols[$0] }
        lines.append("  allowed here: " + (allowed.isEmpty ? "(no further libc call)" : allowed.joined(separator: " ")))
        print(lines.joined(separator: "\n"))
        throw CommandOutcome(.refused)
    }
}

enum CheckMode: String, ExpressibleByArgument, CaseIterable {
    case dyck
    case nfa
}
