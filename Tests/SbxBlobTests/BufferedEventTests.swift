import CSbxCore
import DyckModel
import Foundation
import XCTest
@testable import SbxBlob

/// Buffered events (specs/kernel-abi.md, "Buffered events"): the blob writer's
/// event-buffer section, and the kernel core's replay (`sbx_evbuf_collect`,
/// `sbx_evbuf_step`) against the Swift reference (`ThreadMonitor.bufferedEvents`,
/// `stepBuffered`) on random policies and random buffers: the same events taken,
/// the same refusals (reason 29 included), the same states and windows.
final class BufferedEventTests: XCTestCase {
    func u32(_ b: [UInt8], _ at: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(b[at + $1]) << (8 * UInt32($1)) }
    }

    /// The section sits between the resynchronisation and names sections; nothing
    /// else but the flag and the total size changes.
    func testWriterLayout() throws {
        let policy = BlobTests.sharedHelper
        let symbols = policy.symbols.count
        let flags = (0..<symbols).map { $0 % 2 == 1 }
        let plain = try buildBlob(policy: policy, mode: .dyck)
        let buffered = try buildBlob(
            policy: policy, mode: .dyck, eventBuffer: BlobEventBuffer(tpoff: -264, bufferable: flags))
        let words = (symbols + 31) / 32
        XCTAssertEqual(buffered.count, plain.count + 16 + 4 * words)
        XCTAssertEqual(u32(plain, 4), 8, "blob version 8")
        XCTAssertEqual(u32(buffered, 12), u32(plain, 12) | SBX_BLOB_F_BUFFERED)
        XCTAssertEqual(u32(buffered, 16), UInt32(buffered.count))
        let namesSize = Int(u32(plain, 124))
        let at = plain.count - namesSize
        XCTAssertEqual(Array(buffered[20..<at]), Array(plain[20..<at]))
        XCTAssertEqual(Array(buffered[(buffered.count - namesSize)...]), Array(plain[at...]))
        XCTAssertEqual(Array(buffered[0..<12]), Array(plain[0..<12]))
        // tpoff, cap, words, the bits.
        XCTAssertEqual(u32(buffered, at), UInt32(bitPattern: -264))
        XCTAssertEqual(u32(buffered, at + 4), 0xffff_ffff)
        XCTAssertEqual(u32(buffered, at + 8), UInt32(SBX_EVBUF_CAP))
        XCTAssertEqual(u32(buffered, at + 12), UInt32(words))
        for s in 0..<symbols {
            XCTAssertEqual(u32(buffered, at + 16 + 4 * (s / 32)) >> UInt32(s % 32) & 1, flags[s] ? 1 : 0)
        }
        let kernel = try KernelPolicy(blob: buffered)
        XCTAssertTrue(kernel.isBuffered)
        XCTAssertEqual(kernel.eventBufferOffset, -264)
        XCTAssertFalse(try KernelPolicy(blob: plain).isBuffered)
        // nfa blobs carry it too.
        let nfa = try buildBlob(
            policy: policy, mode: .nfa, eventBuffer: BlobEventBuffer(tpoff: -4096, bufferable: flags))
        XCTAssertTrue(try KernelPolicy(blob: nfa).isBuffered)
    }

    /// What the writer refuses, the validator would refuse too.
    func testWriterRefusals() throws {
        let policy = BlobTests.sharedHelper
        let flags = [Bool](repeating: true, count: policy.symbols.count)
        for tpoff: Int64 in [0, 8, -256, -268, -(1 << 30) - 8, .min, .max] {
            XCTAssertThrowsError(
                try buildBlob(
                    policy: policy, mode: .dyck, eventBuffer: BlobEventBuffer(tpoff: tpoff, bufferable: flags)),
                "tpoff \(tpoff)")
        }
        for tpoff: Int64 in [-264, -272, -(1 << 30)] {
            let blob = try buildBlob(
                policy: policy, mode: .dyck, eventBuffer: BlobEventBuffer(tpoff: tpoff, bufferable: flags))
            XCTAssertEqual(try KernelPolicy(blob: blob).eventBufferOffset, tpoff)
        }
        XCTAssertThrowsError(
            try buildBlob(
                policy: policy, mode: .dyck, eventBuffer: BlobEventBuffer(tpoff: -264, bufferable: flags + [true]))
        ) {
            XCTAssertEqual(
                $0 as? BlobError, .badEventBuffer("\(flags.count + 1) bufferable flags for \(flags.count) symbols"))
        }
    }

    /// The slot rule, on random buffers: the C core and the reference take the same
    /// events in the same order and clear the same slots.
    func testCollectAgrees() {
        var rng = SplitMix64(seed: 19)
        let cap = ThreadMonitor.eventBufferCapacity
        XCTAssertEqual(cap, Int(SBX_EVBUF_CAP))
        var pastCount = 0
        for _ in 0..<20000 {
            let density = rng.int(0...4)
            let slots = (0..<cap).map { _ in rng.int(0...4) < density ? UInt64(rng.int(1...1000)) : 0 }
            let count = rng.pick([0, 1, UInt64(rng.int(0...40)), UInt64(UInt32.max), .max])
            let expected = ThreadMonitor.bufferedEvents(slots: slots, count: count)
            let actual = KernelMonitor.collectBuffered(slots: slots, count: count)
            XCTAssertEqual(actual.events, expected.events, "\(slots) count \(count)")
            XCTAssertEqual(actual.end, expected.end, "\(slots) count \(count)")
            if expected.end > min(Int(clamping: count), cap) { pastCount += 1 }
        }
        XCTAssertGreaterThan(pastCount, 1000, "events past the count")
    }

    /// A buffer word of the reference's next allowed event, or a malformed one.
    func nextWord(_ monitor: ThreadMonitor, _ policy: Policy, _ rng: inout SplitMix64) -> UInt64 {
        func w(_ kind: MarkerKind, _ id: Int) -> UInt64 {
            UInt64(kind.rawValue) << 32 | UInt64(UInt32(truncatingIfNeeded: id))
        }
        var allowed: [UInt64] = []
        let (libc, sites, mayReturn) = monitor.expected()
        allowed += libc.map { w(.libc, $0) }
        for c in sites { allowed += [w(.call, c), w(.tail, c)] }
        switch monitor.top.kind {
        case .site(let c) where mayReturn: allowed.append(w(.ret, c))
        case .callback(let f) where mayReturn: allowed.append(w(.callbackExit, f))
        default: break
        }
        if !policy.callbacks.isEmpty, rng.int(0...5) == 0 {
            allowed.append(w(.callbackEnter, rng.pick(policy.callbacks)))
        }
        if rng.int(0...9) < 7, !allowed.isEmpty { return rng.pick(allowed) }
        let counts = [
            policy.symbols.count, policy.sites.count, policy.sites.count, policy.functions.count,
            policy.functions.count, policy.sites.count
        ]
        switch rng.int(0...5) {
        case 0: return UInt64(rng.pick([0, 7, 8, 9, 255, Int(UInt32.max)])) << 32 | UInt64(rng.int(0...2))
        case 1:
            let kind = rng.int(1...6)
            return UInt64(kind) << 32 | UInt64(rng.pick([counts[kind - 1], counts[kind - 1] + 1, Int(UInt32.max)]))
        default:
            let kind = rng.int(1...6)
            return UInt64(kind) << 32 | UInt64(rng.int(0...max(counts[kind - 1], 1)))
        }
    }

    func testReplayAgreesWithReference() throws {
        var rng = SplitMix64(seed: 2026)
        var outcomes: [String: Int] = [:]
        var compared = 0
        for i in 0..<800 {
            var policy = BlobFixtures.randomPolicy(&rng)
            if rng.int(0...3) != 0 { policy.syscalls = BlobFixtures.randomBinding(&rng, symbols: policy.symbols.count) }
            let bufferable = (0..<policy.symbols.count).map { _ in rng.int(0...2) != 0 }
            let machine = try MacroMachine(policy: policy, mode: .dyck)
            let stackLimit = rng.pick([2, 5, 1024])
            let maxDepth = rng.pick([3, 12, 1 << 20])
            let kernel = try KernelPolicy(
                blob: encodeBlob(
                    machine, stackLimit: stackLimit, maxDepth: maxDepth,
                    eventBuffer: BlobEventBuffer(tpoff: -264, bufferable: bufferable)))
            let tables = MonitorTables(policy: machine.policy)
            for s in 0..<4 {
                var monitor = ThreadMonitor(tables: tables, stackLimit: stackLimit, maxDepth: maxDepth)
                let k = KernelMonitor(policy: kernel)
                var history: [UInt64] = []
                for _ in 0..<40 {
                    let word = nextWord(monitor, policy, &rng)
                    history.append(word)
                    let expected = monitor.stepBuffered(word: word, bufferable: bufferable)
                    let actual = k.stepBuffered(word: word)
                    compared += 1
                    outcomes[expected.map { "\($0)".components(separatedBy: "(")[0] } ?? "allowed", default: 0] += 1
                    let context = "policy #\(i) stream \(s): \(history.map { String($0, radix: 16) }) on \(policy)"
                    XCTAssertEqual(expected.map(refusal), actual?.refusal, context)
                    XCTAssertEqual(monitor.depth, k.depth, context)
                    XCTAssertEqual(window(monitor.window), k.window, context)
                    let frames = zip(k.stack, monitor.stack).allSatisfy { kf, sf in
                        machine.frontiers[kf.macroState]
                            == sf.frontier.map { MacroMachine.Pair(function: $0.function, state: $0.state) }
                    }
                    XCTAssertTrue(frames && k.stack.count == monitor.stack.count, context)
                    if expected.map(refusal) != actual?.refusal || !frames { return }
                }
            }
        }
        print("buffered replay: \(compared) words compared; outcomes \(outcomes.sorted { $0.key < $1.key })")
        XCTAssertGreaterThan(outcomes["allowed"] ?? 0, 5000)
        XCTAssertGreaterThan(outcomes["bufferedEvent"] ?? 0, 500)
        XCTAssertGreaterThan(outcomes["notAllowedHere"] ?? 0, 100)
    }

    /// A blob without the flag has no bufferable event, whatever the word.
    func testUnbufferedBlobRefusesEveryWord() throws {
        let k = KernelMonitor(policy: try KernelPolicy(blob: buildBlob(policy: BlobTests.sharedHelper, mode: .dyck)))
        var monitor = ThreadMonitor(tables: MonitorTables(policy: BlobTests.sharedHelper))
        for kind in 0...9 {
            let word = UInt64(kind) << 32
            XCTAssertEqual(k.stepBuffered(word: word)?.refusal, .bufferedEvent)
            XCTAssertEqual(monitor.stepBuffered(word: word, bufferable: nil), .bufferedEvent)
        }
    }

    func refusal(_ r: ThreadMonitor.Refusal) -> KernelRefusal {
        switch r {
        case .unknownKind: return .unknownKind
        case .idOutOfRange: return .idOutOfRange
        case .notAllowedHere: return .notAllowedHere
        case .returnToWrongSite: return .returnToWrongSite
        case .cannotReturnYet: return .cannotReturnYet
        case .notACallback: return .notACallback
        case .stackOverflow: return .stackOverflow
        case .noSetjmpRecord: return .noSetjmpRecord
        case .storeFull: return .storeFull
        case .systemCallOutsideWindow: return .systemCallOutsideWindow
        case .executableMapping: return .executableMapping
        case .bufferedEvent: return .bufferedEvent
        case .compatSystemCall, .ioUring: return .badState
        }
    }

    func window(_ w: SystemCallWindow) -> KernelWindow {
        switch w {
        case .start: return .start
        case .none: return .none
        case .libc(let l): return .libc(l)
        }
    }
}
