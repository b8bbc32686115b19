import DyckModel
import Foundation
import TestSupport
import XCTest
@testable import SbxRun

/// The `.sbx_evbuf` section (`specs/kernel-abi.md`, "Buffered events") of
/// hand-made executables, built with clang-19 as the instrumentation would define
/// it: the static linker resolves `__sbx_evbuf@tpoff` (PIE and not), and a section
/// that is not what dyck-cc writes is refused.
final class EventBufferSectionTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("sbx-evbuf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    /// A program with the buffer and the section; `version`, `cap` and `offset` (an
    /// assembler expression) as given. It prints the offset it finds at run time.
    func program(version: String = "1", cap: String = "32", offset: String = "__sbx_evbuf@tpoff", extraTLS: Int = 0)
        -> String
    {
        """
        #include <stdint.h>
        #include <stdio.h>
        struct evbuf { uint32_t count, reserved; uint64_t ev[32]; };
        __attribute__((tls_model("local-exec"), visibility("hidden"), aligned(8)))
        __thread struct evbuf __sbx_evbuf;
        __thread char other[\(extraTLS + 1)];
        __asm__(".pushsection .sbx_evbuf, \\"a\\"\\n.balign 8\\n.long \(version)\\n.long \(cap)\\n"
                ".quad \(offset)\\n.popsection\\n");
        int main(void)
        {
            uintptr_t tp;
            __asm__("mov %%fs:0, %0" : "=r"(tp));
            other[0] = 1;
            printf("%lld\\n", (long long)((intptr_t)&__sbx_evbuf - (intptr_t)tp));
            return 0;
        }
        """
    }

    func build(_ source: String, _ flags: [String], name: String) throws -> String {
        let c = dir.appendingPathComponent("\(name).c").path
        try source.write(toFile: c, atomically: true, encoding: .utf8)
        let exe = dir.appendingPathComponent(name).path
        try Tools.mustRun("/usr/bin/clang-19", ["-O1", "-w"] + flags + ["-o", exe, c])
        return exe
    }

    func read(_ exe: String) throws -> EventBufferSection? {
        let fd = open(exe, O_RDONLY | O_CLOEXEC)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        return try EventBufferSection.read(fd: fd, program: exe)
    }

    func testLinkerResolvesTheOffset() throws {
        for (name, flags) in [("pie", ["-fPIE", "-pie"]), ("nopie", ["-fno-PIE", "-no-pie"])] {
            for extra in [0, 1000] {
                let exe = try build(program(extraTLS: extra), flags, name: "\(name)\(extra)")
                let section = try XCTUnwrap(try read(exe), name)
                let run = try Tools.run(exe, [])
                XCTAssertEqual(run.status, 0, name)
                XCTAssertEqual(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "\(section.tpoff)", name)
                XCTAssertLessThanOrEqual(section.tpoff, -264)
            }
        }
    }

    func testWithoutSectionIsNil() throws {
        let exe = try build("int main(void) { return 0; }\n", [], name: "plain")
        XCTAssertNil(try read(exe))
    }

    func testMalformedSectionsAreRefused() throws {
        let cases: [(String, String)] = [
            ("version", program(version: "2")),
            ("capacity", program(cap: "64")),
            ("positive", program(offset: "8")),
            ("unaligned", program(offset: "__sbx_evbuf@tpoff - 4")),
            ("too far", program(offset: "-(1 << 31)")),
            ("too near", program(offset: "-256"))
        ]
        for (name, source) in cases {
            let exe = try build(source, [], name: name.replacingOccurrences(of: " ", with: "_"))
            XCTAssertThrowsError(try read(exe), name) { error in
                guard case RunError.notInstrumented(_, let reason) = error else {
                    return XCTFail("\(name): \(error)")
                }
                XCTAssertTrue(reason.hasPrefix(".sbx_evbuf: "), reason)
            }
        }
    }
}
