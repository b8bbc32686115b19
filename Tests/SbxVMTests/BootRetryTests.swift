import Foundation
import XCTest

/// A boot that hangs before the command is killed at --boot-timeout and retried.
/// Real hangs are rare (one CI run in a dozen, stuck in the guest kernel's initcalls),
/// so a stand-in `qemu-system-x86_64` first on PATH plays the guest: it hangs for the
/// first `FAKE_QEMU_HANGS` boots, then reports the command's status on the control
/// port as the real /init does. Everything else is the real `sbx vm`.
final class BootRetryTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/qemu-system-x86_64") else {
            throw XCTSkip("qemu-system-x86_64 is not installed (.ci/install-deps.sh installs it; the kernel cache needs it too)")
        }
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("sbx-vm-retry-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("bin"), withIntermediateDirectories: true)
        let fake = dir.appendingPathComponent("bin/qemu-system-x86_64")
        try Self.fakeQEMU.write(to: fake, atomically: true, encoding: .utf8)
        chmod(fake.path, 0o755)
    }

    override func tearDownWithError() throws {
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    static let fakeQEMU = #"""
        #!/bin/sh
        # Plays a guest: the nth boot (counted in $FAKE_QEMU_STATE) hangs while
        # n <= $FAKE_QEMU_HANGS, else the command "runs" and exits 7.
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
            echo "[    1.088136] clocksource: Switched to clocksource hpet (boot $n)" >"$klog"
            exec sleep 600
        fi
        echo "[    1.5] boot $n reached /init" >"$klog"
        printf 'booted 1.50\nstatus 7\ntainted 0\n' >"$ctl"
        exit 1
        """#

    func run(hangs: Int, attempts: Int) throws -> (result: VM.Result, boots: Int, seconds: Double) {
        let state = dir.appendingPathComponent("boots").path
        let start = Date()
        let result = try VM.sbx(["vm", "--no-module", "--boot-timeout", "3", "--boot-attempts", String(attempts), "--", "true"],
                                in: dir,
                                environment: ["PATH": dir.appendingPathComponent("bin").path + ":/usr/bin:/bin",
                                              "FAKE_QEMU_STATE": state, "FAKE_QEMU_HANGS": String(hangs)])
        let boots = Int((try? String(contentsOfFile: state, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
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
        XCTAssertTrue(retries.first?.contains("Switched to clocksource hpet (boot 1)") ?? false, "names where boot 1 hung: \(result.stderr)")
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
}
