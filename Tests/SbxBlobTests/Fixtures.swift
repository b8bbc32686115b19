import DyckModel
import TestSupport

/// TestSupport's generator, under the name this target's tests use (without an
/// import in every file).
typealias SplitMix64 = TestSupport.SplitMix64

enum BlobFixtures {
    /// A random valid policy (TestSupport's `RandomPolicies`).
    static func randomPolicy(
        _ rng: inout SplitMix64, maxFunctions: Int = 3, maxStates: Int = 4, maxEdges: Int = 5, symbols: Int = 2
    ) -> Policy {
        RandomPolicies.policy(
            &rng, maxFunctions: maxFunctions, maxStates: maxStates, maxEdges: maxEdges, symbols: symbols)
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
