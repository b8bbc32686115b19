import DyckAnalysis
import Foundation
import XCTest

final class BadInputTests: XCTestCase {
    func testIRThatDoesNotParseNamesTheFile() throws {
        let path = try Fixtures.write("define i32 @main() {\n  ret i32 %undefined\n}\n", to: "broken.ll")
        XCTAssertThrowsError(try analyzeIR(atPath: path)) { error in
            guard case let AnalysisError.irDoesNotParse(errorPath, message) = error else {
                return XCTFail("unexpected \(error)")
            }
            XCTAssertEqual(errorPath, path)
            XCTAssertFalse(message.contains("\n"), "one line: \(message)")
            XCTAssertTrue(message.contains("undefined"), message)
            XCTAssertTrue("\(error)".contains(path), "\(error)")
        }
    }

    func testTruncatedBitcodeDoesNotParse() throws {
        let bitcode = try Fixtures.compile("straight", flags: ["-O0", "-c"], suffix: "bc")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: bitcode))
        let path = Fixtures.workDirectory.appendingPathComponent("truncated.bc").path
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try analyzeIR(atPath: path)) { error in
            guard case AnalysisError.irDoesNotParse(path, _) = error else { return XCTFail("unexpected \(error)") }
            XCTAssertTrue("\(error)".contains(path))
        }
    }

    func testUnreadableFile() throws {
        let path = Fixtures.workDirectory.appendingPathComponent("does-not-exist.ll").path
        XCTAssertThrowsError(try analyzeIR(atPath: path)) { error in
            XCTAssertEqual(error as? AnalysisError, .unreadableFile(path: path, reason: "No such file or directory"))
            XCTAssertTrue("\(error)".contains(path))
        }
        let directory = Fixtures.workDirectory.path
        XCTAssertThrowsError(try analyzeIR(atPath: directory)) { error in
            XCTAssertEqual(error as? AnalysisError, .unreadableFile(path: directory, reason: "Is a directory"))
        }
    }

    func testCSourceIsNotIR() throws {
        let path = Fixtures.source("straight").path
        XCTAssertThrowsError(try analyzeIR(atPath: path)) { error in
            guard case AnalysisError.notLLVMIR(path, _) = error else { return XCTFail("unexpected \(error)") }
            XCTAssertTrue("\(error)".contains(path))
        }
    }

    func testBinaryFilesAreNotIR() throws {
        let object = Fixtures.workDirectory.appendingPathComponent("straight.o").path
        try Fixtures.run(try Fixtures.clang(), ["-c", "-o", object, Fixtures.source("straight").path])
        let random = Fixtures.workDirectory.appendingPathComponent("random.bin").path
        try Data([0x00, 0x01, 0xFF, 0x42, 0x43, 0x00]).write(to: URL(fileURLWithPath: random))
        for path in [object, random] {
            XCTAssertThrowsError(try analyzeIR(atPath: path)) { error in
                guard case AnalysisError.notLLVMIR(path, _) = error else { return XCTFail("unexpected \(error)") }
            }
        }
    }

    func testMissingEntry() throws {
        let path = try Fixtures.compile("straight", flags: ["-O0", "-S"])
        XCTAssertThrowsError(try analyzeIR(atPath: path, options: AnalysisOptions(entry: "start"))) { error in
            XCTAssertEqual(error as? AnalysisError, .entryNotDefined(path: path, name: "start"))
            XCTAssertTrue("\(error)".contains("'start'"))
        }
        // A declaration is not a definition.
        let declared = try Fixtures.write("declare i32 @main()\n", to: "declared-main.ll")
        XCTAssertThrowsError(try analyzeIR(atPath: declared)) { error in
            XCTAssertEqual(error as? AnalysisError, .entryNotDefined(path: declared, name: "main"))
        }
    }

    func testOtherEntry() throws {
        let path = try Fixtures.compile("helper", flags: ["-O0", "-S"])
        let policy = try analyzeIR(atPath: path, options: AnalysisOptions(entry: "bar")).policy
        XCTAssertEqual(policy.functions[policy.entry].name, "bar")
    }

    func testUnavailableLibc() throws {
        let path = try Fixtures.compile("straight", flags: ["-O0", "-S"])
        let libc = Fixtures.workDirectory.appendingPathComponent("no-libc.so.6").path
        XCTAssertThrowsError(try analyzeIR(atPath: path, options: AnalysisOptions(libcPath: libc))) { error in
            guard case AnalysisError.libcSymbolsUnavailable(libc, _) = error else {
                return XCTFail("unexpected \(error)")
            }
        }
    }
}
