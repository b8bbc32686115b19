import Foundation
import XCTest

/// A boot that hangs before the command is killed at --boot-timeout and retried.
/// Real hangs are rare (one CI run in a dozen, stuck in the guest kernel's initcalls),
/// so a stand-in `qemu-system-x86_64` first on PATH plays the guest: it hangs for the
/// first `FAKE_QEMU_HANGS` boots, then reports the command's status on the control
/// port as the real /init does. Everything else is the real `sbx vm`.
final class BootRetryTests: XCTestCase {
    var dir: URL!

    /// The real consoles BootConsoleTests reads, beside it in the unit target (a test
    /// target cannot import another).
    static func transcriptPath(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("SbxVMTests/Transcripts/\(name)").path
    }

    override func setUpWithError() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/qemu-system-x86_64") else {
            throw XCTSkip(
                "qemu-system-x86_64 is not installed (.ci/install-deps.sh installs it; the kernel cache needs it too)")
        }
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("sbx-vm-retry-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: dir.appendingPathComponent("bin"), withIntermediateDirectories: true)
        let fake = dir.appendingPathComponent("bin/qemu-system-x86_64")
        try Self.fakeQEMU.write(to: fake, atomically: true, encoding: .utf8)
        chmod(fake.path, 0o755)
    }

    override func tearDownWithError() throws {
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    static let fakeQEMU = #"""
        #!/bin/sh
        # Plays a guest: the nth boot (counted in $FAKE_QEMU_STATE) fails as
        # $FAKE_QEMU_FAIL says while n <= $FAKE_QEMU_HANGS, else the command "runs"
        # and exits 7. Failures: hang (default), panic (the console transcript
        # $FAKE_QEMU_TRANSCRIPT, then QEMU ends as with -no-reboot), qemu-error,
        # module-hang (hangs after /init's "stage module" line), crash-after-command
        # (reports "booted", then the transcript, and no status).
        ctl= klog=
        for arg in "$@"; do
            case "$arg" in
            file,id=ctl,path=*) ctl=${arg#file,id=ctl,path=} ;;
            file,id=klog,path=*) klog=${arg#file,id=klog,path=} ;;
            esac
        done
        n=$(( $(cat "$FAKE_QEMU_STATE" 2>/dev/null || echo 0) + 1 ))
        echo $n >"$FAKE_QEMU_STATE"
        if [ $n -le "$FAKE_QEMU_HANGS" ]; then
            case "${FAKE_QEMU_FAIL:-hang}" in
            hang)
                echo "[    0.000000] Linux version 6.1.0-57-amd64 (fake)" >"$klog"
                echo "[    1.088136] clocksource: Switched to clocksource hpet (boot $n)" >>"$klog"
                exec sleep 600 ;;
            panic)
                cat "$FAKE_QEMU_TRANSCRIPT" >"$klog"
                exit 0 ;;
            qemu-error)
                echo "qemu-system-x86_64: cannot set up guest memory 'pc.ram': Cannot allocate memory (boot $n)" >&2
                exit 1 ;;
            module-hang)
                printf '[    0.000000] Linux version 6.1.0-57-amd64 (fake)\n[    2.6] Run /init as init process\nsbx-init: stage module\n' >"$klog"
                exec sleep 600 ;;
            crash-after-command)
                printf 'booted 4.50\n' >"$ctl"
                cat "$FAKE_QEMU_TRANSCRIPT" >"$klog"
                exit 0 ;;
            esac
        fi
        echo "[    1.5] boot $n reached /init" >"$klog"
        printf 'booted 1.50\nstatus 7\ntainted 0\n' >"$ctl"
        exit 1
        """#

    func run(
        hangs: Int, attempts: Int, fail: String = "hang", transcript: String? = nil,
        options: [String] = []
    ) throws -> (result: VM.Result, boots: Int, seconds: Double) {
        let state = dir.appendingPathComponent("boots").path
        let start = Date()
        let result = try VM.sbx(
            ["vm", "--no-module", "--boot-timeout", "3", "--boot-attempts", String(attempts)] + options + [
                "--", "true"
            ],
            in: dir,
            environment: [
                "PATH": dir.appendingPathComponent("bin").path + ":/usr/bin:/bin",
                "FAKE_QEMU_STATE": state, "FAKE_QEMU_HANGS": String(hangs),
                "FAKE_QEMU_FAIL": fail,
                "FAKE_QEMU_TRANSCRIPT": transcript.map { Self.transcriptPath($0) } ?? ""
            ])
        let boots =
            Int(
                (try? String(contentsOfFile: state, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
                    ?? "") ?? 0
        return (result, boots, Date().timeIntervalSince(start))
    }

    func testHungBootsAreRetried() throws {
        let (result, boots, seconds) = try run(hangs: 2, attempts: 3)
        XCTAssertEqual(result.status, 7, "the third boot's command status: \(result.stderr)")
        XCTAssertEqual(boots, 3)
        XCTAssertLessThan(seconds, 60, "each hung boot is killed after --boot-timeout 3")
        let retries = result.stderr.split(separator: "\n").filter { $0.contains("booting again") }
        XCTAssertEqual(retries.count, 2, result.stderr)
        XCTAssertTrue(retries.first?.contains("within 3 s") ?? false, result.stderr)
        XCTAssertTrue(
            retries.first?.contains("Switched to clocksource hpet (boot 1)") ?? false,
            "names where boot 1 hung: \(result.stderr)")
        XCTAssertTrue(retries.last?.contains("boot 3 of 3") ?? false, result.stderr)
    }

    func testGivesUpAfterTheLastAttempt() throws {
        let (result, boots, _) = try run(hangs: 5, attempts: 2)
        XCTAssertEqual(result.status, 124, result.stderr)
        XCTAssertEqual(boots, 2)
        XCTAssertTrue(result.stderr.contains("did not reach the command within 3 s in any of 2 boots"), result.stderr)
        XCTAssertTrue(result.stderr.contains("(boot 2)"), "the last boot's kernel log: \(result.stderr)")
    }

    func testOneAttemptMeansNoRetry() throws {
        let (result, boots, _) = try run(hangs: 1, attempts: 1)
        XCTAssertEqual(result.status, 124, result.stderr)
        XCTAssertEqual(boots, 1)
        XCTAssertFalse(result.stderr.contains("booting again"), result.stderr)
    }

    /// A kernel panic before the command (the real console of "IO-APIC + timer
    /// doesn't work!") is retried, and the retry line says why.
    func testPanickedBootIsRetried() throws {
        let (result, boots, _) = try run(hangs: 1, attempts: 3, fail: "panic", transcript: "panic-io-apic-timer.log")
        XCTAssertEqual(result.status, 7, result.stderr)
        XCTAssertEqual(boots, 2)
        let retries = result.stderr.split(separator: "\n").filter { $0.contains("booting again") }
        XCTAssertEqual(retries.count, 1, result.stderr)
        XCTAssertTrue(
            retries.first?.contains(
                "boot 1 of 3 failed before the command started: the guest kernel panicked in the kernel's initialisation: IO-APIC + timer doesn't work!"
            ) ?? false, result.stderr)
        XCTAssertTrue(retries.first?.contains("(boot 2 of 3,") ?? false, result.stderr)
    }

    /// Every boot panicking: the error (125) names each boot's reason.
    func testPanicsInEveryBoot() throws {
        let (result, boots, _) = try run(hangs: 5, attempts: 2, fail: "panic", transcript: "panic-io-apic-timer.log")
        XCTAssertEqual(result.status, 125, result.stderr)
        XCTAssertEqual(boots, 2)
        XCTAssertTrue(
            result.stderr.contains("error: no boot reached the command in 2 boots: boot 1: the guest kernel panicked"),
            result.stderr)
        XCTAssertTrue(
            result.stderr.contains("Kernel panic - not syncing: IO-APIC + timer"),
            "the kernel log's tail: \(result.stderr)")
    }

    /// A panic after the command started is the test's own result: never retried.
    func testPanicAfterTheCommandStartedIsNotRetried() throws {
        let (result, boots, _) = try run(
            hangs: 1, attempts: 3, fail: "crash-after-command", transcript: "panic-after-command.log")
        XCTAssertEqual(result.status, 125, result.stderr)
        XCTAssertEqual(boots, 1)
        XCTAssertFalse(result.stderr.contains("booting again"), result.stderr)
        XCTAssertTrue(
            result.stderr.contains("the guest kernel panicked: Kernel panic - not syncing: sysrq triggered crash"),
            result.stderr)
    }

    /// QEMU failing before the kernel's first message is retried; the last one is an
    /// environment error (4) with QEMU's own message.
    func testQEMUErrorsAreRetried() throws {
        let (result, boots, _) = try run(hangs: 1, attempts: 3, fail: "qemu-error")
        XCTAssertEqual(result.status, 7, result.stderr)
        XCTAssertEqual(boots, 2)
        XCTAssertTrue(
            result.stderr.contains(
                "QEMU ended (exit status 1) before the kernel's first message without the command's status: qemu-system-x86_64: cannot set up guest memory 'pc.ram': Cannot allocate memory (boot 1)"
            ), result.stderr)
        let (always, tries, _) = try run(hangs: 5, attempts: 2, fail: "qemu-error")
        XCTAssertEqual(always.status, 4, always.stderr)
        XCTAssertEqual(tries, 2 + 2, "2 more boots, counted on from the first run")
    }

    /// A hang once /init is loading the module under test is the module's: not retried.
    func testHangWhileLoadingTheModuleIsNotRetried() throws {
        let (result, boots, _) = try run(hangs: 1, attempts: 3, fail: "module-hang")
        XCTAssertEqual(result.status, 124, result.stderr)
        XCTAssertEqual(boots, 1)
        XCTAssertTrue(result.stderr.contains("stuck while loading the module"), result.stderr)
        XCTAssertTrue(result.stderr.contains("not retried: the module under test had started loading"), result.stderr)
    }

    /// --timeout bounds every boot, retries included: with boots that hang for their
    /// 3 s each, --timeout 5 ends the run after about 5 s (not 3 x 3 s), in the
    /// second boot, with exit 124.
    func testTimeoutCountsEveryBoot() throws {
        let (result, boots, seconds) = try run(hangs: 5, attempts: 3, options: ["--timeout", "5"])
        XCTAssertEqual(result.status, 124, result.stderr)
        XCTAssertEqual(boots, 2)
        XCTAssertGreaterThanOrEqual(seconds, 5)
        XCTAssertLessThan(seconds, 8, "the third boot never starts")
        XCTAssertTrue(result.stderr.contains("booting again (boot 2 of 3, 1 s left of --timeout)"), result.stderr)
        XCTAssertTrue(
            result.stderr.contains(
                "did not reach the command before --timeout (5 s, which counts every boot) ran out: boot 2 was stuck in the kernel's initialisation"
            ), result.stderr)
        XCTAssertTrue(result.stderr.contains("; boot 1: the guest did not reach the command within 3 s"), result.stderr)
    }
}
