import XCTest
@testable import DyckModel

/// The window of a thread and the binding's two rules in the reference monitor
/// (`specs/kernel-abi.md`, "Stepping" and "System-call binding"). The C core agrees
/// with all of this on random streams (`SbxBlobTests.DifferentialTests`); these are
/// the rules one by one.
final class SystemCallWindowTests: XCTestCase {
    // Numbers used below.
    let read = 0, write = 1, open = 2, mmap = 9, mprotect = 10, brk = 12, execve = 59, pkeyMprotect = 329

    /// The shared-helper policy (sites 0 main->a, 1 main->b, 2 a->h, 3 b->h; symbols
    /// open, read, write) with sets: open {open, mmap+exec}, read {read}, write {write};
    /// start {brk, mmap, mprotect, exec maps}; ambient {brk, mmap, mprotect}.
    func boundPolicy() -> Policy {
        var p = sharedHelperPolicy()
        p.syscalls = binding(symbols: 3)
        return p
    }

    func binding(symbols: Int) -> SystemCallBinding {
        let sets = [
            SystemCallSet.empty,
            SystemCallSet(numbers: [open, mmap], mapsExecutable: true),
            SystemCallSet(numbers: [read]),
            SystemCallSet(numbers: [write]),
            SystemCallSet(numbers: [brk, mmap, mprotect], mapsExecutable: true),
            SystemCallSet(numbers: [brk, mmap, mprotect])
        ]
        return SystemCallBinding(sets: sets, symbolSets: Array([1, 2, 3].prefix(symbols)), startSet: 4, ambientSet: 5)
    }

    func testMarkersSetTheWindow() {
        var m = ThreadMonitor(tables: MonitorTables(policy: boundPolicy()))
        XCTAssertEqual(m.window, .start, "exec: the start window")
        XCTAssertNil(m.step(.init(.call, 0)))
        XCTAssertEqual(m.window, .none)
        XCTAssertNil(m.step(.init(.call, 2)))
        XCTAssertEqual(m.window, .none)
        XCTAssertNil(m.step(.init(.libc, 1)))
        XCTAssertEqual(m.window, .libc(1))
        XCTAssertNil(m.step(.init(.ret, 2)))
        XCTAssertEqual(m.window, .none, "a return is program code again")
        XCTAssertNil(m.step(.init(.libc, 0)))
        XCTAssertEqual(m.window, .libc(0))
        // Refused markers change nothing, the window included.
        XCTAssertEqual(m.step(.init(.libc, 2)), .notAllowedHere)
        XCTAssertEqual(m.step(.init(.ret, 3)), .returnToWrongSite(expected: .site(0)))
        XCTAssertEqual(m.step(Marker(kind: 42, id: 0)), .unknownKind)
        XCTAssertEqual(m.window, .libc(0))
        XCTAssertNil(m.step(.init(.setjmpSave, 1)))
        XCTAssertEqual(m.window, .none)
        XCTAssertNil(m.step(.init(.ret, 0)))
        // a's setjmp died with a (a longjmp to it would be undefined behaviour): main's
        // own setjmp is the one a later longjmp may return to.
        XCTAssertNil(m.step(.init(.setjmpSave, 1)))
        XCTAssertNil(m.step(.init(.call, 1)))
        XCTAssertNil(m.step(.init(.call, 3)))
        XCTAssertEqual(m.window, .none)
        XCTAssertNil(m.step(.init(.libc, 1)))
        XCTAssertNil(m.step(.init(.setjmpResume, 1)))
        XCTAssertEqual(m.window, .none, "a longjmp lands in program code")
    }

    func testCallbacksSaveAndRestoreTheWindow() {
        // main: qsort then free; cmp: strcmp.
        let main = automaton(states: 3, finals: [2], [(0, .libc(0), 1), (1, .libc(1), 2)])
        let cmp = automaton(states: 2, finals: [1], [(0, .libc(2), 1)])
        var p = Policy(
            symbols: ["qsort", "free", "strcmp"],
            functions: [PolicyFunction(name: "main", automaton: main), PolicyFunction(name: "cmp", automaton: cmp)],
            sites: [], entry: 0, callbacks: [1])
        p.syscalls = binding(symbols: 3)
        var m = ThreadMonitor(tables: MonitorTables(policy: p))
        XCTAssertNil(m.step(.init(.libc, 0)))
        XCTAssertNil(m.step(.init(.callbackEnter, 1)))
        XCTAssertEqual(m.window, .none, "the callback is program code")
        XCTAssertEqual(m.top.savedWindow, .libc(0))
        XCTAssertEqual(m.systemCall(number: open), .systemCallOutsideWindow, "qsort's set is not the callback's")
        XCTAssertNil(m.step(.init(.libc, 2)))
        XCTAssertEqual(m.window, .libc(2))
        XCTAssertEqual(m.step(.init(.callbackExit, 2)), .idOutOfRange)
        XCTAssertEqual(m.window, .libc(2))
        XCTAssertNil(m.step(.init(.callbackExit, 1)))
        XCTAssertEqual(m.window, .libc(0), "back in qsort's window")
        XCTAssertNil(m.systemCall(number: open))

        // A handler entered in the start window returns to it.
        var s = ThreadMonitor(tables: MonitorTables(policy: p))
        XCTAssertNil(s.step(.init(.callbackEnter, 1)))
        XCTAssertNil(s.step(.init(.libc, 2)))
        XCTAssertNil(s.step(.init(.callbackExit, 1)))
        XCTAssertEqual(s.window, .start)
    }

    func testNewThreadsInheritTheirCreatorsWindowAndForksCopyIt() {
        let main = automaton(states: 2, finals: [1], [(0, .libc(0), 1)])
        let start = automaton(states: 2, finals: [1], [(0, .libc(2), 1)])
        var p = Policy(
            symbols: ["pthread_create", "free", "strcmp"],
            functions: [
                PolicyFunction(name: "main", automaton: main), PolicyFunction(name: "worker", automaton: start)
            ],
            sites: [], entry: 0, callbacks: [1])
        p.syscalls = binding(symbols: 3)
        var creator = ThreadMonitor(tables: MonitorTables(policy: p))
        XCTAssertNil(creator.step(.init(.libc, 0)))
        var thread = ThreadMonitor.newThread(createdBy: creator)
        XCTAssertEqual(thread.window, .libc(0), "pthread_create's window covers the thread's start in libc")
        XCTAssertNil(thread.systemCall(number: open))
        XCTAssertEqual(ThreadMonitor.newThread(tables: creator.tables).window, .none)
        XCTAssertNil(thread.step(.init(.callbackEnter, 1)))
        XCTAssertEqual(thread.window, .none)
        XCTAssertNil(thread.step(.init(.libc, 2)))
        XCTAssertNil(thread.step(.init(.callbackExit, 1)))
        XCTAssertEqual(thread.window, .libc(0), "the thread exits in its creator's window")

        var child = creator  // a fork: a copy
        XCTAssertEqual(child.window, .libc(0))
        XCTAssertNil(child.step(.init(.setjmpSave, 0)))
        XCTAssertEqual(child.window, .none)
        XCTAssertEqual(creator.window, .libc(0))
    }

    func testTheTwoRules() {
        var m = ThreadMonitor(tables: MonitorTables(policy: boundPolicy()))
        // start: {brk, mmap, mprotect, exec maps} plus the ambient set.
        XCTAssertNil(m.systemCall(number: brk))
        XCTAssertNil(m.systemCall(number: mmap, protection: 5))
        XCTAssertNil(m.systemCall(number: mprotect, protection: 5))
        XCTAssertEqual(
            m.systemCall(number: mprotect, protection: 7), .executableMapping, "never writable and executable")
        XCTAssertEqual(
            m.systemCall(number: pkeyMprotect, protection: 4), .systemCallOutsideWindow, "rule 1 before rule 2")
        XCTAssertEqual(m.systemCall(number: open), .systemCallOutsideWindow)
        XCTAssertNil(m.step(.init(.call, 0)))
        // none: the ambient set only, and never code.
        XCTAssertNil(m.systemCall(number: mmap, protection: 3))
        XCTAssertNil(m.systemCall(number: mprotect, protection: 1))
        XCTAssertEqual(m.systemCall(number: mmap, protection: 4), .executableMapping)
        XCTAssertEqual(m.systemCall(number: mprotect, protection: 1 << 40 | 7), .executableMapping)
        XCTAssertNil(m.systemCall(number: brk, protection: 4), "PROT_EXEC only matters to the three mapping calls")
        XCTAssertEqual(m.systemCall(number: read), .systemCallOutsideWindow)
        XCTAssertNil(m.step(.init(.call, 2)))
        XCTAssertNil(m.step(.init(.libc, 1)))
        // read's window: {read} and the ambient set; no code.
        XCTAssertNil(m.systemCall(number: read))
        XCTAssertEqual(m.systemCall(number: write), .systemCallOutsideWindow)
        XCTAssertEqual(m.systemCall(number: mmap, protection: 4), .executableMapping)
        XCTAssertNil(m.step(.init(.ret, 2)))
        XCTAssertNil(m.step(.init(.libc, 0)))
        // open's window maps code: mmap with PROT_EXEC passes, mprotect (ambient) too.
        XCTAssertNil(m.systemCall(number: mmap, protection: 5))
        XCTAssertNil(m.systemCall(number: mprotect, protection: 5))
        XCTAssertEqual(m.systemCall(number: execve), .systemCallOutsideWindow)
        // Numbers the sets cannot hold.
        for n: UInt64 in [511, 999, 1 << 32, UInt64.max] {
            XCTAssertEqual(m.systemCall(number: n, protection: 0), .systemCallOutsideWindow, "\(n)")
        }
        XCTAssertEqual(m.systemCall(number: -1), .systemCallOutsideWindow)
    }

    /// The ambient set only reads files: openat through it with a write flag is
    /// refused; through the window's set it is not.
    func testOpenatThroughTheAmbientSetOnlyReads() {
        var p = sharedHelperPolicy()
        var b = binding(symbols: 3)
        b.sets[5] = SystemCallSet(numbers: [brk, mmap, mprotect, 257])
        p.syscalls = b
        var m = ThreadMonitor(tables: MonitorTables(policy: p))
        XCTAssertNil(m.step(.init(.call, 0)))
        XCTAssertNil(m.systemCall(number: 257, protection: 0o2000000), "O_RDONLY | O_CLOEXEC")
        for flags: UInt64 in [0o1, 0o2, 0o100, 0o1000, 0o2000, 0o20000000 | 0o200000] {
            XCTAssertEqual(m.systemCall(number: 257, protection: flags), .systemCallOutsideWindow, "flags \(flags)")
        }
        XCTAssertNil(m.systemCall(number: brk, protection: 0o1), "the flags only matter to openat")
        XCTAssertNil(m.step(.init(.call, 2)))
        XCTAssertNil(m.step(.init(.libc, 1)))
        XCTAssertNil(m.step(.init(.ret, 2)))
        XCTAssertNil(m.step(.init(.libc, 0)))
        // open's window: sets[1] = {open, mmap}; add openat to it: it only reads,
        // unless the set has the write right.
        for writes in [false, true] {
            b.sets[1] = SystemCallSet(numbers: [open, mmap, 257], mapsExecutable: true, opensForWriting: writes)
            p.syscalls = b
            var w = ThreadMonitor(tables: MonitorTables(policy: p))
            XCTAssertNil(w.step(.init(.call, 0)))
            XCTAssertNil(w.step(.init(.call, 2)))
            XCTAssertNil(w.step(.init(.libc, 1)))
            XCTAssertNil(w.step(.init(.ret, 2)))
            XCTAssertNil(w.step(.init(.libc, 0)))
            XCTAssertNil(w.systemCall(number: 257, protection: 0o2000000), "O_CLOEXEC only reads")
            XCTAssertEqual(
                w.systemCall(number: 257, protection: 0o102), writes ? nil : .systemCallOutsideWindow,
                "O_RDWR | O_CREAT in a window whose set has openat, write right \(writes)")
        }
    }

    func testWithoutBindingEverythingPasses() {
        var m = ThreadMonitor(tables: MonitorTables(policy: sharedHelperPolicy()))
        XCTAssertNil(m.systemCallSet(of: m.window))
        XCTAssertNil(m.systemCall(number: execve))
        XCTAssertNil(m.systemCall(number: mmap, protection: 7))
        XCTAssertNil(m.systemCall(number: UInt64.max, protection: 0))
        XCTAssertNil(m.step(.init(.call, 0)))
        XCTAssertEqual(m.window, .none, "windows are kept all the same")
        // The module's own rules do not depend on the binding.
        XCTAssertEqual(m.enforcedSystemCall(number: 426, protection: 0, abi: .x86_64), .ioUring)
        XCTAssertEqual(m.enforcedSystemCall(number: 1, protection: 0, abi: .ia32), .compatSystemCall)
        XCTAssertNil(m.enforcedSystemCall(number: 1, protection: 0, abi: .x86_64))
    }

    func testModuleRulesComeFirst() {
        let m = ThreadMonitor(tables: MonitorTables(policy: boundPolicy()))
        XCTAssertEqual(m.enforcedSystemCall(number: UInt64(brk), protection: 0, abi: .ia32), .compatSystemCall)
        XCTAssertEqual(
            m.enforcedSystemCall(number: 1 << 30 | UInt64(brk), protection: 0, abi: .x86_64), .compatSystemCall)
        for n: UInt64 in [425, 426, 427] {
            XCTAssertEqual(m.enforcedSystemCall(number: n, protection: 0, abi: .x86_64), .ioUring)
        }
        XCTAssertNil(m.enforcedSystemCall(number: UInt64(brk), protection: 0, abi: .x86_64))
        // A negative number has the x32 bit but is not x32 (the kernel's `id > 0`).
        XCTAssertEqual(m.enforcedSystemCall(number: UInt64.max, protection: 0, abi: .x86_64), .systemCallOutsideWindow)
    }

    func testSkippedSiteMarkersOfTheFlattenedModelSetNone() {
        let p = boundPolicy()
        let map = FlattenedMarkers(policy: p)
        XCTAssertNotNil(map.flattened.syscalls, "flattening keeps the binding")
        var m = ThreadMonitor(tables: MonitorTables(policy: map.flattened))
        XCTAssertEqual(m.window, .start)
        XCTAssertNil(m.step(.init(.call, 0), flattened: map))
        XCTAssertEqual(m.window, .none)
        XCTAssertNil(m.step(.init(.libc, 1), flattened: map))
        XCTAssertEqual(m.window, .libc(1))
        XCTAssertNil(m.step(.init(.ret, 2), flattened: map))
        XCTAssertEqual(m.window, .none)
        XCTAssertNil(m.step(.init(.libc, 0), flattened: map))
        XCTAssertEqual(m.step(.init(.ret, 9), flattened: map), .idOutOfRange)
        XCTAssertEqual(m.window, .libc(0), "a refused site marker changes nothing")
    }
}
