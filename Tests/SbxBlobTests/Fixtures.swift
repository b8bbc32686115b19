import DyckModel

/// A small deterministic generator, so that failures of randomized tests reproduce
/// (the same as DyckModelTests' SplitMix64).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func int(_ range: ClosedRange<Int>) -> Int {
        Int.random(in: range, using: &self)
    }

    mutating func pick<T>(_ items: [T]) -> T {
        items[int(0...(items.count - 1))]
    }
}

enum BlobFixtures {
    /// A random valid policy, after DyckModelTests' `ModelFixtures.randomPolicy`:
    /// up to `maxFunctions` functions of up to `maxStates` states over `symbols`
    /// libc symbols, direct and indirect call sites (often recursive), and
    /// sometimes callbacks.
    static func randomPolicy(
        _ rng: inout SplitMix64, maxFunctions: Int = 3, maxStates: Int = 4,
        maxEdges: Int = 5, symbols: Int = 2
    ) -> Policy {
        let functionCount = rng.int(1...maxFunctions)
        var sites: [CallSite] = []
        var functions: [PolicyFunction] = []
        for f in 0..<functionCount {
            let states = rng.int(1...maxStates)
            var edges: [Edge] = []
            var seen = Set<String>()
            for _ in 0..<rng.int(0...maxEdges) {
                let from = rng.int(0...(states - 1)), to = rng.int(0...(states - 1))
                if rng.int(0...2) == 0 {
                    let callees = Array(Set((0..<rng.int(1...2)).map { _ in rng.int(0...(functionCount - 1)) }))
                        .sorted()
                    sites.append(CallSite(caller: f, callees: callees, indirect: callees.count > 1))
                    edges.append(Edge(from: from, label: .call(sites.count - 1), to: to))
                } else {
                    let l = rng.int(0...(symbols - 1))
                    guard seen.insert("\(from) \(l) \(to)").inserted else { continue }
                    edges.append(Edge(from: from, label: .libc(l), to: to))
                }
            }
            let finals = Set((0..<states).filter { _ in rng.int(0...2) == 0 })
            functions.append(
                PolicyFunction(
                    name: "f\(f)", automaton: Automaton(stateCount: states, initial: 0, finals: finals, edges: edges)))
        }
        var callbacks: [Int] = []
        if rng.int(0...3) == 0 {
            for _ in 0..<rng.int(1...2) {
                let f = rng.int(0...(functionCount - 1))
                if !callbacks.contains(f) { callbacks.append(f) }
            }
        }
        return Policy(
            symbols: (0..<symbols).map { "s\($0)" }, functions: functions, sites: sites,
            entry: 0, callbacks: callbacks)
    }
}

extension BlobFixtures {
    /// Numbers the random bindings and system-call streams draw from: the three
    /// mapping calls, some ordinary ones, the ends of the range, and numbers the kernel
    /// never accepts (511, the marker's 999, 2^32 + 9, -1 as the kernel's unsigned).
    static let systemCallNumbers: [UInt64] = [0, 1, 2, 9, 10, 11, 12, 59, 257, 329, 425, 500, 509]
    /// Third arguments: protections with and without PROT_EXEC, and openat flags
    /// (O_RDONLY, O_WRONLY, O_RDWR|O_CREAT, O_TRUNC, O_APPEND, __O_TMPFILE, O_CLOEXEC).
    static let thirdArguments: [UInt64] = [
        0, 1, 3, 4, 5, 7, 1 << 40 | 4, 1 << 40, UInt64.max,
        0o1, 0o102, 0o1000, 0o2000, 0x400000, 0o2000000
    ]
    static let wildSystemCallNumbers: [UInt64] = [510, 511, 512, 999, 1 << 30 | 1, 1 << 32 | 9, UInt64.max]

    /// A random binding for a policy with `symbols` symbols: set 0 empty, a few
    /// distinct random sets (some mapping code), an ambient set that does not, and a
    /// random start set and symbol sets.
    static func randomBinding(_ rng: inout SplitMix64, symbols: Int) -> SystemCallBinding {
        var sets: [SystemCallSet] = [.empty]
        for _ in 0..<rng.int(1...4) {
            let numbers = systemCallNumbers.filter { _ in rng.int(0...2) == 0 }.map { Int($0) }
            let set = SystemCallSet(
                numbers: numbers, mapsExecutable: rng.int(0...2) == 0, opensForWriting: rng.int(0...2) == 0)
            if !sets.contains(set) { sets.append(set) }
        }
        let ambient = SystemCallSet(numbers: systemCallNumbers.filter { _ in rng.int(0...3) == 0 }.map { Int($0) })
        var ambientIndex = sets.firstIndex(of: ambient)
        if ambientIndex == nil {
            sets.append(ambient)
            ambientIndex = sets.count - 1
        }
        return SystemCallBinding(
            sets: sets, symbolSets: (0..<symbols).map { _ in rng.int(0...(sets.count - 1)) },
            startSet: rng.int(0...(sets.count - 1)), ambientSet: ambientIndex!)
    }

    /// A system call for a random stream: mostly numbers some set names, with a
    /// protection that has PROT_EXEC half of the time.
    static func randomSystemCall(_ rng: inout SplitMix64) -> (number: UInt64, protection: UInt64) {
        let number = rng.int(0...9) == 0 ? rng.pick(wildSystemCallNumbers) : rng.pick(systemCallNumbers)
        let protection = rng.pick(thirdArguments)
        return (number, protection)
    }
}
