import XCTest
@testable import DyckModel

/// The bufferable rule of `BufferedEvents` (`specs/libc-syscalls.md`, "Bufferable
/// functions") on sets built here, and the sensitive set against the numbers the
/// design (issue 19) lists. The rule on glibc's real derived sets is tested in
/// `LibcSyscallsIntegrationTests.BufferedLibcTests`.
final class BufferedEventsTests: XCTestCase {
    /// The design's list, by number, as written in it: the names of `sensitiveNames`
    /// must be exactly these numbers.
    func testSensitiveSetIsTheDesignsNumbers() {
        let design: Set<Int> = [
            59, 322, 57, 58, 56, 435, 101, 311, 62, 200, 234, 41, 42, 49, 50, 43, 288, 105, 106, 113, 114, 117,
            119, 122, 123, 90, 91, 268, 92, 93, 94, 260, 165, 166, 155, 161, 175, 313, 176, 246, 321, 157, 317
        ]
        XCTAssertEqual(BufferedEvents.sensitive, design)
        XCTAssertEqual(BufferedEvents.sensitiveNames.count, design.count, "no name twice")
    }

    func testPlainSetsAreBufferable() {
        XCTAssertTrue(BufferedEvents.isBufferable(.empty))
        XCTAssertTrue(BufferedEvents.isBufferable(SystemCallSet(numbers: [0, 1, 3, 5, 8, 16, 257])))
    }

    func testEachSensitiveCallAloneMakesASetUnbufferable() {
        for number in BufferedEvents.sensitive {
            XCTAssertFalse(
                BufferedEvents.isBufferable(SystemCallSet(numbers: [0, 1, number])),
                SystemCallNames.name(of: number) ?? "\(number)")
        }
    }

    func testWriteRightAndCodeMappingMakeASetUnbufferable() {
        XCTAssertFalse(BufferedEvents.isBufferable(SystemCallSet(numbers: [257], opensForWriting: true)))
        XCTAssertFalse(BufferedEvents.isBufferable(SystemCallSet(numbers: [9, 10], mapsExecutable: true)))
        XCTAssertFalse(BufferedEvents.isBufferable(SystemCallSet(numbers: [Int](), mapsExecutable: true)))
    }

    /// "All numbers" is refused on its own account (it holds sensitive calls too, but
    /// the rule must not depend on that if the sensitive set ever shrank).
    func testAllNumbersIsUnbufferable() {
        let all = SystemCallSet(numbers: 0...SystemCallSet.maximumNumber)
        XCTAssertTrue(BufferedEvents.isAllNumbers(all))
        XCTAssertFalse(BufferedEvents.isBufferable(all))
        let almost = SystemCallSet(numbers: (0...SystemCallSet.maximumNumber).filter { $0 != 0 })
        XCTAssertFalse(BufferedEvents.isAllNumbers(almost))
    }

    func testKinds() {
        let buffered: [MarkerKind] = [.libc, .call, .ret, .tail, .callbackEnter, .callbackExit]
        for kind in MarkerKind.allCases {
            XCTAssertEqual(BufferedEvents.mayBuffer(kind), buffered.contains(kind), kind.name)
        }
    }

    func testWord() {
        XCTAssertEqual(BufferedEvents.word(kind: .libc, id: 7), 0x1_0000_0007)
        XCTAssertEqual(BufferedEvents.word(kind: .callbackExit, id: 0xffff_ffff), 0x5_ffff_ffff)
    }

    func testBufferableSymbolsOfAPolicy() {
        var policy = Policy(
            symbols: ["fputs", "execve", "fopen", "nothing"],
            functions: [
                PolicyFunction(name: "main", automaton: Automaton(stateCount: 1, initial: 0, finals: [0], edges: []))
            ],
            sites: [], entry: 0)
        XCTAssertEqual(BufferedEvents.bufferableSymbols(of: policy), [false, false, false, false], "no binding")
        policy.syscalls = SystemCallBinding(
            sets: [
                .empty, SystemCallSet(numbers: [1]), SystemCallSet(numbers: [59]),
                SystemCallSet(numbers: [257], opensForWriting: true)
            ],
            symbolSets: [1, 2, 3], startSet: 0, ambientSet: 0)
        // The fourth symbol has no set in the binding: not bufferable (fail closed).
        XCTAssertEqual(BufferedEvents.bufferableSymbols(of: policy), [true, false, false, false])
    }
}
