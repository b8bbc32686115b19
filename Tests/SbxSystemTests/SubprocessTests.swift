import SbxSystem
import XCTest

#if canImport(Glibc)
import Glibc
#endif

final class SubprocessTests: XCTestCase {
    func sh(_ script: String) -> Subprocess {
        var process = Subprocess(["/bin/sh", "-c", script])
        process.stdout = .capture
        process.stderr = .capture
        return process
    }

    func testExitCodeIsDecoded() throws {
        let result = try sh("exit 3").run()
        XCTAssertEqual(result.status, .exited(3))
        XCTAssertEqual(result.status.shellStatus, 3)
        XCTAssertNil(result.status.signal)
        XCTAssertEqual(try sh("true").run().status, .exited(0))
    }

    func testSignalIsDecoded() throws {
        let result = try sh("kill -KILL $$").run()
        XCTAssertEqual(result.status, .signaled(SIGKILL))
        XCTAssertEqual(result.status.shellStatus, 128 + SIGKILL)
        XCTAssertEqual(result.status.signal, SIGKILL)
        XCTAssertEqual(result.status.description, "signal 9")
    }

    func testRawWaitStatuses() {
        // The layouts of waitpid(2) on Linux: code << 8; the signal, 0x80 for a core
        // dump; 0x7f with the stop signal above it.
        XCTAssertEqual(WaitStatus(rawValue: 0x0100), .exited(1))
        XCTAssertEqual(WaitStatus(rawValue: 0xff00), .exited(255))
        XCTAssertEqual(WaitStatus(rawValue: 0x0b | 0x80), .signaled(11))
        XCTAssertEqual(WaitStatus(rawValue: 0x137f), .stopped(19))
    }

    /// Much more than a pipe holds (64 KiB) on both streams, interleaved: a runner that
    /// drained one pipe before the other would block for ever.
    func testLargeOutputOnBothPipesDoesNotDeadlock() throws {
        let script =
            "i=0; while [ $i -lt 2000 ]; do echo \"out $i ................................................................\"; echo \"err $i ................................................................\" >&2; i=$((i+1)); done"
        let result = try sh(script).run()
        XCTAssertEqual(result.status, .exited(0))
        let outLines = result.stdoutText.split(separator: "\n")
        let errLines = result.stderrText.split(separator: "\n")
        XCTAssertEqual(outLines.count, 2000)
        XCTAssertEqual(errLines.count, 2000)
        XCTAssertGreaterThan(result.stdout.count, 128 * 1024)
        XCTAssertGreaterThan(result.stderr.count, 128 * 1024)
        XCTAssertEqual(outLines.last.map(String.init)?.hasPrefix("out 1999 "), true)
        XCTAssertEqual(errLines.last.map(String.init)?.hasPrefix("err 1999 "), true)
    }

    /// stdin larger than a pipe, echoed back while it is written.
    func testStdinIsWrittenWhileOutputIsRead() throws {
        let input = (0..<20_000).map { "line \($0)\n" }.joined()
        var process = Subprocess(["/bin/cat"])
        process.stdin = .bytes(Array(input.utf8))
        process.stdout = .capture
        let result = try process.run()
        XCTAssertEqual(result.status, .exited(0))
        XCTAssertEqual(result.stdoutText, input)
        XCTAssertTrue(result.stderr.isEmpty)
    }

    /// A child that reads nothing: the input is dropped, without SIGPIPE for us.
    func testChildIgnoringStdin() throws {
        var process = sh("exit 4")
        process.stdin = .bytes([UInt8](repeating: 65, count: 1 << 20))
        XCTAssertEqual(try process.run().status, .exited(4))
    }

    func testEnvironmentIsReplaced() throws {
        var process = sh("echo \"[$SBX_SUBPROCESS_TEST] [$HOME]\"")
        process.environment = ["SBX_SUBPROCESS_TEST": "a value with spaces", "PATH": "/bin:/usr/bin"]
        XCTAssertEqual(try process.run().stdoutText, "[a value with spaces] []\n")
        // nil: inherited.
        setenv("SBX_SUBPROCESS_TEST", "inherited", 1)
        defer { unsetenv("SBX_SUBPROCESS_TEST") }
        XCTAssertEqual(try sh("echo \"$SBX_SUBPROCESS_TEST\"").run().stdoutText, "inherited\n")
    }

    func testWorkingDirectoryAndFiles() throws {
        let dir = NSTemporaryDirectory() + "sbx-subprocess-\(getpid())"
        mkdir(dir, 0o700)
        defer { unlink(dir + "/out.txt"); rmdir(dir) }
        var process = Subprocess(["/bin/sh", "-c", "pwd; echo oops >&2"])
        process.workingDirectory = dir
        process.stdout = .file(dir + "/out.txt")
        process.stderr = .standardOutput
        let result = try process.run()
        XCTAssertEqual(result.status, .exited(0))
        XCTAssertTrue(result.stdout.isEmpty)
        let written = try FileBytes.read(dir + "/out.txt", limit: 4096)
        XCTAssertEqual(String(decoding: written, as: UTF8.self), dir + "\noops\n")
    }

    func testNewProcessGroup() throws {
        var process = sh("ps -o pgid= -p $$ | tr -d ' '; echo $$")
        process.newProcessGroup = true
        let lines = try process.run().stdoutText.split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        XCTAssertEqual(lines.first, lines.last, "the child leads its own group")
        XCTAssertNotEqual(lines.first.flatMap { Int32($0) }, getpgrp())
    }

    func testDefaultSignalsAreRestored() throws {
        let old = signal(SIGTERM, SIG_IGN)
        defer { signal(SIGTERM, old) }
        // Ignored signals stay ignored across exec unless reset.
        XCTAssertEqual(try sh("kill -TERM $$; exit 7").run().status, .exited(7))
        var process = sh("kill -TERM $$; exit 7")
        process.defaultSignals = [SIGTERM]
        XCTAssertEqual(try process.run().status, .signaled(SIGTERM))
    }

    func testMissingExecutableIsATypedError() {
        let process = Subprocess(["/nonexistent/sbx-no-such-tool", "x"])
        XCTAssertThrowsError(try process.run()) { error in
            guard let error = error as? SubprocessError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.code, ENOENT)
            XCTAssertEqual(error.executable, "/nonexistent/sbx-no-such-tool")
            XCTAssertEqual(error.description, "cannot run /nonexistent/sbx-no-such-tool: No such file or directory")
        }
    }

    func testPollSeesTheEnd() throws {
        let child = try Subprocess(["/bin/sh", "-c", "exit 5"]).spawn()
        var status: WaitStatus? = nil
        for _ in 0..<500 where status == nil {
            status = try child.poll()
            if status == nil { usleep(10_000) }
        }
        XCTAssertEqual(status, .exited(5))
    }
}

final class SubprocessSignalMaskTests: XCTestCase {
    /// A caller that blocks signals around the spawn (to publish the pid to a signal
    /// handler) must not hand the blocked mask on to the child.
    func testChildStartsWithNoSignalBlocked() throws {
        var block = sigset_t()
        var saved = sigset_t()
        sigemptyset(&block)
        sigaddset(&block, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &block, &saved)
        defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
        var process = Subprocess(["/bin/sh", "-c", "grep '^SigBlk' /proc/self/status"])
        process.stdout = .capture
        let result = try process.run()
        XCTAssertEqual(result.stdoutText, "SigBlk:\t0000000000000000\n")
    }
}
