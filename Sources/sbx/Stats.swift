import ArgumentParser
import DyckModel
import SbxCLI
import SbxTrace

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the size and precision of a policy in each mode.",
        discussion: """
            For the dyck model and for its single-copy flattened NFA: states, edges, \
            call sites, and the static average branching factor (ABF): over the \
            positions of each model's automata, how many distinct libc calls the \
            policy accepts next. A lower ABF is a tighter policy. The two static \
            figures average over different sets of positions, so they are not \
            comparable with each other.

            With --trace (repeatable; a dyck policy and traces recorded by `sbx \
            record` from the program it was made for), also the run-based ABF: each \
            trace is replayed as `sbx check --trace` does, in both modes, and at the \
            start of each thread and after each of its libc markers the number of \
            distinct libc calls the monitor would accept next is counted. The line \
            `run-abf: traces=N positions=P dyck=D nfa=F` gives the means over all \
            positions of all traces; both modes are measured at the same positions, \
            so D and F compare (D <= F). See specs/checking.md for the exact \
            definitions.

            Exit status: 0, 1 if a trace leaves the policy in either mode (the refused \
            event is printed as by `sbx check`), 2 bad input.
            """
    )

    @Argument(help: "The policy file.")
    var policy: String

    @Option(name: .customLong("trace"), help: "A trace recorded by `sbx record` to measure the run-based ABF on (repeatable).")
    var traces: [String] = []

    func run() throws {
        let loaded = try Policy.load(path: policy)
        guard traces.isEmpty || loaded.kind == .dyck else {
            throw UsageError("--trace needs the policy dyck-gen wrote (kind dyck), whose ids the markers carry")
        }
        var rows: [(String, Policy)] = []
        switch loaded.kind {
        case .dyck: rows = [("dyck", loaded), ("nfa", loaded.flattened())]
        case .nfa: rows = [("nfa", loaded)]
        }
        print("policy: \(policy) (\(loaded.module.isEmpty ? "unknown module" : loaded.module))")
        print("functions: \(loaded.functions.count)  libc symbols: \(loaded.symbols.count)  callbacks: \(loaded.callbacks.count)")
        let header = ["mode", "states", "edges", "call-sites", "abf"]
        var table = [header]
        for (name, model) in rows {
            let states = model.functions.reduce(0) { $0 + $1.automaton.stateCount }
            let edges = model.functions.reduce(0) { $0 + $1.automaton.edges.count }
            let abf = model.branchingFactor()
            table.append([name, "\(states)", "\(edges)", "\(model.sites.count)", formatABF(abf.average)])
        }
        let widths = header.indices.map { column in table.map { $0[column].count }.max() ?? 0 }
        for row in table {
            let cells = row.enumerated().map { column, cell in
                column == 0 ? cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[column] - cell.count) + cell
            }
            print(cells.joined(separator: "  "))
        }
        if !traces.isEmpty { try runBased(loaded, flattened: rows.first { $0.0 == "nfa" }?.1) }
    }

    /// The run-based ABF over `traces`; `flattened` is `loaded.flattened()`.
    private func runBased(_ loaded: Policy, flattened: Policy?) throws {
        let measure = try TraceBranchingFactor(policy: loaded, flattened: flattened)
        var total = TraceBranchingFactor.Measurement()
        for path in traces {
            let measured = measure.measure(try Trace.load(path: path))
            for note in measured.unchecked {
                Diagnostics.note("\(path): not measured after exec: \(note)")
            }
            if let (mode, refusal) = measured.refusal {
                print(refusal.report(mode: mode, path: path))
                Diagnostics.note("error: no run-based ABF: \(path) leaves the policy in \(mode.rawValue) mode")
                throw CommandOutcome(.refused)
            }
            total.add(measured)
        }
        if total.dyckAboveNFA > 0 {
            Diagnostics.warning("\(total.dyckAboveNFA) positions have a larger next set in dyck than in nfa mode (a bug)")
        }
        print("run-abf: traces=\(traces.count) positions=\(total.positions) "
            + "dyck=\(formatABF(total.dyckAverage)) nfa=\(formatABF(total.nfaAverage))")
    }

    private func formatABF(_ value: Double) -> String {
        let scaled = (value * 100).rounded()
        let whole = Int(scaled) / 100
        let fraction = Int(scaled) % 100
        return "\(whole).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
