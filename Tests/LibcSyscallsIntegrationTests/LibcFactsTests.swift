import DyckModel
import Foundation
@testable import LibcSyscalls
import XCTest

/// Facts about glibc 2.36 (Debian 12's libc.so.6 and ld.so) that the derived sets must
/// respect (specs/libc-syscalls.md). Two directions:
///
/// - `contains`: the function really makes the call (from glibc's source, and where the
///   empirical test can run it, seen under strace). A set without it is unsound: the
///   kernel would kill a correct program. A failure here is a bug of the analysis.
/// - `lacks`: the function cannot make the call on any path. A set with it is sound but
///   imprecise; these guard the precision the policy depends on (the issue: "a sound
///   over-approximation that makes every libc function able to execve is useless").
final class LibcFactsTests: XCTestCase {
    private func assertContains(
        _ function: String, _ calls: [String], file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let set = try DerivedLibc.summary(function, file: file, line: line).set
        for call in calls {
            XCTAssertTrue(
                set.contains(DerivedLibc.number(call, file: file, line: line)),
                "UNSOUND: \(function) makes \(call), but its derived set lacks it (\(DerivedLibc.describe(set)))",
                file: file, line: line)
        }
    }

    private func assertLacks(
        _ function: String, _ calls: [String], file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let set = try DerivedLibc.summary(function, file: file, line: line).set
        for call in calls {
            XCTAssertFalse(
                set.contains(DerivedLibc.number(call, file: file, line: line)),
                "imprecise: \(function) cannot make \(call), but its derived set has it", file: file, line: line)
        }
    }

    private let processCreation = ["execve", "execveat", "clone", "clone3", "fork", "vfork"]

    func testPlainWrappers() throws {
        try assertContains("write", ["write"])
        try assertLacks("write", ["execve", "openat", "open", "clone", "clone3"] + processCreation)
        try assertContains("read", ["read"])
        try assertLacks("read", ["execve", "openat", "open", "clone", "clone3"] + processCreation)
        for name in ["write", "read"] {
            let summary = try DerivedLibc.summary(name)
            XCTAssertFalse(summary.set.mapsExecutable, name)
            XCTAssertFalse(summary.mayCallBack, name)
        }
        try assertContains("getpid", ["getpid"])
        try assertContains("socket", ["socket"])
        try assertContains("kill", ["kill"])
        try assertContains("sigaction", ["rt_sigaction"])
        try assertContains("nanosleep", ["clock_nanosleep"])
        try assertContains("waitpid", ["wait4"])
        try assertContains("vfork", ["vfork"])
        try assertContains("execve", ["execve"])
        try assertLacks("execve", ["clone", "clone3", "fork", "vfork"])
        try assertContains("execv", ["execve"])
        try assertContains("_exit", ["exit_group"])
        try assertContains("abort", ["tgkill", "rt_sigprocmask"])
        try assertLacks("abort", processCreation)
    }

    /// glibc 2.36's posix_spawn (and system and popen, which use it) creates the child
    /// with `__clone_internal`: `clone3`, and `clone` when the kernel answers ENOSYS; the
    /// child then runs `__spawni_child`, which ends in `execve`.
    func testProcessCreation() throws {
        for name in ["system", "posix_spawn", "posix_spawnp", "popen"] {
            try assertContains(name, ["execve", "clone3", "clone"])
        }
        try assertContains("system", ["wait4", "rt_sigaction", "rt_sigprocmask"])
        try assertContains("pclose", ["wait4"])
        // fork: _Fork's inline clone; it never execs.
        try assertContains("fork", ["clone"])
        try assertLacks("fork", ["execve", "execveat"])
        // pthread_create: __clone_internal too (clone3, then clone).
        try assertContains("pthread_create", ["clone3", "clone"])
        XCTAssertTrue(try DerivedLibc.summary("pthread_create").mayCallBack, "the start routine is program code")
    }

    /// The stdio functions reach a lot through the FILE vtables (specs "Known
    /// imprecisions"), but never a process: the edges that would give every libc
    /// function `execve` are the ones the analysis must not have.
    func testStdioCreatesNoProcess() throws {
        for name in ["puts", "printf", "fprintf", "snprintf", "fgets", "fputs", "fopen", "fclose", "fflush"] {
            try assertLacks(name, processCreation)
        }
        try assertContains("fopen", ["openat"])
        try assertContains("fclose", ["close"])
        try assertContains("fflush", ["write"])
        try assertContains("puts", ["write"])
        try assertContains("fgets", ["read"])
    }

    /// Opening for writing (specs/libc-syscalls.md, "Opening for writing"): the
    /// functions that do have the right; stdio on open streams, the allocator, name
    /// lookups and time conversion only read files (their internal fopen's mode is "r").
    func testOpeningForWriting() throws {
        for name in ["fopen", "freopen", "open", "openat", "creat", "mkstemp", "tmpfile", "popen", "system", "syslog"] {
            XCTAssertTrue(try DerivedLibc.summary(name).set.opensForWriting, "UNSOUND: \(name) opens for writing")
        }
        for name in [
            "puts", "printf", "fprintf", "fputs", "fgets", "fread", "fwrite", "fflush", "fclose", "malloc",
            "free", "getpwnam", "getaddrinfo", "localtime", "strftime", "qsort", "dlopen", "read", "write"
        ] {
            XCTAssertFalse(
                try DerivedLibc.summary(name).set.opensForWriting, "imprecise: \(name) never opens for writing")
        }
        XCTAssertTrue(try DerivedLibc.table().startSet.opensForWriting)
    }

    func testLoader() throws {
        let dlopen = try DerivedLibc.summary("dlopen")
        XCTAssertTrue(dlopen.set.mapsExecutable, "dlopen maps the library's code")
        try assertContains("dlopen", ["openat", "mmap", "mprotect", "read", "close", "newfstatat"])
        try assertLacks("dlopen", processCreation)
        try assertContains("dlclose", ["munmap"])
    }

    func testPureFunctions() throws {
        for name in ["strlen", "memcpy", "memmove", "memset", "strcmp", "strcoll", "strtol", "getenv", "strchr"] {
            let summary = try DerivedLibc.summary(name)
            XCTAssertEqual(summary.set, .empty, "\(name): \(DerivedLibc.describe(summary.set))")
            XCTAssertFalse(summary.mayCallBack, name)
            XCTAssertTrue(try DerivedLibc.table().isSilent(name), name)
        }
    }

    func testExit() throws {
        try assertContains("exit", ["exit_group"])
        XCTAssertTrue(try DerivedLibc.summary("exit").mayCallBack, "exit runs the atexit handlers")
        try assertLacks("exit", ["execve", "execveat", "clone3", "vfork"])
    }

    func testCallbacks() throws {
        for name in ["qsort", "bsearch", "pthread_create", "atexit" /* not in libc.so.6: skipped */] {
            guard let summary = try DerivedLibc.table()[name] else { continue }
            XCTAssertTrue(summary.mayCallBack, "\(name) calls a function the program passes")
            XCTAssertFalse(try DerivedLibc.table().isSilent(name), name)
        }
    }

    func testNetworkAndSyslog() throws {
        try assertContains("getaddrinfo", ["socket", "connect", "sendto", "recvmsg", "openat", "read"])
        try assertContains("openlog", ["socket", "connect"])
        try assertContains("syslog", ["socket", "connect", "sendto"])
        try assertContains("closelog", ["close"])
        for name in ["getaddrinfo", "syslog", "openlog"] { try assertLacks(name, processCreation) }
    }

    /// Process start: ld.so's `_start` (`_dl_start`, `dl_main`: the preload file, the
    /// libraries' mappings, the thread pointer, the TID address, the robust list, rseq)
    /// and `__libc_start_main`.
    func testStartSet() throws {
        let start = try DerivedLibc.table().startSet
        XCTAssertTrue(start.mapsExecutable)
        for call in [
            "openat", "read", "pread64", "newfstatat", "mmap", "mprotect", "munmap", "close", "brk",
            "access", "arch_prctl", "set_tid_address", "set_robust_list", "rseq", "prlimit64"
        ] {
            XCTAssertTrue(
                start.contains(DerivedLibc.number(call)),
                "UNSOUND: the loader's start-up makes \(call), but the start set lacks it")
        }
    }

    func testAmbientSet() {
        let ambient = LibcSyscallTable.ambient
        XCTAssertFalse(ambient.mapsExecutable, "executable mappings are never ambient")
        for call in ["brk", "mmap", "munmap", "mremap", "madvise", "mprotect"] {
            XCTAssertTrue(ambient.contains(DerivedLibc.number(call)), "the allocator's \(call)")
        }
        for call in processCreation + ["socket", "connect", "ptrace", "kill", "tgkill", "setuid", "mount", "unlink"] {
            XCTAssertFalse(ambient.contains(DerivedLibc.number(call)), "\(call) is not ambient")
        }
        XCTAssertEqual(Set(LibcSyscallTable.ambientNames).count, LibcSyscallTable.ambientNames.count)
        XCTAssertEqual(
            ambient.numbers.count, LibcSyscallTable.ambientNames.count, "every ambient name is a system call")
    }

    /// Rules of the table itself: silence, "all numbers", what an unknown site does.
    func testTableInvariants() throws {
        let table = try DerivedLibc.table()
        XCTAssertGreaterThan(table.functions.count, 2000)
        for (name, summary) in table.functions {
            // Silent: ambient calls only, no callback, and no read-only file access of
            // its own unless it is the allocator (whose reads are its lazy ones).
            let readsFiles = summary.set.numbers.contains { LibcSyscallTable.readOnlyFileAccess.contains($0) }
            XCTAssertEqual(
                table.isSilent(name),
                !summary.mayCallBack && summary.set.isSubset(of: LibcSyscallTable.ambient)
                    && (!readsFiles || LibcSyscallTable.allocator.contains(name)), name)
            if table.isSilent(name) { XCTAssertFalse(summary.set.mapsExecutable, name) }
        }
        for name in table.functionsMadeAll {
            XCTAssertEqual(table[name]?.set.numbers.count, SystemCallSet.maximumNumber + 1, name)
        }
        // Each unknown site makes its callers "all numbers"; keep their number from growing.
        XCTAssertLessThanOrEqual(table.unknownSites.count, 2, "\(table.unknownSites)")
        // The generic wrapper can make anything, executable mappings included.
        let wrapper = try DerivedLibc.summary("syscall")
        XCTAssertTrue(wrapper.set.mapsExecutable)
        XCTAssertEqual(wrapper.set.numbers.count, SystemCallSet.maximumNumber + 1)
    }

    func testCacheRoundTrip() throws {
        let table = try DerivedLibc.table()
        let text = LibcSyscallCache.serialize(table)
        XCTAssertEqual(LibcSyscallCache.parse(text), table)
        XCTAssertNil(LibcSyscallCache.parse(String(text.dropLast(5))), "a truncated file is not a table")
        let key = try LibcSyscallCache.cacheKey(
            libcPath: DerivedLibc.libcPath, loaderPath: LibcSyscallAnalysis.defaultLoaderPath)
        XCTAssertTrue(key.hasPrefix("v\(LibcSyscallCache.analysisVersion)-"), key)
    }

    /// libc_nonshared.a's members get the union of the sets of what they reference.
    func testStaticMembers() throws {
        let archive = "/usr/lib/x86_64-linux-gnu/libc_nonshared.a"
        guard FileManager.default.fileExists(atPath: archive) else { throw XCTSkip("no \(archive)") }
        let table = try DerivedLibc.table().addingStaticMembers(of: archive)
        XCTAssertEqual(table["atexit"]?.set, table["__cxa_atexit"]?.set)
        XCTAssertEqual(table["pthread_atfork"]?.set, table["__register_atfork"]?.set)
        XCTAssertEqual(table["__stack_chk_fail_local"]?.set, table["__stack_chk_fail"]?.set)
    }
}
