import DyckModel
import LibcSyscalls
import XCTest

/// The bufferable rule (`BufferedEvents.isBufferable`) on the sets derived from this
/// machine's libc.so.6 (glibc 2.36). The plain wrappers are bufferable; the functions
/// that run programs, open files for writing or make sockets are not, and neither,
/// with the analysis as precise as it is today, is any stdio function: all of them
/// reach gconv's module loading (`mapsExecutable`) and `abort`'s `tgkill`
/// (specs/libc-syscalls.md, "Known imprecisions" and "Bufferable functions").
final class BufferedLibcTests: XCTestCase {
    func testPlainWrappersAreBufferable() throws {
        for name in ["read", "write", "getpid", "lseek", "close", "nanosleep", "fstat", "malloc", "free"] {
            let set = try DerivedLibc.summary(name).set
            XCTAssertTrue(BufferedEvents.isBufferable(set), "\(name): \(DerivedLibc.describe(set))")
        }
    }

    func testProgramRunningWritingAndNetworkFunctionsAreNot() throws {
        // execve: execve; system: clone/vfork + execve; fopen: openat for writing;
        // socket: socket; fork: clone; kill: kill; chmod: chmod; setuid: all numbers.
        for name in ["execve", "system", "fopen", "socket", "fork", "kill", "chmod", "setuid", "connect", "dlopen"] {
            let set = try DerivedLibc.summary(name).set
            XCTAssertFalse(BufferedEvents.isBufferable(set), "\(name): \(DerivedLibc.describe(set))")
        }
    }

    /// The finding that limits buffering today: stdio (and every function with a
    /// callback parameter) is not bufferable, for two reasons of its own, each enough.
    func testStdioIsNotBufferableAndWhy() throws {
        let tgkill = DerivedLibc.number("tgkill")
        for name in ["fputs", "fgets", "printf", "puts", "getc", "fputc", "qsort"] {
            let set = try DerivedLibc.summary(name).set
            XCTAssertFalse(BufferedEvents.isBufferable(set), name)
            XCTAssertTrue(set.mapsExecutable, "\(name): gconv's module loading")
            XCTAssertTrue(set.contains(tgkill), "\(name): abort's tgkill")
        }
    }

    func testWhyTheOthersAreNot() throws {
        XCTAssertTrue(try DerivedLibc.summary("fopen").set.opensForWriting, "fopen: the write right")
        XCTAssertTrue(try DerivedLibc.summary("dlopen").set.mapsExecutable, "dlopen: maps code")
        XCTAssertTrue(try DerivedLibc.summary("execve").set.contains(DerivedLibc.number("execve")))
        XCTAssertTrue(try DerivedLibc.summary("socket").set.contains(DerivedLibc.number("socket")))
        XCTAssertTrue(BufferedEvents.isAllNumbers(try DerivedLibc.summary("setuid").set), "setuid: all numbers")
    }

    /// Every function the analysis made "all numbers" (an unknown system-call site is
    /// reachable) is unbufferable.
    func testAllNumbersFunctionsAreNot() throws {
        let table = try DerivedLibc.table()
        for name in table.functionsMadeAll {
            guard let set = table[name]?.set else { continue }
            XCTAssertFalse(BufferedEvents.isBufferable(set), name)
        }
    }
}
