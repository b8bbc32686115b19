import Foundation
import XCTest

/// `sbx events` on the build machine (no module): usage errors come first, then the
/// missing module's 101; --help describes the options and that reading takes the
/// records. The guest side is Tests/e2e/guest-events.sh.
final class EventsCLITests: XCTestCase {
    let missingDevice = "/nonexistent/sbx-device"

    func testStatusesWithoutTheModule() throws {
        let missing = try CLI.run("sbx", ["events", "--device", missingDevice])
        XCTAssertEqual(missing.status, 101, missing.stderr)
        XCTAssertTrue(missing.stderr.contains("kernel module is not loaded"), missing.stderr)
        let badSince = try CLI.run("sbx", ["events", "--device", missingDevice, "--since", "yesterday"])
        XCTAssertEqual(badSince.status, 2, badSince.stderr)
        XCTAssertTrue(badSince.stderr.contains("--since 'yesterday'"), badSince.stderr)
        let badInterval = try CLI.run("sbx", ["events", "--device", missingDevice, "--follow", "--interval", "0"])
        XCTAssertEqual(badInterval.status, 2, badInterval.stderr)
        // A good --since and --json get past the checks to the (missing) module.
        let fine = try CLI.run(
            "sbx", ["events", "--device", missingDevice, "--json", "--since", "2026-12-07T04:30:00Z"])
        XCTAssertEqual(fine.status, 101, fine.stderr)
    }

    func testHelp() throws {
        let help = try CLI.run("sbx", ["events", "--help"])
        XCTAssertEqual(help.status, 0, help.stderr)
        for needle in [
            "--follow", "--json", "--since", "--journal", "--all", "Reading takes the records", "SBX_FUNCTION"
        ] {
            XCTAssertTrue(help.stdout.contains(needle), "missing \(needle) in:\n\(help.stdout)")
        }
        let top = try CLI.run("sbx", ["--help"])
        XCTAssertTrue(top.stdout.contains("events"), top.stdout)
    }
}
