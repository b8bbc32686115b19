import XCTest
final class DyckAnalysisTestsSmoke: XCTestCase { func testNothing() {} }
