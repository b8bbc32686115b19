import DyckModel
import Foundation
import SbxBlob
import XCTest
@testable import SbxRun

/// `sbx dot` on real programs' policies (collapsed call edges, the size limit, a
/// kill report, an interrupted render) and `sbx diff`.
final class PictureCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = try CLI.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func generate(_ source: String, name: String) throws -> String {
        let ll = try CLI.compile(source, name: name, in: dir)
        let gen = try CLI.run("dyck-gen", [ll.path])
        XCTAssertEqual(gen.status, 0, gen.stderr)
        return dir.appendingPathComponent("\(name).dyck").path
    }

    static let version1 = """
        #include <stdio.h>
        #include <unistd.h>
        void work(int n) {
            puts("work");
            if (n > 1) {
                fflush(stdout);
            }
        }
        int main(int argc, char **argv) {
            work(argc);
            printf("%d\\n", argc);
            return 0;
        }
        """

    /// Version 2: a comment shifts every line, and work() may call getpid() after
    /// fflush.
    static let version2 = """
        /* version 2 */
        #include <stdio.h>
        #include <unistd.h>
        void work(int n) {
            puts("work");
            if (n > 1) {
                fflush(stdout);
                if (n > 2)
                    getpid();
            }
        }
        int main(int argc, char **argv) {
            work(argc);
            printf("%d\\n", argc);
            return 0;
        }
        """

    func testDiffNamesTheOneAddedCall() throws {
        let old = try generate(Self.version1, name: "v1")
        let new = try generate(Self.version2, name: "v2")
        let diff = try CLI.run("sbx", ["diff", old, new])
        XCTAssertEqual(diff.status, 1, diff.stderr)
        let changes = diff.stdout.split(separator: "\n").filter { $0.hasPrefix("  +") || $0.hasPrefix("  -") }
        XCTAssertEqual(changes, ["  + getpid()    e.g. puts(), fflush(), getpid()"], diff.stdout)
        XCTAssertTrue(diff.stdout.contains("\nin work (called as main -> work):\n"), diff.stdout)
        XCTAssertTrue(diff.stdout.hasPrefix("--- \(old)\n+++ \(new)\n"), diff.stdout)
        let back = try CLI.run("sbx", ["diff", new, old])
        XCTAssertEqual(back.status, 1)
        XCTAssertTrue(back.stdout.contains("  - getpid()    e.g. puts(), fflush(), getpid()\n"), back.stdout)

        // Unconditional, getpid() also takes away the return after fflush().
        let always = try generate(Self.version2.replacingOccurrences(of: "if (n > 2)\n", with: ""), name: "v3")
        let both = try CLI.run("sbx", ["diff", old, always])
        XCTAssertEqual(both.status, 1)
        XCTAssertEqual(
            both.stdout.split(separator: "\n").filter { $0.hasPrefix("  ") },
            ["  + getpid()    e.g. puts(), fflush(), getpid()", "  - return    e.g. puts(), fflush(), return"],
            both.stdout)

        // Only the lines moved (a comment): renumbered text, same language.
        let moved = try generate("/* moved */\n" + Self.version1, name: "v1moved")
        let textDiff = try CLI.run("/usr/bin/diff", [old, moved])
        XCTAssertEqual(textDiff.status, 1, "the policy texts differ (source lines)")
        let same = try CLI.run("sbx", ["diff", old, moved])
        XCTAssertEqual(same.status, 0, same.stdout + same.stderr)
        XCTAssertEqual(same.stdout, "")
    }

    func testDiffErrors() throws {
        let old = try generate(Self.version1, name: "v1")
        let missing = try CLI.run("sbx", ["diff", old, dir.appendingPathComponent("nosuch.dyck").path])
        XCTAssertEqual(missing.status, 2, missing.stderr)
        XCTAssertTrue(missing.stderr.contains("nosuch.dyck"), missing.stderr)
        let nfa = dir.appendingPathComponent("v1.nfa.dyck").path
        XCTAssertEqual(try CLI.run("sbx", ["convert", old, "--to", "nfa", "-o", nfa]).status, 0)
        let kinds = try CLI.run("sbx", ["diff", old, nfa])
        XCTAssertEqual(kinds.status, 2, kinds.stderr)
        XCTAssertTrue(kinds.stderr.contains("sbx convert"), kinds.stderr)
    }

    /// Three call sites of dbg() between the same two states of f: one dashed edge
    /// labelled ×3 where the policy has three call edges.
    func testParallelCallEdgesAreCollapsed() throws {
        let p = try generate(
            """
            #include <stdio.h>
            void dbg(const char *s) { fputs(s, stderr); }
            void f(int x) {
                if (x == 1) dbg("a");
                else if (x == 2) dbg("b");
                else dbg("c");
                puts("f");
            }
            int main(int argc, char **argv) { f(argc); return 0; }
            """, name: "debug")
        let policy = try Policy.load(path: p)
        let f = try XCTUnwrap(policy.functionIndex(named: "f"))
        let callEdges = policy.functions[f].automaton.edges.filter {
            if case .call = $0.label { return true } else { return false }
        }
        XCTAssertEqual(callEdges.count, 3, "three sites, three call edges in the policy")
        XCTAssertEqual(Set(callEdges.map { "\($0.from)>\($0.to)" }).count, 1, "all between the same two states")
        let dot = try CLI.run("sbx", ["dot", p, "--function", "f"])
        XCTAssertEqual(dot.status, 0, dot.stderr)
        let edges = dot.stdout.split(separator: "\n").filter { $0.contains(" -> ") }
        let dashed = edges.filter { $0.contains("style=dashed") }
        XCTAssertEqual(dashed.count, 1, dot.stdout)
        XCTAssertTrue(dashed.first?.contains("call dbg() ×3\\n") ?? false, dot.stdout)
        let libc = policy.functions[f].automaton.edges.count - callEdges.count
        XCTAssertEqual(edges.count, 1 + libc + 1, "start arrow, libc edges, one call edge")

        let hidden = try CLI.run("sbx", ["dot", p, "--function", "f", "--hide", "dbg"])
        XCTAssertEqual(hidden.status, 0, hidden.stderr)
        XCTAssertFalse(hidden.stdout.contains("style=dashed"), hidden.stdout)
        XCTAssertTrue(hidden.stdout.contains("label=\"puts"), hidden.stdout)
        let unknown = try CLI.run("sbx", ["dot", p, "--hide", "nosuch"])
        XCTAssertEqual(unknown.status, 2, unknown.stderr)
    }

    func testSizeLimit() throws {
        // 300 libc calls in a row: 300 edges, over the default limit of 250.
        let body = String(repeating: "    putchar('x');\n", count: 300)
        let p = try generate("#include <stdio.h>\nint main(void) {\n\(body)    return 0;\n}\n", name: "long")
        let svg = dir.appendingPathComponent("long.svg").path
        let refused = try CLI.run("sbx", ["dot", p, "--svg", svg])
        XCTAssertEqual(refused.status, 2, refused.stderr)
        let policy = try Policy.load(path: p)
        let main = try XCTUnwrap(policy.functionIndex(named: "main"))
        let (states, edgeCount) = (
            policy.functions[main].automaton.stateCount, policy.functions[main].automaton.edges.count
        )
        XCTAssertGreaterThanOrEqual(edgeCount, 300)
        XCTAssertEqual(policy.functions.count, 1)
        XCTAssertTrue(
            refused.stderr.contains("\(states) states and \(edgeCount) edges, over --size-limit 250"), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("--function NAME"), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("raise --size-limit"), refused.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: svg))

        // DOT text is cheap: written, with the warning.
        let text = try CLI.run("sbx", ["dot", p])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(
            text.stderr.contains("warning: the graph has \(states) states and \(edgeCount) edges"), text.stderr)
        XCTAssertTrue(text.stdout.hasPrefix("digraph"))

        let small = try CLI.run("sbx", ["dot", p, "--size-limit", "400"])
        XCTAssertEqual(small.status, 0)
        XCTAssertEqual(small.stderr, "")
        let negative = try CLI.run("sbx", ["dot", p, "--size-limit", "-1"])
        XCTAssertEqual(negative.status, 2, negative.stderr)

        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/dot") else {
            throw XCTSkip("graphviz not installed")
        }
        let forced = try CLI.run("sbx", ["dot", p, "--svg", svg, "--size-limit", "0"])
        XCTAssertEqual(forced.status, 0, forced.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: svg))
    }

    /// The policy of Tests/e2e/hijack.c (as in ViolationReportTests): main calls
    /// getenv, then maintenance() (site 0) or the handler indirectly (site 1, whose
    /// only candidate is the callback greet).
    static let hijackPolicy = """
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

    /// The hijack's kill: fprintf (maintenance's first call) in the frame of site 1,
    /// where only greet may run. The report is made and encoded by the code `sbx run
    /// --json-report` uses (ViolationReport, JSONEncoder), from the kernel record the
    /// e2e test's kill produces.
    func testReportHighlightsTheKill() throws {
        let policyPath = dir.appendingPathComponent("hijack.dyck").path
        try Self.hijackPolicy.write(toFile: policyPath, atomically: true, encoding: .utf8)
        let machine = try MacroMachine(policy: try Policy.parse(Self.hijackPolicy), mode: .dyck)
        let record = ViolationRecord(
            pid: 7, tid: 7, command: "hijack", reason: 3, kind: 1, id: 0, tag: 0x4000_0001,
            macroState: UInt32(machine.siteEntries[1]), depth: 2, flags: 0x1 | 0x8, stack: [0x4000_0001, 0])
        let report = ViolationReport(record: record, machine: machine)
        XCTAssertEqual(report.states, [ViolationReport.State(function: "greet", index: 2, state: 0)])
        struct File: Encodable { var violations: [ViolationReport] }
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase  // as sbx run --json-report writes it
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let reportPath = dir.appendingPathComponent("r.json").path
        try encoder.encode(File(violations: [report])).write(to: URL(fileURLWithPath: reportPath))

        let dot = try CLI.run("sbx", ["dot", policyPath, "--report", reportPath])
        XCTAssertEqual(dot.status, 0, dot.stderr)
        let lines = dot.stdout.split(separator: "\n").map(String.init)
        // main (the root), then greet (where the event was refused); nothing else.
        XCTAssertEqual(
            lines.filter { $0.contains("subgraph") }, ["  subgraph \"cluster_1\" {", "  subgraph \"cluster_2\" {"],
            dot.stdout)
        let red = lines.filter { $0.contains("color=red") && $0.contains(" -> ") }
        // Both of main's call edges of site 1, and the refused edge from greet's state 0.
        XCTAssertEqual(red.count, 3, dot.stdout)
        XCTAssertEqual(red.filter { $0.contains("call {greet}()") && $0.hasPrefix("    f1_s") }.count, 2, dot.stdout)
        XCTAssertTrue(
            lines.contains("    f2_s0 -> f2_refused [color=red, fontcolor=red, style=bold, label=\"fprintf()\"];"),
            dot.stdout)
        XCTAssertTrue(lines.contains("    f2_s0 [label=\"0\", color=red, penwidth=2];"), dot.stdout)
        XCTAssertTrue(
            lines.contains { $0.contains("f2_refused [shape=box") && $0.contains("refused: fprintf()") }, dot.stdout)
        XCTAssertFalse(
            lines.contains { $0.contains("call maintenance()") && $0.contains("color=red") },
            "site 0 is not on the stack")

        // The same report against another policy: said, status 2.
        let other = try generate(Self.version1, name: "v1")
        let wrong = try CLI.run("sbx", ["dot", other, "--report", reportPath])
        XCTAssertEqual(wrong.status, 2, wrong.stderr)
        XCTAssertTrue(wrong.stderr.contains("another policy"), wrong.stderr)
        // Not a report.
        let junk = dir.appendingPathComponent("junk.json").path
        try "{\"status\": 0}".write(toFile: junk, atomically: true, encoding: .utf8)
        let notReport = try CLI.run("sbx", ["dot", policyPath, "--report", junk])
        XCTAssertEqual(notReport.status, 2, notReport.stderr)
        XCTAssertTrue(notReport.stderr.contains("no 'violations'"), notReport.stderr)
    }

    /// A recorded run of the hijack (written by hand in the trace format): getenv,
    /// maintenance() with its three calls and return, then the handler's frame,
    /// where fprintf is refused. In red: exactly the edges taken in main (getenv,
    /// the call of maintenance from state 1, the call of site 1 from state 2, not
    /// the one from state 1), greet's state 0 and the refused fprintf; maintenance
    /// returned, so it is not drawn.
    func testTraceHighlightsThePathTaken() throws {
        let policyPath = dir.appendingPathComponent("hijack.dyck").path
        try Self.hijackPolicy.write(toFile: policyPath, atomically: true, encoding: .utf8)
        let tracePath = dir.appendingPathComponent("h.trace").path
        try """
        sbx-trace 1
        start 7 /p/hijack
        m 7 7 libc 1
        m 7 7 call 0
        m 7 7 libc 0
        m 7 7 libc 3
        m 7 7 libc 0
        m 7 7 ret 0
        m 7 7 call 1
        m 7 7 libc 0
        exit 7 7 killed 9
        end

        """.write(toFile: tracePath, atomically: true, encoding: .utf8)
        let dot = try CLI.run("sbx", ["dot", policyPath, "--trace", tracePath])
        XCTAssertEqual(dot.status, 0, dot.stderr)
        let lines = dot.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(
            lines.filter { $0.contains("subgraph") }, ["  subgraph \"cluster_1\" {", "  subgraph \"cluster_2\" {"],
            dot.stdout)
        let red = lines.filter { $0.contains(" -> ") && $0.contains("color=red") }.map {
            $0.split(separator: " ").prefix(3).joined(separator: " ")
        }
        XCTAssertEqual(red, ["f1_s0 -> f1_s1", "f1_s1 -> f1_s2", "f1_s2 -> f1_s3", "f2_s0 -> f2_refused"], dot.stdout)
        XCTAssertTrue(lines.contains("    f2_s0 [label=\"0\", color=red, penwidth=2];"), dot.stdout)

        // A run the policy allows: nothing to draw, said.
        try "sbx-trace 1\nstart 7 /p/hijack\nm 7 7 libc 1\nexit 7 7 exited 0\nend\n".write(
            toFile: tracePath, atomically: true, encoding: .utf8)
        let allowed = try CLI.run("sbx", ["dot", policyPath, "--trace", tracePath])
        XCTAssertEqual(allowed.status, 2, allowed.stderr)
        XCTAssertTrue(allowed.stderr.contains("stays inside the policy"), allowed.stderr)
    }

    /// SIGTERM to sbx while Graphviz renders: the child is ended, its partial output
    /// removed, and sbx dies of the signal.
    func testInterruptedRenderLeavesNothing() throws {
        let bin = dir.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        let pidFile = dir.appendingPathComponent("dot.pid").path
        let fake = bin.appendingPathComponent("dot").path
        try """
        #!/bin/sh
        # A slow Graphviz: writes part of its output, then hangs.
        echo $$ > "\(pidFile)"
        while [ $# -gt 0 ]; do [ "$1" = -o ] && out=$2; shift; done
        cat > /dev/null
        printf partial > "$out"
        exec sleep 60
        """.write(toFile: fake, atomically: true, encoding: .utf8)
        chmod(fake, 0o755)
        let p = try generate(Self.version1, name: "v1")
        let out = dir.appendingPathComponent("out").path
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = CLI.binDir.appendingPathComponent("sbx")
        process.arguments = ["dot", p, "--svg", out + "/x.svg"]
        process.environment = ["PATH": bin.path + ":/usr/bin:/bin"]
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Until the child has written its partial file.
        var waited = 0
        while (try FileManager.default.contentsOfDirectory(atPath: out)).isEmpty && waited < 200 {
            usleep(50_000)
            waited += 1
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out).count, 1, "the partial temporary file")
        let child =
            pid_t(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))
            ?? 0
        XCTAssertGreaterThan(child, 0)
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .uncaughtSignal)
        XCTAssertEqual(process.terminationStatus, SIGTERM)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out), [], "no partial output")
        XCTAssertEqual(kill(child, 0), -1, "the Graphviz child is gone")
    }
}
