import Foundation
import SbxTrace
import XCTest

/// `sbx record` of a program built with buffered events (`dyck-cc --dyck-buffer`):
/// at every system-call entry the recorder drains the thread's event buffer as the
/// kernel would and reports its events as markers before the stop's own line, so
/// the trace is the one of the same program built with synchronous markers, line
/// for line (appended events land just before the next system call, where the
/// markers of the synchronous build are too). `sbx check` accepts it in both modes.
final class BufferedRecordingTests: XCTestCase {
    /// Sites, callbacks from qsort and from a signal handler, plain wrappers
    /// (bufferable), stdio (not), more than 32 events between two system calls (the
    /// full-buffer path) and a thread (its own buffer).
    static let source = """
        #include <pthread.h>
        #include <signal.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <unistd.h>

        static const char *volatile text = "buffered";
        static volatile unsigned long sink;

        __attribute__((noinline)) void leaf(int i) { sink += strlen(text) + (unsigned long)i; }
        static int compare(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }
        static void on_usr1(int sig) { sink += strlen(text) + (unsigned long)sig; }
        static void *worker(void *arg) { for (int i = 0; i < 50; i++) leaf(i); return arg; }

        int main(void)
        {
            int v[5] = {5, 3, 1, 4, 2};
            pthread_t thread;

            signal(SIGUSR1, on_usr1);
            for (int i = 0; i < 40; i++)
                leaf(i);
            write(1, "a\\n", 2);
            qsort(v, 5, sizeof(v[0]), compare);
            raise(SIGUSR1);
            for (int i = 0; i < 5; i++)
                leaf(i);
            pthread_create(&thread, NULL, worker, NULL);
            pthread_join(thread, NULL);
            printf("%d %d\\n", v[0], getpid() > 0);
            return 0;
        }
        """

    private func lines(_ trace: String) throws -> [String] {
        // The start line names the executable, which differs between the builds.
        try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n").map(String.init)
            .filter { !$0.hasPrefix("start ") && !$0.hasPrefix("exec ") }
    }

    func testTraceOfABufferedBuildIsTheSynchronousBuildsTrace() throws {
        let dyckCC = Run.binDir.appendingPathComponent("dyck-cc").path
        guard FileManager.default.isExecutableFile(atPath: dyckCC) else { throw XCTSkip("dyck-cc is not built") }
        let dir = try Run.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = dir.appendingPathComponent("prog.c")
        try Self.source.write(to: source, atomically: true, encoding: .utf8)
        var traces: [String: [String]] = [:]
        for (name, extra) in [("sync", [String]()), ("buf", ["--dyck-buffer"])] {
            let exe = dir.appendingPathComponent(name).path
            let cc = try Run.process(
                // No inlining: leaf's CALL/RET are the site events this test buffers.
                dyckCC,
                ["-O1", "--dyck-libc-events=all", "--dyck-inline=0", "-pthread"] + extra + [source.path, "-o", exe])
            XCTAssertEqual(cc.status, 0, cc.stderrText)
            if name == "buf" { XCTAssertTrue(cc.stderrText.contains("buffered"), cc.stderrText) }
            let trace = dir.appendingPathComponent("\(name).trace").path
            let record = try Run.process(try Run.sbx(), ["record", "-o", trace, exe])
            XCTAssertEqual(record.status, 0, record.stderrText)
            XCTAssertEqual(String(decoding: record.stdout, as: UTF8.self), "a\n1 1\n")
            traces[name] = try lines(trace)
            for mode in ["dyck", "nfa"] {
                let check = try Run.process(
                    try Run.sbx(), ["check", "\(exe).dyck", "--mode", mode, "--trace", trace])
                XCTAssertEqual(
                    check.status, 0,
                    "\(name) \(mode): \(String(decoding: check.stdout, as: UTF8.self)) \(check.stderrText)")
            }
        }
        let sync = try XCTUnwrap(traces["sync"]), buffered = try XCTUnwrap(traces["buf"])
        XCTAssertGreaterThanOrEqual(
            sync.filter { $0.hasPrefix("m ") }.count, 95 * 3, "95 calls of leaf, three events each, and the rest")
        XCTAssertEqual(buffered.count, sync.count)
        // Thread by thread (threads interleave differently in each run; tids, and the
        // third arguments of system calls, which hold addresses, differ): each line's
        // type, and a marker's kind and id or a system call's number.
        func threads(_ lines: [String]) -> [[String]] {
            var order: [String] = []
            var byThread: [String: [String]] = [:]
            for line in lines {
                let w = line.split(separator: " ").map(String.init)
                guard w.count >= 3 else { continue }
                let tid = w[2]
                if byThread[tid] == nil { order.append(tid) }
                let shape: String
                switch w[0] {
                case "m": shape = w.dropFirst(3).joined(separator: " ")
                case "s", "s32": shape = w[0] + " " + (w.count > 3 ? w[3] : "")
                default: shape = w[0]
                }
                byThread[tid, default: []].append(shape)
            }
            return order.map { byThread[$0] ?? [] }
        }
        let a = threads(sync), b = threads(buffered)
        XCTAssertEqual(a.count, b.count, "threads")
        for (t, (x, y)) in zip(a, b).enumerated() {
            if let first = x.indices.first(where: { $0 >= y.count || x[$0] != y[$0] }) {
                XCTFail(
                    "thread \(t), first difference at event \(first):\n"
                        + "sync: \(x[max(0, first - 3)..<min(x.count, first + 3)])\n"
                        + "buffered: \(y[max(0, first - 3)..<min(y.count, first + 3)])")
            } else {
                XCTAssertEqual(x.count, y.count, "thread \(t)")
            }
        }
    }
}
