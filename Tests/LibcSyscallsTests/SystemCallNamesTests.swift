import DyckModel
import Foundation
import XCTest

/// The name table is the kernel's x86-64 ABI: it must agree with the kernel headers
/// this machine has, entry for entry.
final class SystemCallNamesTests: XCTestCase {
    func testTableMatchesTheKernelHeader() throws {
        let header = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"
        let text = try String(contentsOfFile: header, encoding: .utf8)
        var fromHeader: [Int: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count == 3, parts[0] == "#define", parts[1].hasPrefix("__NR_"),
                let number = Int(parts[2])
            else { continue }
            fromHeader[number] = String(parts[1].dropFirst(5))
        }
        XCTAssertGreaterThan(fromHeader.count, 300, "\(header) parsed to too few calls")
        for (number, name) in fromHeader where number <= SystemCallSet.maximumNumber {
            XCTAssertEqual(SystemCallNames.name(of: number), name, "number \(number)")
            XCTAssertEqual(SystemCallNames.number(of: name), number, name)
        }
        for entry in SystemCallNames.table {
            XCTAssertEqual(fromHeader[entry.number], entry.name, "table entry \(entry.number) \(entry.name)")
        }
    }
}
