import SbxSystem
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The ELF reader over objects clang builds in the test.
final class ELFFileTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "sbx-elf-\(getpid())-\(UUID().uuidString)"
        XCTAssertEqual(mkdir(dir, 0o700), 0)
    }

    override func tearDown() {
        var process = Subprocess(["/bin/rm", "-rf", dir])
        process.stdout = .null
        _ = try? process.run()
    }

    /// Compiles `source` to an object with clang and returns its path.
    func compile(_ source: String, name: String = "t") throws -> String {
        let cPath = "\(dir)/\(name).c"
        try AtomicFile.write(Array(source.utf8), to: cPath)
        let object = "\(dir)/\(name).o"
        var clang = Subprocess(["/usr/bin/clang-19", "-c", "-O1", "-w", "-o", object, cPath])
        clang.stderr = .capture
        let result = try clang.run()
        XCTAssertEqual(result.status, .exited(0), result.stderrText)
        return object
    }

    static let source = """
        __attribute__((section(".sbx_test"), used)) static const char marker[12] = "hello, ELF!";
        extern int needed(int);
        int defined_here(int x) { return needed(x) + 1; }
        __attribute__((weak)) int weak_one(void) { return 2; }
        extern int weak_ref(void) __attribute__((weak));
        int use_weak(void) { return weak_ref ? weak_ref() : 0; }

        """

    func testNamedSectionAndSymbolsOfARealObject() throws {
        let object = try compile(Self.source)
        let fd = open(object, O_RDONLY | O_CLOEXEC)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        let file = try ELFFile(fd: fd, path: object)
        XCTAssertTrue(file.is64BitLittleEndian)
        XCTAssertEqual(try file.header().e_type, 1, "a relocatable object")
        let section = try XCTUnwrap(try file.section(named: ".sbx_test"))
        XCTAssertEqual(section.size, 12)
        XCTAssertEqual(try file.contents(of: section), Array("hello, ELF!".utf8) + [0])
        XCTAssertNil(try file.section(named: ".sbx_absent"))

        let symbols = try file.symbols()
        func symbol(_ name: String) -> ELFFile.Symbol? { symbols.first { $0.name == name } }
        XCTAssertEqual(symbol("defined_here")?.binding, 1)
        XCTAssertNotEqual(symbol("defined_here")?.sectionIndex, 0)
        XCTAssertEqual(symbol("needed")?.sectionIndex, 0, "undefined")
        XCTAssertEqual(symbol("weak_one")?.binding, 2)
        XCTAssertEqual(symbol("weak_ref")?.binding, 2)
        XCTAssertEqual(symbol("weak_ref")?.sectionIndex, 0)
        XCTAssertEqual(symbol("marker")?.binding, 0, "a local")

        // The same file read from memory reads the same.
        let bytes = try FileBytes.read(object, limit: 1 << 24)
        let inMemory = try ELFFile(bytes: bytes, path: object)
        XCTAssertEqual(try inMemory.sections(), try file.sections())
        XCTAssertEqual(try inMemory.symbols(), symbols)
    }

    func testGarbageIsATypedErrorNamingTheFile() throws {
        let path = "\(dir)/garbage.o"
        XCTAssertThrowsError(try ELFFile(bytes: Array("#!/bin/sh\nexit 0\n".utf8), path: path)) { error in
            XCTAssertEqual(error as? ELFError, ELFError(path: path, reason: "not an ELF file"))
            XCTAssertEqual("\(error)", "\(path): not an ELF file")
        }
    }

    /// An object cut in the middle of its section headers: refused when its sections
    /// are read, never read past its end.
    func testTruncatedObjectIsATypedErrorNamingTheFile() throws {
        let object = try compile(Self.source)
        let bytes = try FileBytes.read(object, limit: 1 << 24)
        for cut in [40, 64, bytes.count / 2, bytes.count - 8] {
            let path = "\(object) cut at \(cut)"
            XCTAssertThrowsError(
                try {
                    let file = try ELFFile(bytes: bytes.prefix(cut), path: path)
                    _ = try file.sections().map { try file.contents(of: $0) }
                    _ = try file.symbols()
                }(), "cut at \(cut)"
            ) { error in
                guard let error = error as? ELFError else { return XCTFail("\(error)") }
                XCTAssertEqual(error.path, path)
                XCTAssertTrue("\(error)".hasPrefix("\(path): "), "\(error)")
            }
        }
    }

    /// A section whose size points past the end of the file.
    func testSectionOutsideTheFileIsRefused() throws {
        let object = try compile(Self.source)
        var bytes = try FileBytes.read(object, limit: 1 << 24)
        let file = try ELFFile(bytes: bytes, path: object)
        let section = try XCTUnwrap(try file.section(named: ".sbx_test"))
        // sh_size of that section header: e_shoff + index * e_shentsize + 32.
        let header = try file.header()
        let at = Int(header.e_shoff) + section.index * Int(header.e_shentsize) + 32
        for i in 0..<8 { bytes[at + i] = i == 3 ? 0x10 : 0 }
        let broken = try ELFFile(bytes: bytes, path: "broken.o")
        XCTAssertThrowsError(try broken.contents(of: try XCTUnwrap(try broken.section(named: ".sbx_test")))) {
            error in
            XCTAssertEqual((error as? ELFError)?.path, "broken.o")
        }
    }
}
