import DyckModel

/// The size and static branching factor of a machine, as `sbx stats` prints them for
/// its `nfa-machine` row: the machine `sbx blob --mode nfa` builds and the kernel
/// steps (specs/checking.md, "Average branching factor").
///
/// The nfa row used to sum one reduced automaton per root of `Policy.flattened()`;
/// on a program whose callbacks share one large component of the call graph that is
/// roots × component (SQLite's shell: did not finish in 240 s), and no reduction
/// shared across roots gives the same per-root figures (each root's minimal automaton
/// has its own initial and final states). The machine is built once for all roots
/// and linearly in the policy, and it is what nfa mode enforces.
public struct MachineFigures: Sendable, CustomStringConvertible {
    /// Macro-states of the machine (the empty frontier and those only the log mode's
    /// resynchronisation enters included, as in the blob's tables) and its transitions.
    public var states: Int
    public var edges: Int
    /// Positions: the macro-states a run can be in, those reachable through the
    /// transitions from the entry's and the callbacks' macro-states, the empty
    /// frontier left out; the sum of their next sets, each the distinct libc calls
    /// with a transition.
    public var branchingFactor: BranchingFactor

    public init(_ machine: MacroMachine) {
        states = machine.macroStateCount
        edges = machine.transitionCount
        var seen = [Bool](repeating: false, count: machine.macroStateCount)
        var stack: [Int] = []
        for m in [machine.initial] + machine.callbackEntries.map(\.entered) where !seen[m] {
            seen[m] = true
            stack.append(m)
        }
        var positions = 0, sum = 0
        while let m = stack.popLast() {
            var labels = 0
            for (key, target) in machine.transitions[m] {
                if case .libc = key { labels += 1 }
                if !seen[target] {
                    seen[target] = true
                    stack.append(target)
                }
            }
            // The empty frontier accepts nothing: no position.
            if m != 0 {
                positions += 1
                sum += labels
            }
        }
        branchingFactor = BranchingFactor(positions: positions, sum: sum)
    }

    public var description: String {
        "states \(states), edges \(edges), ABF \(branchingFactor.sum)/\(branchingFactor.positions)"
    }
}
