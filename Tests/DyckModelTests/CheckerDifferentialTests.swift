import XCTest
@testable import DyckModel

/// The Earley checker against an explicit-stack search of configurations, on many
/// random small policies with recursion, nullable callees and callbacks.
final class CheckerDifferentialTests: XCTestCase {
    /// A configuration: the stack of (function, state) frames, top last; the frames
    /// below the top hold the states where their functions continue.
    typealias Configuration = [[Int]]

    /// All configurations reachable without a libc event, with stacks of at most
    /// `depth` frames. Enough depth makes this exact for short words.
    func closure(_ start: Set<Configuration>, _ policy: Policy, depth: Int) -> Set<Configuration> {
        var seen = start
        var work = Array(start)
        func visit(_ c: Configuration) {
            if seen.insert(c).inserted { work.append(c) }
        }
        while let c = work.popLast() {
            if c.count < depth {
                for callback in policy.callbacks {
                    visit(c + [[callback, policy.functions[callback].automaton.initial]])
                }
            }
            guard let top = c.last else { continue }
            let automaton = policy.functions[top[0]].automaton
            for edge in automaton.edges where edge.from == top[1] {
                guard case .call(let site) = edge.label, c.count < depth else { continue }
                for callee in policy.sites[site].callees {
                    var next = c
                    next[next.count - 1] = [top[0], edge.to]
                    next.append([callee, policy.functions[callee].automaton.initial])
                    visit(next)
                }
            }
            if automaton.finals.contains(top[1]) {
                visit(Array(c.dropLast()))
            }
        }
        return seen
    }

    func bruteForceAllows(_ word: [Int], _ policy: Policy, depth: Int) -> Bool {
        let entry = policy.functions[policy.entry].automaton
        var current = closure([[[policy.entry, entry.initial]]], policy, depth: depth)
        for symbol in word {
            var next = Set<Configuration>()
            for c in current {
                guard let top = c.last else { continue }
                for edge in policy.functions[top[0]].automaton.edges
                where edge.from == top[1] && edge.label == .libc(symbol) {
                    var moved = c
                    moved[moved.count - 1] = [top[0], edge.to]
                    next.insert(moved)
                }
            }
            if next.isEmpty { return false }
            current = closure(next, policy, depth: depth)
        }
        return true
    }

    func randomPolicy(_ rng: inout SplitMix64) -> Policy {
        let functionCount = rng.int(1...3)
        var sites: [CallSite] = []
        var functions: [PolicyFunction] = []
        for f in 0..<functionCount {
            let states = rng.int(1...4)
            var edges: [Edge] = []
            for _ in 0..<rng.int(0...5) {
                let from = rng.int(0...(states - 1)), to = rng.int(0...(states - 1))
                if rng.int(0...2) == 0 {
                    let callees = Array(Set((0..<rng.int(1...2)).map { _ in rng.int(0...(functionCount - 1)) })).sorted()
                    sites.append(CallSite(caller: f, callees: callees, indirect: callees.count > 1))
                    edges.append(Edge(from: from, label: .call(sites.count - 1), to: to))
                } else {
                    edges.append(Edge(from: from, label: .libc(rng.int(0...1)), to: to))
                }
            }
            let finals = Set((0..<states).filter { _ in rng.int(0...2) == 0 })
            functions.append(PolicyFunction(name: "f\(f)", automaton: Automaton(stateCount: states, initial: 0, finals: finals, edges: edges)))
        }
        let callbacks = rng.int(0...3) == 0 ? [rng.int(0...(functionCount - 1))] : []
        return Policy(symbols: ["a", "b"], functions: functions, sites: sites, entry: 0, callbacks: callbacks)
    }

    func testEarleyAgreesWithExplicitSearch() {
        var rng = SplitMix64(seed: 0x5eed)
        var words: [[Int]] = [[]]
        var frontier: [[Int]] = [[]]
        for _ in 0..<3 {
            frontier = frontier.flatMap { [$0 + [0], $0 + [1]] }
            words += frontier
        }
        var disagreements = 0
        for round in 0..<150 {
            let policy = randomPolicy(&rng)
            let checker = PolicyChecker(policy: policy)
            for word in words {
                let earley = checker.check(word.map { $0 }).allowed
                let brute = bruteForceAllows(word, policy, depth: 8)
                if earley != brute {
                    disagreements += 1
                    if disagreements <= 3 {
                        XCTFail("round \(round): word \(word): earley \(earley), explicit \(brute)\n\(policy)")
                    }
                }
            }
        }
        XCTAssertEqual(disagreements, 0)
    }
}
