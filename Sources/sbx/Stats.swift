import ArgumentParser
import DyckModel
import SbxBlob
import SbxCLI
import SbxTrace

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the size and precision of a policy in each mode.",
        discussion: """
            For the dyck model and for nfa mode's machine: states, edges, call sites, \
            and the static average branching factor (ABF): over the positions of each \
            model, how many distinct libc calls the policy accepts next. A lower ABF \
            is a tighter policy. The `nfa-machine` row of a dyck policy is the \
            machine `sbx blob --mode nfa` builds and the kernel steps (over the \
            single-copy flattened NFA, shared by all roots): its macro-states and \
            transitions, and its ABF over the macro-states a run can reach. (It \
            replaced a row summed over one reduced automaton per root, which cost \
            roots x program.) A policy of kind nfa has an `nfa` row: its own \
            automata. The two static figures average over different sets of \
            positions, so they are not comparable with each other.

            With --trace (repeatable; a dyck policy and traces recorded by `sbx \
            record` from the program it was made for), also the run-based ABF: each \
            trace is replayed as `sbx check --trace` does, in both modes, and at the \
            start of each thread and after each of its libc markers the number of \
            distinct libc calls the monitor would accept next is counted. The line \
            `run-abf: traces=N positions=P dyck=D nfa=F floor=L` gives the means over all \
            positions of all traces; both modes are measured at the same positions, \
            so D and F compare (D <= F). `floor=L` is the same measure for a monitor \
            that allowed exactly the recorded runs: the share of positions after \
            which the thread made another libc call. See specs/checking.md for the exact \
            definitions.

            With --places N, also the N places whose positions add the most to the \
            dyck run-based sum, a place being the function the dyck monitor is in and \
            the libc call just made there (or the start of a thread): its positions, \
            its share of the dyck sum, and the mean next-set size there in each mode.

            --json prints one JSON object instead of the tables (snake_case keys; \
            specs/json-output.md); a refused trace is then reported on stderr only.

            Exit status: 0, 1 if a trace leaves the policy in either mode (the refused \
            event is printed as by `sbx check`), 2 bad input.
            """
    )

    @Argument(help: "The policy file.")
    var policy: String

    @Option(
        name: .customLong("trace"),
        help: "A trace recorded by `sbx record` to measure the run-based ABF on (repeatable).")
    var traces: [String] = []

    @Option(
        name: .customLong("places"),
        help: ArgumentHelp(
            "With --trace: also list the N places (function and libc call just made) that add most to the dyck run-based ABF.",
            valueName: "N"))
    var places: Int?

    @Flag(name: .long, help: "Print one JSON object (specs/json-output.md).")
    var json = false

    func validate() throws {
        if let places, places < 1 { throw ValidationError("--places must be at least 1") }
        if places != nil, traces.isEmpty { throw ValidationError("--places needs --trace") }
    }

    func run() throws {
        let loaded = try Policy.load(path: policy)
        guard traces.isEmpty || loaded.kind == .dyck else {
            throw UsageError("--trace needs the policy dyck-gen wrote (kind dyck), whose ids the markers carry")
        }
        // Read every trace before printing anything: a bad one is an error, not a
        // table followed by an error.
        let recorded = try traces.map { (path: $0, trace: try Trace.load(path: $0)) }
        // The nfa row of a Dyck policy is the kernel's nfa machine (`MachineFigures`),
        // built once for all roots and linearly in the policy; the per-root reduced
        // sizes it replaced cost roots x component (SQLite's shell: over 240 s).
        var rows: [(name: String, states: Int, edges: Int, sites: Int, factor: BranchingFactor)] = []
        switch loaded.kind {
        case .dyck:
            let dyck = SharedFlatSizes(unflattened: loaded)
            let machine = MachineFigures(try MacroMachine(policy: loaded, mode: .nfa))
            rows = [
                ("dyck", dyck.states, dyck.edges, loaded.sites.count, dyck.branchingFactor),
                ("nfa-machine", machine.states, machine.edges, 0, machine.branchingFactor)
            ]
        case .nfa:
            let nfa = SharedFlatSizes(unflattened: loaded)
            rows = [("nfa", nfa.states, nfa.edges, 0, nfa.branchingFactor)]
        }
        var document = JSONStats(
            policy: policy, module: loaded.module.isEmpty ? nil : loaded.module,
            kind: loaded.kind == .dyck ? "dyck" : "nfa", functions: loaded.functions.count,
            libcSymbols: loaded.symbols.count, callbacks: loaded.callbacks.count, modes: [])
        let header = ["mode", "states", "edges", "call-sites", "static-abf"]
        var table = [header]
        for row in rows {
            let average = row.factor.average
            table.append([row.name, "\(row.states)", "\(row.edges)", "\(row.sites)", formatABF(average)])
            document.modes.append(
                JSONStats.Mode(
                    mode: row.name, states: row.states, edges: row.edges, callSites: row.sites, staticAbf: average))
        }
        if json {
            if !recorded.isEmpty {
                try runBased(loaded, recorded: recorded, into: &document)
            }
            print(try JSONOutput.text(document), terminator: "")
            return
        }
        print("policy: \(policy) (\(loaded.module.isEmpty ? "unknown module" : loaded.module))")
        print(
            "functions: \(loaded.functions.count)  libc symbols: \(loaded.symbols.count)  callbacks: \(loaded.callbacks.count)"
        )
        let widths = header.indices.map { column in table.map { $0[column].count }.max() ?? 0 }
        for row in table {
            let cells = row.enumerated().map { column, cell in
                column == 0
                    ? cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                    : pad(cell, widths[column])
            }
            print(cells.joined(separator: "  "))
        }
        if rows.count > 1 {
            print(
                "static-abf: each model's own mean, not comparable between modes (nfa-machine: over the "
                    + "macro-states of the kernel's nfa machine); --trace measures both modes at the same points "
                    + "of real runs")
        }
        if !recorded.isEmpty {
            try runBased(loaded, recorded: recorded, into: &document)
        }
    }

    /// `sbx stats --json` (specs/json-output.md); keys printed snake_case.
    struct JSONStats: Encodable {
        struct Mode: Encodable {
            var mode: String
            var states: Int
            var edges: Int
            var callSites: Int
            var staticAbf: Double
        }
        struct RunABF: Encodable {
            var traces: Int
            var positions: Int
            var dyck: Double
            var nfa: Double
            var floor: Double
        }
        struct Place: Encodable {
            var function: String
            /// The libc call just made, nil at a thread's start.
            var after: String?
            var positions: Int
            var share: Double
            var dyck: Double
            var nfa: Double
        }
        var policy: String
        var module: String?
        var kind: String
        var functions: Int
        var libcSymbols: Int
        var callbacks: Int
        var modes: [Mode]
        var runAbf: RunABF?
        /// With --places: the places adding most to the dyck run-based sum, largest first.
        var places: [Place]?
        /// With --places: how many places there are in all.
        var placesTotal: Int?
    }

    /// The run-based ABF over `traces`.
    private func runBased(
        _ loaded: Policy, recorded: [(path: String, trace: Trace)], into document: inout JSONStats
    ) throws {
        let measure = try TraceBranchingFactor(policy: loaded)
        var total = TraceBranchingFactor.Measurement()
        for (path, trace) in recorded {
            let measured = measure.measure(trace, byPlace: places != nil)
            for note in measured.unchecked {
                Diagnostics.note("\(path): not measured after exec: \(note)")
            }
            if let (mode, refusal) = measured.refusal {
                // With --json, stdout holds JSON only: the refusal goes to stderr.
                if json {
                    Diagnostics.printError(refusal.report(mode: mode, path: path))
                } else {
                    print(refusal.report(mode: mode, path: path))
                }
                Diagnostics.note("error: no run-based ABF: \(path) leaves the policy in \(mode.rawValue) mode")
                throw CommandOutcome(.refused)
            }
            total.add(measured)
        }
        if total.dyckAboveNFA > 0 {
            Diagnostics.warning(
                "\(total.dyckAboveNFA) positions have a larger next set in dyck than in nfa mode (a bug)")
        }
        document.runAbf = JSONStats.RunABF(
            traces: traces.count, positions: total.positions, dyck: total.dyckAverage,
            nfa: total.nfaAverage, floor: total.floorAverage)
        if json {
            if let places { jsonPlaces(total, limit: places, policy: loaded, into: &document) }
            return
        }
        print(
            "run-abf: traces=\(traces.count) positions=\(total.positions) "
                + "dyck=\(formatABF(total.dyckAverage)) nfa=\(formatABF(total.nfaAverage)) "
                + "floor=\(formatABF(total.floorAverage))")
        if let places { printPlaces(total, limit: places, policy: loaded) }
    }

    private func ranked(_ total: TraceBranchingFactor.Measurement)
        -> [(key: TraceBranchingFactor.Place, value: TraceBranchingFactor.PlaceSums)]
    {
        total.places.sorted {
            ($0.value.dyckSum, $1.key.function, $1.key.libc ?? -1) > (
                $1.value.dyckSum, $0.key.function, $0.key.libc ?? -1
            )
        }
    }

    private func jsonPlaces(
        _ total: TraceBranchingFactor.Measurement, limit: Int, policy: Policy,
        into document: inout JSONStats
    ) {
        let all = ranked(total)
        document.placesTotal = all.count
        document.places = all.prefix(limit).map { place, sums in
            JSONStats.Place(
                function: policy.functions.indices.contains(place.function)
                    ? policy.functions[place.function].name : "(no frame)",
                after: place.libc.map { policy.symbols.indices.contains($0) ? policy.symbols[$0] : "libc \($0)" },
                positions: sums.positions,
                share: total.dyckSum == 0 ? 0 : Double(sums.dyckSum) / Double(total.dyckSum),
                dyck: Double(sums.dyckSum) / Double(sums.positions), nfa: Double(sums.nfaSum) / Double(sums.positions))
        }
    }

    /// The places that add most to the dyck sum, largest first.
    private func printPlaces(_ total: TraceBranchingFactor.Measurement, limit: Int, policy: Policy) {
        let ranked = ranked(total)
        print("run-abf places: \(min(limit, ranked.count)) of \(ranked.count), by share of the dyck sum")
        print(" positions   share   dyck    nfa  place")
        for (place, sums) in ranked.prefix(limit) {
            let function =
                policy.functions.indices.contains(place.function)
                ? policy.functions[place.function].name : "(no frame)"
            let event =
                place.libc.map {
                    policy.symbols.indices.contains($0) ? "after \(policy.symbols[$0])" : "after libc \($0)"
                }
                ?? "thread start"
            let share = total.dyckSum == 0 ? 0 : Double(sums.dyckSum) / Double(total.dyckSum)
            let columns = [
                pad("\(sums.positions)", 10), pad(formatPercent(share), 7),
                pad(formatABF(Double(sums.dyckSum) / Double(sums.positions)), 6),
                pad(formatABF(Double(sums.nfaSum) / Double(sums.positions)), 6)
            ]
            print(columns.joined(separator: " ") + "  \(function) \(event)")
        }
    }

    private func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }

    private func formatPercent(_ fraction: Double) -> String {
        let tenths = Int((fraction * 1000).rounded())
        return "\(tenths / 10).\(tenths % 10)%"
    }

    private func formatABF(_ value: Double) -> String {
        let scaled = (value * 100).rounded()
        let whole = Int(scaled) / 100
        let fraction = Int(scaled) % 100
        return "\(whole).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
