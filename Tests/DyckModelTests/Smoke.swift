import XCTest
final class DyckModelTestsSmoke: XCTestCase { func testNothing() {} }
