import Foundation
import SbxTrace
import XCTest

/// `sbx record` refuses programs built with buffered events (`dyck-cc --dyck-buffer`,
/// recognised by their `.sbx_evbuf` section): their appended events are in their
/// memory, not in markers, and the recorder does not read the buffer, so a trace
/// would miss them. Refused before the program runs, or at the exec that starts one.
final class BufferedRefusalTests: XCTestCase {
    private func build(_ name: String, _ source: String, in dir: URL) throws -> String {
        let file = dir.appendingPathComponent("\(name).c")
        let binary = dir.appendingPathComponent(name)
        try source.write(to: file, atomically: true, encoding: .utf8)
        let result = try Run.process("/usr/bin/clang-19", ["-O1", "-w", file.path, "-o", binary.path])
        XCTAssertEqual(result.status, 0, result.stderrText)
        return binary.resolvingSymlinksInPath().path
    }

    /// The section as the instrumentation writes it (version 1, capacity 32, tpoff);
    /// the program prints a line, so that a run is visible.
    private let buffered = """
        #include <stdio.h>
        static __thread __attribute__((tls_model("local-exec"), used)) unsigned long __sbx_evbuf[33];
        __asm__(".pushsection .sbx_evbuf,\\"aR\\",@progbits\\n.balign 8\\n.long 1\\n.long 32\\n.quad __sbx_evbuf@tpoff\\n.popsection\\n");
        int main(void) { puts("ran"); return 0; }
        """

    func testABufferedProgramIsRefusedBeforeItRuns() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/clang-19") else { throw XCTSkip("no clang-19") }
        let dir = try Run.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let program = try build("buffered", buffered, in: dir)
        let output = dir.appendingPathComponent("t.trace").path
        XCTAssertThrowsError(try TraceRecorder.record(command: [program], output: output)) { error in
            XCTAssertEqual((error as? RecordError)?.reason, .bufferedProgram(path: program))
            XCTAssertEqual((error as? RecordError)?.category, .badInput)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: output), "no trace of a refused program")
        // Through the CLI: the typed error's exit status (bad input) and its message.
        let cli = try Run.process(try Run.sbx(), ["record", "-o", output, program])
        XCTAssertEqual(cli.status, 2, cli.stderrText)
        XCTAssertTrue(cli.stderrText.contains("buffered events"), cli.stderrText)
        XCTAssertFalse(String(decoding: cli.stdout, as: UTF8.self).contains("ran"), "the program never ran")
    }

    func testAnExecOfABufferedProgramStopsTheRecording() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/clang-19") else { throw XCTSkip("no clang-19") }
        let dir = try Run.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let program = try build("buffered", buffered, in: dir)
        let launcher = try build(
            "launcher",
            """
            #include <unistd.h>
            int main(int argc, char **argv) { execv(argv[1], argv + 1); return 127; }
            """, in: dir)
        XCTAssertThrowsError(try TraceRecorder.record(command: [launcher, program])) { error in
            XCTAssertEqual((error as? RecordError)?.reason, .bufferedProgram(path: program))
        }
        // A program without the section records as before.
        let plain = try build("plain", "int main(void) { return 0; }", in: dir)
        XCTAssertNoThrow(try TraceRecorder.record(command: [launcher, plain]))
    }
}
