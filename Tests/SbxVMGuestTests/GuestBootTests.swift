import TestSupport
import Foundation
@testable import SbxVM
import XCTest

/// `sbx vm` end to end: each test boots a guest under TCG (a few seconds each, plus
/// the kernel's download the first time), so there are few of them and each checks
/// several things. They run without the module (`--no-module`): the module has its
/// own guest tests.
final class GuestBootTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/qemu-system-x86_64") else {
            throw XCTSkip("qemu-system-x86_64 is not installed (.ci/install-deps.sh installs it)")
        }
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("sbx-vm-boot-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    func testTrue() throws {
        let result = try VM.run(["--no-module", "--", "/bin/true"], in: dir)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "")
        XCTAssertEqual(result.commandStderr, "", "only sbx vm's own progress lines on stderr")
    }

    /// The command's status, stdout and stderr apart and free of kernel messages, the
    /// current directory writable, the rest of the host read-only, and the taint.
    func testStatusOutputAndFiles() throws {
        // Outside /tmp, which is writable in every guest: only as the current
        // directory is this one writable.
        let cwd = VM.binDir.appendingPathComponent("sbx-vm-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: cwd, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: cwd) }
        let taint = dir.appendingPathComponent("taint").path
        let log = dir.appendingPathComponent("kernel.log").path
        let script = """
            echo "out $SBX_VM $(id -u) $(pwd)"
            echo err >&2
            echo from-guest > written.txt
            touch /etc/sbx-vm-must-not-exist 2>/dev/null && echo "etc is writable"
            exit 7
            """
        let result = try VM.run(
            ["--no-module", "--taint-file", taint, "--kernel-log", log, "--", "sh", "-c", script], in: cwd)
        XCTAssertEqual(result.status, 7, result.stderr)
        XCTAssertEqual(result.stdout, "out 1 0 \(cwd.path)\n")
        XCTAssertEqual(result.commandStderr, "err\n")
        XCTAssertEqual(
            try String(contentsOf: cwd.appendingPathComponent("written.txt"), encoding: .utf8), "from-guest\n")
        let value = try XCTUnwrap(
            UInt64(String(contentsOfFile: taint, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        XCTAssertEqual(value & (1 << 7 | 1 << 9), 0, "no oops (D) or warning (W) taint")
        let kernelLog = try String(contentsOfFile: log, encoding: .utf8)
        XCTAssertTrue(kernelLog.contains("Linux version 6.1."), "the kernel's console went to --kernel-log")
        XCTAssertFalse(result.stdout.contains("Linux version"))
    }

    /// Also a boot under --icount (instruction counting), which the mbed TLS
    /// benchmark uses.
    func testSignalStatus() throws {
        let result = try VM.run(["--no-module", "--icount", "--", "sh", "-c", "kill -SEGV $$"], in: dir)
        XCTAssertEqual(result.status, 128 + 11, result.stderr)
    }

    func testTimeout() throws {
        let start = Date()
        let result = try VM.run(["--no-module", "--timeout", "3", "--", "sleep", "600"], in: dir)
        XCTAssertEqual(result.status, 124, result.stderr)
        XCTAssertTrue(result.stderr.contains("--timeout"), result.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(start), 60)
    }

    /// A kernel panic the command causes (sysrq crash) is the command's result: exit
    /// 125 after one boot, never booted again; the console shows the command started.
    func testPanicAfterTheCommandIsNotRetried() throws {
        let log = dir.appendingPathComponent("kernel.log").path
        let result = try VM.run(
            ["--no-module", "--kernel-log", log, "--", "sh", "-c", "echo started; echo c > /proc/sysrq-trigger"],
            in: dir)
        XCTAssertEqual(result.status, 125, result.stderr)
        XCTAssertEqual(result.stdout, "started\n")
        XCTAssertTrue(
            result.stderr.contains("the guest kernel panicked: Kernel panic - not syncing: sysrq triggered crash"),
            result.stderr)
        XCTAssertFalse(result.stderr.contains("booting again"), result.stderr)
        let console = BootConsole.lines(try String(contentsOfFile: log, encoding: .utf8))
        XCTAssertEqual(BootConsole.stage(console), .command)
    }

    /// Errors found before any boot.
    func testUsageErrors() throws {
        for (args, words) in [
            (["vm"], ["missing the command"]),
            (["vm", "--memory", "lots", "--", "true"], ["--memory"]),
            (["vm", "--timeout", "0", "--", "true"], ["--timeout"]),
            (["vm", "--boot-timeout", "-1", "--", "true"], ["--boot-timeout"]),
            (["vm", "--boot-attempts", "0", "--", "true"], ["--boot-attempts"]),
            (["vm", "--kvm", "--icount", "--", "true"], ["--icount", "--kvm"]),
            (["vm", "--module", "/nonexistent/sbx_dyck.ko", "--", "true"], ["/nonexistent/sbx_dyck.ko"]),
            (["vm", "--module", "/etc/passwd", "--", "true"], ["/etc/passwd", "not a kernel module"]),
            (["vm", "--no-module", "--module", "x.ko", "--", "true"], ["--no-module"]),
            (["vm", "--no-module", "--env", "1X=2", "--", "true"], ["--env"])
        ] {
            let result = try VM.sbx(args, in: dir)
            XCTAssertEqual(result.status, 2, "\(args): \(result.stderr)")
            for word in words { XCTAssertTrue(result.stderr.contains(word), "\(word) in: \(result.stderr)") }
        }
        // The command captures what follows the options, but not a leading --help.
        let help = try VM.sbx(["vm", "--no-module", "--help"], in: dir)
        XCTAssertEqual(help.status, 0, help.stderr)
        XCTAssertTrue(help.stdout.contains("--timeout"), help.stdout)
    }
}

/// Runs the built `sbx`.
enum VM {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String

        /// stderr without the `sbx vm:` progress lines (the first run downloads).
        var commandStderr: String {
            stderr.split(separator: "\n", omittingEmptySubsequences: false)
                .filter { !$0.hasPrefix("sbx vm: ") }
                .joined(separator: "\n")
        }
    }

    static let binDir: URL = BuiltProducts.directory(holding: "sbx")

    static func run(_ args: [String], in directory: URL) throws -> Result {
        try sbx(["vm"] + args, in: directory)
    }

    /// `environment` replaces variables of this process's environment.
    static func sbx(_ args: [String], in directory: URL, environment: [String: String] = [:]) throws -> Result {
        let path = binDir.appendingPathComponent("sbx").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw XCTSkip("\(path) is not built; run `swift build` before `swift test` (the Makefile does)")
        }
        let outcome = try ProcessRunner.run(path, args, extraEnvironment: environment, directory: directory)
        return Result(status: outcome.status, stdout: outcome.stdoutText, stderr: outcome.stderrText)
    }
}
