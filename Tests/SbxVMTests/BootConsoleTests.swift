import Foundation
@testable import SbxVM
import XCTest

/// The boot-stage detector on real guest consoles (Transcripts/, each the
/// `--kernel-log` of a real `sbx vm` boot of Debian's 6.1.0-57 kernel under QEMU 7.2
/// TCG; see Transcripts/README.md for how each was obtained).
final class BootConsoleTests: XCTestCase {
    static func transcriptPath(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Transcripts/\(name)").path
    }

    func transcript(_ name: String) throws -> [String] {
        BootConsole.lines(try String(contentsOfFile: Self.transcriptPath(name), encoding: .utf8))
    }

    /// The first `count` lines up to and including the first line containing `text`.
    func prefix(_ lines: [String], through text: String) throws -> [String] {
        let index = try XCTUnwrap(lines.firstIndex(where: { $0.contains(text) }), "no line with \(text)")
        return Array(lines[...index])
    }

    /// A successful boot with the module: every stage in order, as the console grows.
    func testStagesOfASuccessfulBoot() throws {
        let lines = try transcript("boot-with-module.log")
        XCTAssertEqual(BootConsole.stage([]), .firmware)
        XCTAssertEqual(BootConsole.stage(try prefix(lines, through: "Linux version 6.1.0-57-amd64")), .kernel)
        XCTAssertEqual(BootConsole.stage(try prefix(lines, through: "x86/fpu: Enabled xstate")), .kernel)
        XCTAssertEqual(BootConsole.stage(try prefix(lines, through: "9p: Installing v9fs")), .userspace)
        XCTAssertEqual(BootConsole.stage(try prefix(lines, through: "sbx-init: stage module")), .module)
        XCTAssertEqual(BootConsole.stage(try prefix(lines, through: "sbx: loaded: abi")), .module)
        XCTAssertEqual(BootConsole.stage(lines), .command)
        XCTAssertNil(BootConsole.panic(lines))
        // The control port's "booted" is authoritative, even before the console shows it.
        XCTAssertEqual(BootConsole.stage(try prefix(lines, through: "sbx: loaded: abi"), controlBooted: true), .command)
        // Which of them a failure may be retried at.
        XCTAssertEqual(
            [BootStage.firmware, .kernel, .userspace, .module, .command].map(\.retryable),
            [true, true, true, false, false])
    }

    /// Two CPUs, no module: straight from userspace to the command.
    func testTwoCPUsWithoutModule() throws {
        let lines = try transcript("boot-2-cpus-no-module.log")
        XCTAssertEqual(BootConsole.stage(try prefix(lines, through: "x86: Booting SMP configuration")), .kernel)
        XCTAssertEqual(BootConsole.stage(try prefix(lines, through: "Run /init as init process")), .userspace)
        XCTAssertEqual(BootConsole.stage(lines), .command)
        XCTAssertNil(BootConsole.panic(lines))
    }

    /// The panic of a guest whose timer check failed: early in the kernel, retryable.
    func testIOAPICTimerPanic() throws {
        let lines = try transcript("panic-io-apic-timer.log")
        XCTAssertEqual(BootConsole.stage(lines), .kernel)
        XCTAssertEqual(
            BootConsole.panic(lines),
            "IO-APIC + timer doesn't work!  Boot with apic=debug and send a report.  Then try booting with the 'noapic' option."
        )
        let failure = BootFailure(
            .panic(BootConsole.panic(lines)!), stage: BootConsole.stage(lines),
            lastMessage: BootConsole.lastMessage(lines))
        XCTAssertTrue(failure.retryable)
        XCTAssertEqual(failure.lastMessage, "</TASK>")
        XCTAssertTrue(
            failure.reason.hasPrefix(
                "the guest kernel panicked in the kernel's initialisation: IO-APIC + timer doesn't work!"),
            failure.reason)
    }

    /// A panic the command itself caused (sysrq crash): after the command started, so
    /// it is the test's result and must never be retried.
    func testPanicAfterTheCommandStarted() throws {
        let lines = try transcript("panic-after-command.log")
        XCTAssertEqual(BootConsole.stage(lines), .command)
        XCTAssertEqual(BootConsole.panic(lines), "sysrq triggered crash")
        XCTAssertFalse(BootConsole.stage(lines).retryable)
    }

    /// A boot killed at --boot-timeout while the kernel initialised: no panic, the
    /// kernel's stage, and the last message says where it was.
    func testBootKilledInTheKernel() throws {
        let lines = try transcript("killed-in-kernel-init.log")
        XCTAssertEqual(BootConsole.stage(lines), .kernel)
        XCTAssertNil(BootConsole.panic(lines))
        XCTAssertEqual(
            BootConsole.lastMessage(lines),
            "x86/fpu: Enabled xstate features 0x21f, context size is 2696 bytes, using 'standard' format.")
        let failure = BootFailure(.hang(60), stage: .kernel, lastMessage: BootConsole.lastMessage(lines))
        XCTAssertEqual(
            failure.reason,
            "the guest did not reach the command within 60 s (--boot-timeout), stuck in the kernel's initialisation; the kernel's last message was \"x86/fpu: Enabled xstate features 0x21f, context size is 2696 bytes, using 'standard' format.\""
        )
    }

    /// Lines that only look like stage markers do not count.
    func testMarkersMustStartTheMessage() {
        XCTAssertEqual(
            BootConsole.stage([
                "[    1.0] audit: comm=\"sh\" Linux version in a message", "[    2.0] x: Run /init as init process"
            ]), .firmware)
        XCTAssertEqual(BootConsole.stage(["[    0.0] Linux version 6.1", "[    5.0] echo sbx-init: booted"]), .kernel)
        XCTAssertNil(BootConsole.panic(["[    3.0] Kernel panic test string without the kernel's words"]))
        XCTAssertEqual(
            BootConsole.stripTimestamp("[    4.593248] Kernel panic - not syncing: x"), "Kernel panic - not syncing: x")
        XCTAssertEqual(BootConsole.stripTimestamp("sbx-init: booted 3.21"), "sbx-init: booted 3.21")
    }

    /// The TCG kernel command line carries the parameters for a slow guest; KVM's not.
    func testTCGKernelArguments() {
        let kernel = GuestKernel(release: "6.1.0-57-amd64", image: "/k", initramfs: "/i")
        var command = QEMUCommand(
            kernel: kernel, memoryMiB: 512, cpus: 2, kvm: false, runDirectory: "/tmp/r",
            kernelLog: "/tmp/r/k.log", rootWritable: false, writable: [])
        XCTAssertTrue(command.kernelCommandLine.contains(" no_timer_check tsc=reliable "), command.kernelCommandLine)
        command.kvm = true
        XCTAssertFalse(command.kernelCommandLine.contains("no_timer_check"), command.kernelCommandLine)
        XCTAssertFalse(command.kernelCommandLine.contains("tsc=reliable"), command.kernelCommandLine)
    }
}
