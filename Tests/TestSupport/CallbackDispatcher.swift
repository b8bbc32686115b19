import DyckModel

/// The shape that made `sbx blob --mode nfa` and `sbx check --mode nfa` of SQLite's
/// shell run for hours (issue 17): most callbacks of the program in one strongly
/// connected component of the call graph, reached from every root. The scale tests of
/// the nfa blob and of the shared-flattening checker both build it.
public enum CallbackDispatcher {
    /// SQLite's shape: a dispatcher (function 1) whose one indirect site calls `n`
    /// callbacks, each of which calls libc `i % symbols` and may call the dispatcher
    /// again; `main` (0) calls the dispatcher, then libc 0. Every callback reaches
    /// every other: one component, `n + 1` roots.
    public static func policy(_ n: Int, symbols: Int = 8) -> Policy {
        var functions = [
            PolicyFunction(
                name: "main",
                automaton: Automaton(
                    stateCount: 3, initial: 0, finals: [2],
                    edges: [Edge(from: 0, label: .call(0), to: 1), Edge(from: 1, label: .libc(0), to: 2)])),
            PolicyFunction(
                name: "dispatch",
                automaton: Automaton(
                    stateCount: 2, initial: 0, finals: [0, 1], edges: [Edge(from: 0, label: .call(1), to: 1)]))
        ]
        var sites = [
            CallSite(caller: 0, callees: [1]), CallSite(caller: 1, callees: Array(2..<(n + 2)), indirect: true)
        ]
        for i in 0..<n {
            functions.append(
                PolicyFunction(
                    name: "cb\(i)",
                    automaton: Automaton(
                        stateCount: 3, initial: 0, finals: [1, 2],
                        edges: [
                            Edge(from: 0, label: .libc(i % symbols), to: 1), Edge(from: 1, label: .call(i + 2), to: 2)
                        ])))
            sites.append(CallSite(caller: i + 2, callees: [1]))
        }
        return Policy(
            symbols: (0..<symbols).map { "s\($0)" }, functions: functions, sites: sites,
            entry: 0, callbacks: Array(2..<(n + 2)))
    }
}
