import TestSupport
import XCTest

@testable import DyckModel

/// `Policy.inliningSmallCallees` must keep each function's language projected onto
/// libc events exactly: the prefixes (what the monitor accepts as a run goes) and the
/// complete words (what a function may do before it returns), under the Dyck semantics
/// of call sites. Checked on random policies, recursion and indirect sites included,
/// by enumerating every libc word up to a bound.
final class InlineTests: XCTestCase {
    func testRandomPoliciesKeepTheirLibcLanguage() {
        var rng = SplitMix(seed: 0x1111E)
        var inlinedTotal = 0
        var sitesTotal = 0
        var keptSomeSite = 0
        for round in 0..<150 {
            let policy = randomPolicy(&rng, acyclic: round % 3 == 0)
            XCTAssertNoThrow(try policy.validate(), "round \(round): generator")
            var tailSites = Set<Int>()
            for s in policy.sites.indices where rng.next(6) == 0 { tailSites.insert(s) }
            for limit in [1, 3, 6, 16] {
                let result = policy.inliningSmallCallees(limit: limit, tailSites: tailSites)
                let inlined = result.policy
                XCTAssertNoThrow(try inlined.validate(), "round \(round) K=\(limit)")
                XCTAssertEqual(result.siteMap.count, policy.sites.count)
                XCTAssertEqual(inlined.sites.count, policy.sites.count - result.inlinedCount)
                inlinedTotal += result.inlinedCount
                sitesTotal += policy.sites.count
                if result.inlinedCount < policy.sites.count { keptSomeSite += 1 }
                // The remaining sites keep their order and content.
                let kept = policy.sites.indices.filter { result.siteMap[$0] != nil }
                XCTAssertEqual(kept.map { policy.sites[$0] }, inlined.sites)
                XCTAssertEqual(kept.map { result.siteMap[$0]! }, Array(inlined.sites.indices))
                // No inlined callee is bigger than the limit, recursive, indirect, a tail
                // site or holding one.
                let recursive = recursiveFunctions(policy)
                let newTails = Set(tailSites.compactMap { result.siteMap[$0] })
                for s in policy.sites.indices where result.siteMap[s] == nil {
                    let site = policy.sites[s]
                    XCTAssertFalse(site.indirect)
                    XCTAssertFalse(tailSites.contains(s))
                    XCTAssertFalse(recursive[site.callees[0]])
                    let callee = inlined.functions[site.callees[0]].automaton
                    XCTAssertLessThanOrEqual(callee.stateCount, limit)
                    XCTAssertFalse(
                        callee.edges.contains {
                            if case .call(let c) = $0.label { newTails.contains(c) } else { false }
                        })
                }
                XCTAssertEqual(
                    tailSites.filter { result.siteMap[$0] == nil }, [], "round \(round): a tail site was inlined")
                let before = BoundedLanguage(policy, length: 5)
                let after = BoundedLanguage(inlined, length: 5)
                for f in policy.functions.indices {
                    XCTAssertEqual(before.prefixes[f], after.prefixes[f], "round \(round) K=\(limit) f\(f) prefixes")
                    XCTAssertEqual(before.complete[f], after.complete[f], "round \(round) K=\(limit) f\(f) complete")
                }
                // Without recursion the fully inlined flattening is exact on both sides.
                if round % 3 == 0 {
                    let a = policy.flattened(options: FlattenOptions(inlineBudget: 1 << 20))
                    let b = inlined.flattened(options: FlattenOptions(inlineBudget: 1 << 20))
                    for (x, y) in zip(a.functions, b.functions) {
                        XCTAssertNil(x.automaton.difference(from: y.automaton), "round \(round) K=\(limit) flattened")
                    }
                }
            }
        }
        // The test is not vacuous: a good share of sites is inlined, and some are kept.
        XCTAssertGreaterThan(inlinedTotal, sitesTotal / 5)
        XCTAssertGreaterThan(keptSomeSite, 50)
    }

    func testLimitZeroChangesNothing() {
        var rng = SplitMix(seed: 7)
        for _ in 0..<20 {
            let policy = randomPolicy(&rng, acyclic: false)
            let result = policy.inliningSmallCallees(limit: 0)
            XCTAssertEqual(result.policy, policy)
            XCTAssertEqual(result.inlinedCount, 0)
        }
    }

    /// main calls a (which calls b), c (ineligible) and d (which calls the recursive
    /// r). Derived by hand.
    func testHandWorkedExample() {
        let open = Label.libc(0)
        let read = Label.libc(1)
        let close = Label.libc(2)
        func chain(_ labels: [Label]) -> Automaton {
            Automaton(
                stateCount: labels.count + 1, initial: 0, finals: [labels.count],
                edges: labels.enumerated().map { Edge(from: $0.offset, label: $0.element, to: $0.offset + 1) })
        }
        let policy = Policy(
            symbols: ["open", "read", "close"],
            functions: [
                PolicyFunction(name: "main", automaton: chain([.call(0), .call(1), .call(5), close])),
                PolicyFunction(name: "a", automaton: chain([.call(2)])),
                PolicyFunction(name: "b", automaton: chain([read])),
                PolicyFunction(name: "r", automaton: chain([open, .call(3)])),
                PolicyFunction(name: "c", automaton: chain([open])),
                PolicyFunction(name: "d", automaton: chain([.call(4), open]))
            ],
            sites: [
                CallSite(caller: 0, callees: [1]), CallSite(caller: 0, callees: [4]),
                CallSite(caller: 1, callees: [2]), CallSite(caller: 3, callees: [3]),
                CallSite(caller: 5, callees: [3]), CallSite(caller: 0, callees: [5])
            ], entry: 0)
        XCTAssertEqual(recursiveFunctions(policy), [false, false, false, true, false, false])
        // K=2: b (2 states) goes into a, then a (now `read`, 2 states) into main; d has
        // 3 states; site 1 is ineligible; r is recursive.
        let two = policy.inliningSmallCallees(limit: 2) { $0 != 1 }
        XCTAssertEqual(two.siteMap, [nil, 0, nil, 1, 2, 3])
        XCTAssertTrue(two.policy.functions[1].automaton.isEquivalent(to: chain([read])))
        XCTAssertTrue(two.policy.functions[0].automaton.isEquivalent(to: chain([read, .call(0), .call(3), close])))
        XCTAssertTrue(two.policy.functions[3].automaton.isEquivalent(to: chain([open, .call(1)])))
        // K=3: d goes into main too, with the site it keeps (r's, caller d).
        let three = policy.inliningSmallCallees(limit: 3) { $0 != 1 }
        XCTAssertEqual(three.siteMap, [nil, 0, nil, 1, 2, nil])
        XCTAssertEqual(three.policy.sites[2], CallSite(caller: 5, callees: [3]))
        XCTAssertTrue(
            three.policy.functions[0].automaton.isEquivalent(to: chain([read, .call(0), .call(2), open, close])))
        XCTAssertTrue(three.policy.functions[5].automaton.isEquivalent(to: chain([.call(2), open])))
        XCTAssertNoThrow(try three.policy.validate())
        // Site 4 as a tail site: d holds it, so d stays.
        XCTAssertEqual(policy.inliningSmallCallees(limit: 3, tailSites: [4]) { $0 != 1 }.siteMap, two.siteMap)
        // With K=1 nothing fits: a 1-state callee would have to make no libc call.
        XCTAssertEqual(policy.inliningSmallCallees(limit: 1).inlinedCount, 0)
    }

    // MARK: - Random policies

    private func randomPolicy(_ rng: inout SplitMix, acyclic: Bool) -> Policy {
        let symbols = ["a", "b", "c"]
        let functionCount = 2 + rng.next(5)
        var sites: [CallSite] = []
        var functions: [PolicyFunction] = []
        for f in 0..<functionCount {
            let states = 1 + rng.next(5)
            var edges = Set<EdgeKey>()
            var list: [Edge] = []
            let edgeCount = rng.next(states * 2 + 1)
            for _ in 0..<edgeCount {
                let from = rng.next(states)
                let to = rng.next(states)
                let label: Label
                let callable = acyclic ? Array((f + 1)..<functionCount) : Array(0..<functionCount)
                if rng.next(5) < 2, !callable.isEmpty {
                    let indirect = rng.next(4) == 0
                    var callees = [callable[rng.next(callable.count)]]
                    if indirect {
                        callees.append(callable[rng.next(callable.count)])
                        callees = Array(Set(callees)).sorted()
                    }
                    label = .call(sites.count)
                    sites.append(CallSite(caller: f, callees: callees, indirect: indirect))
                } else {
                    label = .libc(rng.next(symbols.count))
                }
                if edges.insert(EdgeKey(from: from, label: label, to: to)).inserted {
                    list.append(Edge(from: from, label: label, to: to))
                }
            }
            var finals = Set<Int>()
            for s in 0..<states where rng.next(3) == 0 { finals.insert(s) }
            if rng.next(4) != 0 { finals.insert(states - 1) }
            let automaton = Automaton(stateCount: states, initial: 0, finals: finals, edges: list)
            functions.append(PolicyFunction(name: "f\(f)", automaton: automaton))
        }
        // A site whose call edge was a duplicate is never used; keep it (still valid).
        let callbacks = functionCount > 2 ? [functionCount - 1] : []
        return Policy(symbols: symbols, functions: functions, sites: sites, entry: 0, callbacks: callbacks)
    }

    private struct EdgeKey: Hashable {
        var from: Int
        var label: Label
        var to: Int
    }
}

/// A small deterministic generator (SplitMix64), so that a failure can be replayed.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next(_ bound: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E4B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Int(z % UInt64(max(bound, 1)))
    }
}
