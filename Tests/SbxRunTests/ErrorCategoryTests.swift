import DyckModel
import SbxCLI
import SbxRun
import XCTest

/// The sandbox's error categories live in SbxCLI beside their exit statuses; the
/// statuses scripts rely on stay what `ExitStatus` documents.
final class ErrorCategoryTests: XCTestCase {
    func testRunErrorsKeepTheirExitStatuses() {
        let cases: [(RunError, Int32)] = [
            (.moduleNotLoaded(device: "/dev/sbx"), 101),
            (.policyMissing(path: "p.dyck", program: "p", given: true), 102),
            (.policyUnusable(path: "p.dyck", reason: "corrupt"), 102),
            (.notInstrumented(program: "p", reason: "no .sbx_policy section"), 103),
            (.notPrivileged(device: "/dev/sbx", operation: "load"), 104),
            (.wrongPolicy(program: "p", policy: "q.dyck", reason: "digest"), 105),
            (.alreadyInstalled(executable: "/bin/p", rebuilt: false), 106),
            (.programNotExecutable(program: "p", reason: "permission denied"), 126),
            (.programNotFound("p"), 127),
            (.deviceFailed(device: "/dev/sbx", operation: "status", errno: 5), 4),
            (.spawnFailed(program: "p", operation: "fork", errno: 11), 4)
        ]
        for (error, status) in cases {
            XCTAssertEqual(ExitStatus(error.category).rawValue, status, "\(error)")
        }
    }

    func testSharedCategories() {
        XCTAssertEqual(ExitStatus(.badInput), .badInput)
        XCTAssertEqual(ExitStatus(.outputFailed), .outputFailed)
        XCTAssertEqual(ExitStatus(.environment), .environment)
    }

    /// A category no table knows is a bug of the tool, not some other failure.
    func testUnknownCategoryIsAnInternalError() {
        XCTAssertEqual(ExitStatus(ErrorCategory("made up")), .internalError)
        XCTAssertEqual(ExitStatus(ErrorCategory("wrong policy")), .wrongPolicy, "categories compare by name")
    }
}
