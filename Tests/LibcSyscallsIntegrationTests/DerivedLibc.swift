import DyckAnalysis
import DyckModel
import Foundation
import LibcSyscalls
import XCTest

/// The analysis of this machine's libc.so.6 and ld.so, derived once per test run
/// (not read from the cache: the tests check the rules of the code under test, and a
/// cached table could be one an earlier version of the rules wrote) and shared by
/// every test of this target.
enum DerivedLibc {
    /// The C library `dyck-gen` analyses by default.
    static let libcPath: String = (try? libcSharedObjectPath(nil)) ?? "/lib/x86_64-linux-gnu/libc.so.6"

    private static let result: Result<LibcSyscallTable, LibcSyscallsError> = Result {
        () throws(LibcSyscallsError) -> LibcSyscallTable in
        try LibcSyscallAnalysis.analyze(libcPath: libcPath)
    }

    static func table() throws -> LibcSyscallTable { try result.get() }

    /// The summary of exported function `name`; fails the test if libc does not export it.
    static func summary(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws
        -> LibcFunctionSummary
    {
        guard let summary = try table()[name] else {
            XCTFail("\(libcPath) exports no function \(name)", file: file, line: line)
            throw XCTSkip("no \(name)")
        }
        return summary
    }

    static func number(_ name: String, file: StaticString = #filePath, line: UInt = #line) -> Int {
        guard let number = SystemCallNames.number(of: name) else {
            XCTFail("no system call named \(name)", file: file, line: line)
            return -1
        }
        return number
    }

    /// "name name ..." of a set, for messages.
    static func describe(_ set: SystemCallSet) -> String {
        let names = set.numbers.map { SystemCallNames.name(of: $0) ?? "#\($0)" }
        return (set.mapsExecutable ? "[exec] " : "")
            + (names.count > 40 ? "\(names.count) calls" : names.joined(separator: " "))
    }
}
