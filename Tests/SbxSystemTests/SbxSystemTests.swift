import Foundation
import SbxSystem
import XCTest

final class SbxSystemTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("sbx-system-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    private func make(_ name: String, _ bytes: [UInt8], mode: Int = 0o644) throws -> String {
        let path = dir + "/" + name
        XCTAssertTrue(
            FileManager.default.createFile(atPath: path, contents: Data(bytes), attributes: [.posixPermissions: mode]))
        return path
    }

    private func entries() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
    }

    // MARK: FileBytes

    func testReadsWholeFilesAndEnforcesTheLimitOnWhatIsRead() throws {
        let bytes = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let path = try make("f", bytes)
        XCTAssertEqual(try FileBytes.read(path), bytes)
        XCTAssertEqual(try FileBytes.read(path, limit: bytes.count), bytes)
        XCTAssertThrowsError(try FileBytes.read(path, limit: bytes.count - 1)) { error in
            XCTAssertEqual(error as? FileReadError, .tooLarge(limit: bytes.count - 1))
        }
        // /proc files report size 0: the limit holds on the bytes actually read.
        XCTAssertThrowsError(try FileBytes.read("/proc/self/maps", limit: 10)) { error in
            XCTAssertEqual(error as? FileReadError, .tooLarge(limit: 10))
        }
        XCTAssertEqual(try FileBytes.read(try make("empty", [])), [])
    }

    func testReadFailuresCarryErrno() throws {
        XCTAssertThrowsError(try FileBytes.read(dir + "/missing")) { error in
            XCTAssertEqual(error as? FileReadError, .system(SystemError(ENOENT)))
            XCTAssertEqual("\(error)", "No such file or directory")
        }
        XCTAssertThrowsError(try FileBytes.read(dir)) { error in
            XCTAssertEqual(error as? FileReadError, .system(SystemError(EISDIR)))
        }
    }

    func testReadPrefix() throws {
        let path = try make("p", Array("!<arch>\nrest".utf8))
        XCTAssertEqual(try FileBytes.readPrefix(path, count: 8), Array("!<arch>\n".utf8))
        XCTAssertEqual(try FileBytes.readPrefix(try make("short", [1, 2]), count: 8), [1, 2])
    }

    // MARK: AtomicFile

    func testReplacesKeepingTheModeAndLeavesNoTemporaryFile() throws {
        let path = try make("out", [1, 2, 3], mode: 0o640)
        try AtomicFile.write([9, 9], to: path)
        XCTAssertEqual(try FileBytes.read(path), [9, 9])
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o640)
        XCTAssertEqual(try entries(), ["out"])
    }

    func testProducerWritesThroughAPathAndItsFailureChangesNothing() throws {
        let path = try make("ir", Array("old".utf8), mode: 0o600)
        try AtomicFile.write(to: path) { temporary in
            FileManager.default.createFile(atPath: temporary, contents: Data("new".utf8)) ? nil : "cannot create"
        }
        XCTAssertEqual(try FileBytes.read(path), Array("new".utf8))
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int, 0o600)
        XCTAssertThrowsError(try AtomicFile.write(to: path) { _ in "LLVM could not print the module" }) { error in
            XCTAssertEqual((error as? AtomicWriteError)?.reason, "LLVM could not print the module")
        }
        XCTAssertEqual(try FileBytes.read(path), Array("new".utf8))
        XCTAssertEqual(try entries(), ["ir"])
    }

    func testWriteIntoAMissingDirectoryFailsWithTheSystemsReason() throws {
        XCTAssertThrowsError(try AtomicFile.write([1], to: dir + "/no/such/file")) { error in
            XCTAssertTrue("\(error)".contains("No such file or directory"), "\(error)")
        }
        XCTAssertThrowsError(try AtomicFile.write([1], to: dir + "/")) { error in
            XCTAssertTrue("\(error)".contains("not a file name"), "\(error)")
        }
    }

    // MARK: Executables

    func testFindSearchesLikeAShell() throws {
        let bin = dir + "/bin"
        try FileManager.default.createDirectory(atPath: bin + "/tool", withIntermediateDirectories: true)
        let other = dir + "/other"
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        _ = try make("other/tool", [0x23, 0x21], mode: 0o755)
        _ = try make("bin/plain", [0], mode: 0o644)
        // A directory of that name and a file without execute permission are passed over.
        XCTAssertEqual(Executables.find("tool", searchPath: "\(bin):\(other)"), "\(other)/tool")
        XCTAssertNil(Executables.find("plain", searchPath: bin))
        XCTAssertNil(Executables.find("", searchPath: bin))
        // A name with a slash is not searched for.
        XCTAssertEqual(Executables.find("\(other)/tool", searchPath: "/nonexistent"), "\(other)/tool")
        XCTAssertNil(Executables.find("other/tool", searchPath: other))
        // An empty entry is the current directory (POSIX).
        let saved = FileManager.default.currentDirectoryPath
        defer { _ = FileManager.default.changeCurrentDirectoryPath(saved) }
        XCTAssertTrue(FileManager.default.changeCurrentDirectoryPath(other))
        XCTAssertEqual(Executables.find("tool", searchPath: "/nonexistent::"), "tool")
    }
}
