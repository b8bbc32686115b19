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
            let policy = ModelFixtures.randomPolicy(&rng)
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
