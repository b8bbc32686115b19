import ArgumentParser
import DyckModel
import SbxCLI

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the size and precision of a policy in each mode.",
        discussion: """
            For the dyck model and for its single-copy flattened NFA: states, edges, \
            call sites, and the average branching factor (ABF): over the positions a \
            run can reach, how many distinct libc calls the policy accepts next. A \
            lower ABF is a tighter policy. See specs/policy-format.md for the exact \
            definition.
            """
    )

    @Argument(help: "The policy file.")
    var policy: String

    func run() throws {
        let loaded = try Policy.load(path: policy)
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
    }

    private func formatABF(_ value: Double) -> String {
        let scaled = (value * 100).rounded()
        let whole = Int(scaled) / 100
        let fraction = Int(scaled) % 100
        return "\(whole).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
