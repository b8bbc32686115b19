import DyckAnalysis
import DyckModel
import LibcSyscalls
import XCTest

/// The hand-written list of functions that need no marker (`SilentLibc.names`) is kept
/// only as an oracle: every one of them that libc.so.6 exports must be derived silent
/// (its set within the ambient set, no executable mapping, no call back). The derived
/// silent functions may be more (strcoll, for example, which the list lacks).
final class SilentOracleTests: XCTestCase {
    func testEveryHandListedFunctionIsDerivedSilent() throws {
        let table = try DerivedLibc.table()
        var notSilent: [String] = []
        var absent: [String] = []
        for name in SilentLibc.names.sorted() {
            guard let summary = table[name] else {
                absent.append(name)
                continue
            }
            if !table.isSilent(name) {
                let outside = summary.set.numbers.filter { !LibcSyscallTable.ambient.contains($0) }
                    .map { SystemCallNames.describe($0) }
                var why: [String] = []
                if !outside.isEmpty {
                    why.append(
                        outside.count > 12
                            ? "\(outside.count) calls outside the ambient set"
                            : "not ambient: " + outside.joined(separator: " "))
                }
                if summary.set.mapsExecutable { why.append("maps executable") }
                if summary.mayCallBack { why.append("may call back") }
                notSilent.append(name)
                XCTFail("\(name) is hand-listed silent but derived: \(why.joined(separator: "; "))")
            }
        }
        print(
            "silent oracle: \(SilentLibc.names.count - absent.count) hand-listed names exported, "
                + "\(notSilent.count) not derived silent: \(notSilent.joined(separator: " "))")
        print("silent oracle: not exported by \(DerivedLibc.libcPath): \(absent.joined(separator: " "))")
        // The list is glibc's core: nearly all of it must be there, or the oracle checks nothing.
        XCTAssertLessThan(absent.count, 10, "\(absent)")
    }

    /// The derived result decides more than the list did: the issue's example.
    func testStrcollIsDerivedSilent() throws {
        XCTAssertFalse(SilentLibc.names.contains("strcoll"))
        XCTAssertTrue(try DerivedLibc.table().isSilent("strcoll"))
    }
}
