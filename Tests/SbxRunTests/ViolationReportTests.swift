import CSbxDevice
import DyckModel
import SbxBlob
import SbxCLI
import XCTest
@testable import SbxRun

/// Reports explained against the policy of Tests/e2e/hijack.c (written by dyck-cc,
/// paths shortened): main calls getenv, then maintenance() directly (site 0) and
/// the handler indirectly (site 1, whose only candidate is the callback greet).
final class ViolationReportTests: XCTestCase {
    static let policyText = """
        dyck-policy 1
        kind dyck
        module hijack
        entry 1
        symbols 4
        sym 0 fprintf
        sym 1 getenv
        sym 2 printf
        sym 3 system
        functions 5
        func 0 maintenance states 4 initial 0 edges 3 @hijack.c:22
        final 2 3
        edge 0 1 libc 0 @hijack.c:24
        edge 1 2 libc 3 @hijack.c:25
        edge 2 3 libc 0 @hijack.c:26
        func 1 main states 4 initial 0 edges 4 @hijack.c:48
        final 3
        edge 0 1 libc 1 @hijack.c:55
        edge 1 2 call 0
        edge 1 3 call 1
        edge 2 3 call 1
        func 2 greet states 2 initial 0 edges 1 @hijack.c:16
        final 1
        edge 0 1 libc 2 @hijack.c:18
        func 3 decode states 1 initial 0 edges 0 @hijack.c:39
        final 0
        func 4 nibble states 1 initial 0 edges 0 @hijack.c:29
        final 0
        sites 2
        site 0 caller 1 callees 0 direct @hijack.c:56
        site 1 caller 1 callees 2 indirect @hijack.c:57
        callbacks 1
        callback 2
        end

        """

    func machine(_ mode: BlobMode) throws -> MacroMachine {
        try MacroMachine(policy: try Policy.parse(Self.policyText), mode: mode)
    }

    /// The hijack: the handler points at maintenance(), whose first libc call
    /// (fprintf) happens in the frame of site 1, where only greet may run.
    func testHijackedIndirectCall() throws {
        let m = try machine(.dyck)
        let record = ViolationRecord(
            pid: 7, tid: 7, command: "hijack", reason: UInt32(SBX_REASON_NOT_ALLOWED), kind: UInt64(SBX_MARK_LIBC),
            id: 0, tag: 0x4000_0001,
            macroState: UInt32(m.siteEntries[1]), depth: 2, flags: UInt32(SBX_REC_F_MARKER | SBX_REC_F_KILLED),
            stack: [0x4000_0001, 0])
        let report = ViolationReport(record: record, machine: m)
        XCTAssertTrue(report.killed)
        XCTAssertEqual(report.event.kind, "libc")
        XCTAssertEqual(report.event.name, "fprintf")
        XCTAssertEqual(report.functions, ["greet"])
        XCTAssertEqual(report.stack.map(\.kind), ["site", "root"])
        XCTAssertEqual(report.stack[0].location, "hijack.c:57")
        XCTAssertEqual(report.stack[0].callees, ["greet"])
        XCTAssertEqual(report.stack[1].function, "main")
        XCTAssertEqual(report.allowed.map(\.description), ["printf() at hijack.c:18"])
        let text = report.text
        XCTAssertTrue(text.contains("KILLED: pid 7 [hijack]: not allowed here"), text)
        XCTAssertTrue(text.contains("refused:  call of libc function fprintf()"), text)
        XCTAssertTrue(text.contains("greet() (indirect) in main at hijack.c:57"), text)
        XCTAssertFalse(report.stackTruncated)
    }

    /// After getenv, main may call maintenance (site 0) or the handler (site 1);
    /// neither can return yet, so no "return" is offered at depth 1.
    func testAllowedCallsInMain() throws {
        let m = try machine(.dyck)
        // The macro-state after getenv in main.
        let afterGetenv = try XCTUnwrap(m.transitions[m.initial].first { $0.key == .libc(1) }?.target)
        let record = ViolationRecord(
            reason: UInt32(SBX_REASON_NOT_ALLOWED), kind: UInt64(SBX_MARK_LIBC), id: 3, tag: 0,
            macroState: UInt32(afterGetenv), depth: 1, stack: [0])
        let report = ViolationReport(record: record, machine: m)
        XCTAssertEqual(report.event.description, "call of libc function system()")
        XCTAssertEqual(report.functions, ["main"])
        XCTAssertEqual(
            Set(report.allowed.map(\.description)),
            ["call maintenance() in main at hijack.c:56", "call greet() (indirect) in main at hijack.c:57"])
    }

    /// A record of a call-site marker names the site's callee and location; a
    /// record deeper than its stack says it is truncated.
    func testCallEventAndTruncatedStack() throws {
        let m = try machine(.dyck)
        let record = ViolationRecord(
            reason: UInt32(SBX_REASON_STACK_OVERFLOW), kind: UInt64(SBX_MARK_CALL), id: 0, tag: 0x4000_0000,
            macroState: UInt32(m.siteEntries[0]), depth: 40,
            stack: [UInt32](repeating: 0x4000_0000, count: 16))
        let report = ViolationReport(record: record, machine: m)
        XCTAssertEqual(report.event.description, "call of maintenance() in main at hijack.c:56")
        XCTAssertTrue(report.stackTruncated)
        XCTAssertEqual(report.stack.count, 16)
    }

    /// Log mode: a thread that exited still lost (reason 28, ABI 6) is reported with
    /// the events that went unchecked and where it was lost, not as a refusal.
    func testUnresynchronisedThread() throws {
        let m = try machine(.dyck)
        let afterGetenv = try XCTUnwrap(m.transitions[m.initial].first { $0.key == .libc(1) }?.target)
        let record = ViolationRecord(
            pid: 9, tid: 10, command: "lost", reason: UInt32(SBX_REASON_UNRESYNCED), action: UInt32(SBX_ACTION_LOG),
            syscall: 0, kind: 0, id: 42, tag: 0, macroState: UInt32(afterGetenv), depth: 1, flags: 0, stack: [0])
        XCTAssertTrue(record.isUnresynced)
        let report = ViolationReport(record: record, machine: m)
        XCTAssertEqual(report.uncheckedEvents, 42)
        XCTAssertFalse(report.killed)
        XCTAssertEqual(report.event.kind, "unchecked")
        XCTAssertEqual(report.functions, ["main"])
        XCTAssertTrue(report.allowed.isEmpty, "nothing was refused, so nothing is offered instead")
        let text = report.text
        XCTAssertTrue(
            text.hasPrefix(
                "sbx: monitoring lost: pid 9 (thread 10) [lost]: never resynchronised after its deviation\n"), text)
        XCTAssertTrue(text.contains("  unchecked: 42 events until the thread exited or execed\n"), text)
        XCTAssertTrue(text.contains("  lost in:  main()\n"), text)
        XCTAssertFalse(text.contains("refused:"), text)
        // Every other record has no count.
        let other = ViolationReport(
            record: ViolationRecord(
                reason: UInt32(SBX_REASON_NOT_ALLOWED), kind: UInt64(SBX_MARK_LIBC), id: 3, tag: 0,
                macroState: UInt32(afterGetenv),
                depth: 1, stack: [0]), machine: m)
        XCTAssertNil(other.uncheckedEvents)
    }

    /// Without the policy (it could not be rebuilt) the report still names ids.
    func testWithoutMachine() {
        let record = ViolationRecord(
            reason: UInt32(SBX_REASON_NOT_ALLOWED), kind: UInt64(SBX_MARK_CB_ENTER), id: 9, tag: 0, macroState: 0,
            depth: 1, stack: [0])
        let report = ViolationReport(record: record, machine: nil)
        XCTAssertEqual(report.event.description, "entry of callback #9")
        XCTAssertTrue(report.allowed.isEmpty)
    }

    /// An event refused from the event buffer (reason 29): the record is a marker's,
    /// with the system call at whose entry the buffer was drained (openat, 257), which
    /// the report gives as `drained_at`; a synchronous marker's record (999) has none.
    func testBufferedEventNamesTheCallThatDrainedIt() throws {
        let m = try machine(.dyck)
        let buffered = ViolationRecord(
            pid: 7, tid: 7, command: "hijack", reason: UInt32(SBX_REASON_BUFFER), syscall: 257,
            kind: UInt64(SBX_MARK_LIBC), id: 3, tag: 0, macroState: UInt32(m.initial), depth: 1,
            flags: UInt32(SBX_REC_F_MARKER | SBX_REC_F_KILLED), stack: [0])
        let report = ViolationReport(record: buffered, machine: m)
        XCTAssertEqual(report.drainedAt, 257)
        XCTAssertEqual(report.event.name, "system")
        XCTAssertTrue(report.reason.hasPrefix("buffered event that may not come from the buffer"), report.reason)
        XCTAssertTrue(
            report.text.contains("buffered: taken from the thread's event buffer at the entry of openat (257)"),
            report.text)
        let json = String(decoding: try JSONOutput.encoder().encode(report), as: UTF8.self)
        XCTAssertTrue(json.contains("\"drained_at\" : 257"), json)
        var marker = buffered
        marker.syscall = UInt32(SBX_MARKER_NR)
        let synchronous = ViolationReport(record: marker, machine: m)
        XCTAssertNil(synchronous.drainedAt)
        XCTAssertFalse(synchronous.text.contains("buffered:"))
    }

    /// An exec refused by the transition: the file, the exec's system call and the
    /// libc function that execed (the window); in the record's `detail`, the transition.
    func testExecDenied() throws {
        let m = try machine(.dyck)
        var record = ViolationRecord(
            pid: 9, tid: 9, command: "sh", reason: UInt32(SBX_REASON_EXEC_DENIED), syscall: 59, kind: 0, id: 3,
            tag: 0x4000_0000,
            macroState: 0, depth: 2, flags: UInt32(SBX_REC_F_KILLED), stack: [0x4000_0000])
        record.path = "/bin/sh"
        var report = ViolationReport(record: record, machine: m)
        XCTAssertEqual(report.event.kind, "exec")
        XCTAssertEqual(report.event.name, "/bin/sh")
        XCTAssertEqual(report.window, "system")
        XCTAssertEqual(report.reason, "exec of a program without an installed policy")
        XCTAssertTrue(
            report.text.contains("refused:  execve of /bin/sh after system() was announced: it has no installed policy")
        )
        XCTAssertTrue(report.text.contains("window:   system()"))
        XCTAssertFalse(report.text.contains("allowed:"))
        record.detail = UInt64(SBX_EXEC_DENY)
        report = ViolationReport(record: record, machine: m)
        XCTAssertEqual(report.reason, "exec refused (--exec=deny)")
        XCTAssertTrue(report.text.contains("every exec is refused (--exec=deny)"))
    }

    /// An installed executable rebuilt in place: the user is told so.
    func testRebuilt() throws {
        var record = ViolationRecord(
            pid: 9, tid: 9, command: "app", reason: UInt32(SBX_REASON_EXE_REBUILT), syscall: 0, kind: 0, id: 0, tag: 0,
            macroState: 0, depth: 0,
            flags: UInt32(SBX_REC_F_KILLED), stack: [])
        record.path = "/srv/app"
        let report = ViolationReport(record: record, machine: try machine(.dyck))
        XCTAssertEqual(report.reason, "this executable was rebuilt; its policy is not installed")
        XCTAssertTrue(
            report.text.contains("refused:  exec of /srv/app: this executable was rebuilt; its policy is not installed")
        )
        XCTAssertNil(report.window)
    }

    /// A never-allowed call names the call, and for prctl the option; a
    /// /proc/PID/mem open names the file's flags.
    func testNeverAllowedCalls() {
        func event(_ reason: UInt32, _ nr: UInt32, kind: UInt64 = 0) -> ViolationReport {
            ViolationReport(
                record: ViolationRecord(
                    reason: reason, syscall: nr, kind: kind, id: 0xffff_ffff, tag: 0, macroState: 1, depth: 1,
                    flags: UInt32(SBX_REC_F_KILLED), stack: [0]), machine: nil)
        }
        let ptrace = event(UInt32(SBX_REASON_FORBIDDEN_SYSCALL), 101)
        XCTAssertEqual(ptrace.reason, "system call no sandboxed program may make")
        XCTAssertEqual(ptrace.event.description, "system call ptrace (101)")
        XCTAssertTrue(ptrace.text.contains("refused:  system call ptrace (101)"))
        XCTAssertEqual(
            event(UInt32(SBX_REASON_FORBIDDEN_SYSCALL), 157, kind: 22 /* PR_SET_SECCOMP */).event.description,
            "prctl(PR_SET_SECCOMP) (157): it would hide system calls from the monitor")
        XCTAssertEqual(
            event(UInt32(SBX_REASON_FORBIDDEN_SYSCALL), 135, kind: 0x400000).event.description,
            "personality(0x400000) (135): a change of the system-call ABI")
        XCTAssertEqual(
            event(UInt32(SBX_REASON_PROC_MEM_WRITE), 257, kind: 0x8002).event.description,
            "open of a /proc/PID/mem file for writing (openat, flags 0x8002): it could rewrite a process's code")
    }

    func testCapabilityNames() throws {
        XCTAssertEqual(try CapabilitySet.parse("ALL").get(), .all)
        XCTAssertEqual(try CapabilitySet.parse("CAP_CHOWN,kill").get().bits, 1 << 0 | 1 << 5)
        XCTAssertEqual(try CapabilitySet.parse("cap_checkpoint_restore").get().bits, 1 << 40)
        XCTAssertEqual(CapabilitySet.parse("CAP_NOPE"), .failure(CapabilityNameError(name: "CAP_NOPE")))
        XCTAssertNil(CapabilitySet.kept(drop: nil, add: nil))
        XCTAssertEqual(CapabilitySet.kept(drop: .all, add: nil), CapabilitySet.none)
        XCTAssertEqual(CapabilitySet.kept(drop: .all, add: CapabilitySet(bits: 1 << 10))?.bits, 1 << 10)
        XCTAssertEqual(CapabilitySet.kept(drop: CapabilitySet(bits: 1), add: nil)?.bits, ~UInt64(1))
    }
}
