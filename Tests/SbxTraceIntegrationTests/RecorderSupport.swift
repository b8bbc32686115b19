import TestSupport
import DyckModel
import Foundation
import SbxTrace
import XCTest

/// Small C programs that issue markers with an inline `syscall`, as instrumented
/// programs do (`specs/marker-abi.md`), compiled once per test run by clang-19.
enum TestPrograms {
    static let prelude = """
        #define _GNU_SOURCE
        #include <pthread.h>
        #include <signal.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <sys/wait.h>
        #include <unistd.h>

        static long mark(unsigned long kind, unsigned long id)
        {
            long r;
            asm volatile("syscall" : "=a"(r) : "a"(999L), "D"(kind), "S"(id) : "rcx", "r11", "memory");
            return r;
        }

        /* A raw 64-bit system call with known first three arguments. */
        static long raw3(long nr, long a, long b, long c)
        {
            long r;
            asm volatile("syscall" : "=a"(r) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
            return r;
        }

        """

    static let sources: [String: String] = [
        // Raw system calls between markers, with known numbers and third arguments:
        // getppid, an executable mapping, mprotect RWX, an x32 number (ENOSYS here or
        // not, it is entered), a 32-bit int 0x80 getpid, and 999 through int 0x80,
        // which is not a marker.
        "syscalls": """
        #include <sys/mman.h>
        int main(void)
        {
            long r;
            mark(1, 1);
            raw3(110, 0, 0, 77);
            mark(1, 2);
            void *p = (void *)raw3(9, 0, 4096, PROT_READ | PROT_EXEC | (1L << 40));
            raw3(10, (long)p, 4096, PROT_READ | PROT_WRITE | PROT_EXEC);
            mark(2, 3);
            raw3((1L << 30) | 39, 0, 0, 5);
            asm volatile("int $0x80" : "=a"(r) : "a"(20L), "b"(0L), "c"(0L), "d"(1234L) : "memory");
            asm volatile("int $0x80" : "=a"(r) : "a"(999L), "b"(1L), "c"(2L), "d"(3L) : "memory");
            mark(3, 3);
            return 0;
        }
        """,
        // Every kind, the largest id, an unknown kind, an id with upper bits set; the
        // marker must still fail with -ENOSYS (the recorder changes nothing).
        "single": """
        int main(void)
        {
            mark(1, 0); mark(2, 5); mark(3, 5); mark(4, 2); mark(5, 2);
            mark(6, 9); mark(7, 0); mark(8, 0); mark(1, 4294967295UL);
            mark(42, 7); mark(1, 1UL << 32);
            return mark(1, 3) == -38 ? 0 : 1;
        }
        """,
        "fork": """
        int main(void)
        {
            int st;
            mark(1, 1);
            pid_t c = fork();
            if (c == 0) { mark(1, 100); mark(1, 101); _exit(5); }
            waitpid(c, &st, 0);
            mark(1, 2);
            return WIFEXITED(st) && WEXITSTATUS(st) == 5 ? 0 : 1;
        }
        """,
        "forks": """
        int main(void)
        {
            pid_t c[10];
            for (int i = 0; i < 10; i++) {
                c[i] = fork();
                if (c[i] == 0) {
                    for (int j = 0; j < 20; j++) mark(1, i * 100 + j);
                    _exit(i);
                }
            }
            int ok = 1;
            for (int i = 0; i < 10; i++) {
                int st;
                waitpid(c[i], &st, 0);
                ok = ok && WIFEXITED(st) && WEXITSTATUS(st) == i;
            }
            return ok ? 0 : 1;
        }
        """,
        "threads": """
        static void *worker(void *arg)
        {
            long base = (long)arg;
            for (int i = 0; i < 50; i++) mark(1, base + i);
            return 0;
        }
        int main(void)
        {
            pthread_t t[2];
            mark(2, 1);
            pthread_create(&t[0], 0, worker, (void *)1000);
            pthread_create(&t[1], 0, worker, (void *)2000);
            pthread_join(t[0], 0);
            pthread_join(t[1], 0);
            mark(3, 1);
            return 0;
        }
        """,
        "manythreads": """
        static void *worker(void *arg)
        {
            long base = (long)arg;
            for (int i = 0; i < 300; i++) mark(1, base + i);
            return 0;
        }
        int main(void)
        {
            pthread_t t[8];
            for (long i = 0; i < 8; i++) pthread_create(&t[i], 0, worker, (void *)(i * 1000));
            for (int i = 0; i < 8; i++) pthread_join(t[i], 0);
            return 0;
        }
        """,
        "killed": """
        int main(void)
        {
            mark(1, 1);
            kill(getpid(), SIGTERM);
            for (;;) pause();
        }
        """,
        "exec": """
        int main(int argc, char **argv)
        {
            mark(1, 1);
            execl(argv[1], argv[1], "arg", (char *)0);
            return 99;
        }
        """,
        "second": """
        int main(int argc, char **argv)
        {
            mark(1, 77);
            return 4;
        }
        """,
        "vfork": """
        int main(int argc, char **argv)
        {
            int st;
            mark(1, 1);
            pid_t c = vfork();
            if (c == 0) { execl(argv[1], argv[1], (char *)0); _exit(99); }
            waitpid(c, &st, 0);
            mark(1, 2);
            return WEXITSTATUS(st);
        }
        """,
        "threadexec": """
        static char *target;
        static void *sleeper(void *a) { for (;;) pause(); }
        static void *worker(void *a)
        {
            mark(1, 20);
            execl(target, target, (char *)0);
            _exit(99);
        }
        int main(int argc, char **argv)
        {
            pthread_t s, w;
            target = argv[1];
            pthread_create(&s, 0, sleeper, 0);
            pthread_create(&w, 0, worker, 0);
            for (;;) pause();
        }
        """,
        "handler": """
        static volatile sig_atomic_t handled;
        static void on_usr1(int sig)
        {
            mark(4, 3);
            handled++;
            mark(5, 3);
        }
        int main(void)
        {
            struct sigaction sa;
            memset(&sa, 0, sizeof(sa));
            sa.sa_handler = on_usr1;
            sigaction(SIGUSR1, &sa, 0);
            mark(1, 1);
            raise(SIGUSR1);
            mark(1, 2);
            return handled == 1 ? 0 : 1;
        }
        """,
        // Job control under the tracer: the parent must see its child stop
        // (WUNTRACED) and continue it with SIGCONT.
        "groupstop": """
        int main(void)
        {
            int st;
            pid_t c = fork();
            if (c == 0) { raise(SIGSTOP); mark(1, 9); _exit(0); }
            waitpid(c, &st, WUNTRACED);
            if (!WIFSTOPPED(st) || WSTOPSIG(st) != SIGSTOP) return 10;
            mark(1, 8);
            kill(c, SIGCONT);
            waitpid(c, &st, 0);
            return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 11;
        }
        """,
        "output": """
        int main(void)
        {
            char buf[256];
            ssize_t n = read(0, buf, sizeof(buf));
            mark(1, 1);
            fputs("to stdout\\n", stdout);
            fflush(stdout);
            fputs("to stderr\\n", stderr);
            if (n > 0) fwrite(buf, 1, n, stdout);
            fwrite("\\0\\377end", 1, 5, stdout);
            return 0;
        }
        """,
        // Eight threads fork and make threads at once: the recorder then often sees a
        // new task's first stop before its creator's event (the held-task path).
        "storm": """
        static void *inner(void *a) { mark(1, 7); return 0; }
        static void *worker(void *arg)
        {
            long base = (long)arg;
            for (int i = 0; i < 20; i++) {
                int st;
                pthread_t t;
                pid_t c = fork();
                if (c == 0) { mark(1, base + i); _exit(i); }
                pthread_create(&t, 0, inner, 0);
                pthread_join(t, 0);
                waitpid(c, &st, 0);
                if (!WIFEXITED(st) || WEXITSTATUS(st) != i) abort();
            }
            return 0;
        }
        int main(void)
        {
            pthread_t t[8];
            for (long i = 0; i < 8; i++) pthread_create(&t[i], 0, worker, (void *)(i * 1000));
            for (int i = 0; i < 8; i++) pthread_join(t[i], 0);
            return 0;
        }
        """,
        // Stays alive after a fork and an exit, so the recorder can be signalled
        // while the trace already holds them.
        "waiter": """
        int main(void)
        {
            mark(1, 1);
            pid_t c = fork();
            if (c == 0) _exit(0);
            waitpid(c, 0, 0);
            for (;;) pause();
        }
        """
    ]

    static var programDirectory: URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("sbx-trace-programs-\(getpid())")
    }

    /// name -> compiled executable; compiled on first use.
    static let compiled: Result<[String: String], Error> = Result {
        let dir = programDirectory
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        // Shared by every test of the run, so removed when the run ends.
        atexit { try? FileManager.default.removeItem(at: TestPrograms.programDirectory) }
        var paths: [String: String] = [:]
        for (name, body) in sources {
            let source = dir.appendingPathComponent("\(name).c")
            let binary = dir.appendingPathComponent(name)
            try (prelude + body + "\n").write(to: source, atomically: true, encoding: .utf8)
            let result = try Run.process("/usr/bin/clang-19", ["-O1", "-w", "-pthread", source.path, "-o", binary.path])
            guard result.status == 0 else {
                throw NSError(
                    domain: "clang", code: Int(result.status), userInfo: [NSLocalizedDescriptionKey: result.stderrText])
            }
            // The kernel names executables by their real path in /proc/PID/exe.
            paths[name] = binary.resolvingSymlinksInPath().path
        }
        return paths
    }

    static func path(_ name: String) throws -> String {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/clang-19") else {
            throw XCTSkip("clang-19 is not installed")
        }
        guard let path = try compiled.get()[name] else { throw XCTSkip("no test program \(name)") }
        return path
    }
}

enum Run {
    struct Result {
        var status: Int32
        var stdout: Data
        var stderr: Data
        var stderrText: String { String(decoding: stderr, as: UTF8.self) }
    }

    /// The directory of the built executables: the test runner lives there too.
    static let binDir: URL = BuiltProducts.directory(holding: "sbx")

    static func sbx() throws -> String {
        let path = binDir.appendingPathComponent("sbx").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw XCTSkip("\(path) is not built; run `swift build` before `swift test`")
        }
        return path
    }

    static func process(_ path: String, _ arguments: [String], stdin: Data? = nil) throws -> Result {
        let outcome = try ProcessRunner.run(path, arguments, stdin: stdin ?? Data())
        return Result(status: outcome.shellStatus, stdout: outcome.stdout, stderr: outcome.stderr)
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sbx-record-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

extension Trace {
    /// The trace without its system-call lines: what version 1 recorded.
    var withoutSystemCalls: Trace {
        Trace(
            events: events.filter {
                if case .systemCall = $0 { return false }
                return true
            }, version: version)
    }

    /// The system calls of one thread, in order: (abi, number, third argument).
    func systemCalls(tid: Int32) -> [(SystemCallABI, UInt64, UInt64)] {
        events.compactMap {
            if case .systemCall(_, let t, let abi, let nr, let arg) = $0, t == tid { return (abi, nr, arg) }
            return nil
        }
    }

    /// The (kind, id) of the markers of one thread, in order.
    func markers(tid: Int32) -> [(TraceMarkerKind, UInt64)] {
        events.compactMap {
            if case .marker(_, let t, let kind, let id) = $0, t == tid { return (kind, id) }
            return nil
        }
    }

    func markerIDs(tid: Int32) -> [UInt64] {
        markers(tid: tid).map(\.1)
    }

    var startPID: Int32? {
        if case .start(let pid, _)? = events.first { return pid }
        return nil
    }
}
