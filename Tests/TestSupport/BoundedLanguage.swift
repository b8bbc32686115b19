import DyckModel

/// Every libc word of at most `length` events, per function: the prefixes of its runs
/// and its complete words (from the initial state to a final one), with calls
/// completed or still open at the end for prefixes. Least fixpoint of
///
///     Comp(q) = {ε | q final} ∪ l·Comp(q')              for q --libc l--> q'
///                             ∪ Comp(g₀)·Comp(q')        for q --call c--> q', g callee of c
///     Pref(q) = {ε} ∪ l·Pref(q') ∪ Pref(g₀) ∪ Comp(g₀)·Pref(q')
public struct BoundedLanguage {
    public var prefixes: [Set<[Int]>]
    public var complete: [Set<[Int]>]

    public init(_ policy: Policy, length: Int) {
        let automata = policy.functions.map(\.automaton)
        var comp = automata.map { [Set<[Int]>](repeating: [], count: $0.stateCount) }
        var pref = automata.map { [Set<[Int]>](repeating: [[]], count: $0.stateCount) }
        func concat(_ a: Set<[Int]>, _ b: Set<[Int]>) -> Set<[Int]> {
            var result = Set<[Int]>()
            for u in a where u.count <= length {
                for w in b where u.count + w.count <= length { result.insert(u + w) }
            }
            return result
        }
        var changed = true
        while changed {
            changed = false
            for (f, automaton) in automata.enumerated() {
                for q in 0..<automaton.stateCount {
                    var c: Set<[Int]> = automaton.finals.contains(q) ? [[]] : []
                    var p: Set<[Int]> = [[]]
                    for edge in automaton.edges where edge.from == q {
                        switch edge.label {
                        case .libc(let l):
                            c.formUnion(concat([[l]], comp[f][edge.to]))
                            p.formUnion(concat([[l]], pref[f][edge.to]))
                        case .call(let s):
                            for g in policy.sites[s].callees {
                                let initial = automata[g].initial
                                c.formUnion(concat(comp[g][initial], comp[f][edge.to]))
                                p.formUnion(pref[g][initial])
                                p.formUnion(concat(comp[g][initial], pref[f][edge.to]))
                            }
                        }
                    }
                    if !c.isSubset(of: comp[f][q]) {
                        comp[f][q].formUnion(c)
                        changed = true
                    }
                    if !p.isSubset(of: pref[f][q]) {
                        pref[f][q].formUnion(p)
                        changed = true
                    }
                }
            }
        }
        prefixes = automata.indices.map { pref[$0][automata[$0].initial] }
        complete = automata.indices.map { comp[$0][automata[$0].initial] }
    }
}
