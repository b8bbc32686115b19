import Foundation
import XCTest
@testable import DyckCC

/// `--dyck-time-report`: taken out of clang's command line, and a report with one
/// line per phase whose times add up to the total.
final class TimeReportTests: XCTestCase {
    func testOptionIsDyckCCsOwn() throws {
        let command = try CommandLineArguments(["--dyck-time-report", "a.o", "-o", "prog"])
        XCTAssertTrue(command.timeReport)
        XCTAssertFalse(command.arguments.flatMap(\.words).contains("--dyck-time-report"))
    }

    func testPhasesAddUpToTheTotal() {
        var timer = TimeReport(enabled: true)
        timer.lap("llvm-link")
        var x = 0.0
        for i in 0..<200_000 { x += Double(i).squareRoot() }
        XCTAssertGreaterThan(x, 0)
        timer.lap("analysis")
        XCTAssertEqual(timer.phases.map(\.name), ["llvm-link", "analysis"])
        let lines = timer.lines()
        XCTAssertTrue(lines.contains { $0.hasPrefix("  llvm-link") })
        XCTAssertTrue(lines.contains { $0.hasPrefix("  analysis") })
        let total = timer.phases.reduce(0) { $0 + $1.wall }
        XCTAssertGreaterThan(timer.phases[1].cpu, 0)
        let totalLine = try? XCTUnwrap(lines.first { $0.hasPrefix("  total") })
        XCTAssertEqual(totalLine?.split(separator: " ")[1], Substring(String(format: "%.2f", total)))
        XCTAssertTrue(lines.last?.hasPrefix("  peak memory: dyck-cc ") == true)
    }

    func testDisabledRecordsNothing() {
        var timer = TimeReport(enabled: false)
        timer.lap("analysis")
        XCTAssertTrue(timer.phases.isEmpty)
    }
}
