import ArgumentParser
import DyckModel
import SbxCLI

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a policy between the Dyck model and a flattened NFA.",
        discussion: """
            --to nfa flattens a Dyck policy into Wagner and Dean's single-copy \
            callgraph model: one copy of each function, returns to any caller. With \
            --inline-budget N, each call site gets its own copy of its callee while the \
            machine stays within N states; recursion and an exhausted budget fall back \
            to the single shared copy. The result has one function per root (the entry \
            and each callback) and no call sites.

            --to dyck turns a flattened NFA policy back into a Dyck policy with the \
            same one-function-per-root automata, which the Dyck monitor can load.
            """
    )

    @Argument(help: "The policy file to convert.")
    var policy: String

    @Option(help: "Target model: nfa or dyck.")
    var to: CheckMode

    @Option(name: .shortAndLong, help: "Where to write the converted policy.")
    var output: String

    @Option(help: "Inline callees per call site, up to this many states per root (nfa only).")
    var inlineBudget: Int?

    func validate() throws {
        if let budget = inlineBudget, budget < 1 {
            throw ValidationError("--inline-budget must be at least 1")
        }
    }

    func run() throws {
        let input = try Policy.load(path: policy)
        var result: Policy
        switch (to, input.kind) {
        case (.nfa, .dyck):
            result = input.flattened(options: FlattenOptions(inlineBudget: inlineBudget))
        case (.dyck, .nfa):
            if inlineBudget != nil { throw UsageError("--inline-budget applies only to --to nfa") }
            result = input
            result.kind = .dyck
        case (.nfa, .nfa), (.dyck, .dyck):
            if inlineBudget != nil {
                throw UsageError("\(policy) is already a \(to.rawValue) policy; --inline-budget has nothing to inline")
            }
            Diagnostics.note("\(policy) is already a \(to.rawValue) policy; copied unchanged")
            result = input
        }
        try result.validate()
        try result.write(to: output)
        let states = result.functions.reduce(0) { $0 + $1.automaton.stateCount }
        let edges = result.functions.reduce(0) { $0 + $1.automaton.edges.count }
        Diagnostics.note(
            "wrote \(output) (\(result.kind.rawValue): \(result.functions.count) function\(result.functions.count == 1 ? "" : "s"), \(states) states, \(edges) edges)"
        )
    }
}
