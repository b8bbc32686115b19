import Foundation
import XCTest
import TestSupport
@testable import DyckModel

final class DotTests: XCTestCase {
    func lines(_ text: String, containing fragment: String) -> [String] {
        text.split(separator: "\n").map(String.init).filter { $0.contains(fragment) }
    }

    /// The graph a DOT text draws, read without relying on the writer's node ids:
    /// each node by its label (a state number, or "start" for the invisible entry
    /// point), each edge by its end nodes' labels and its own label.
    struct DrawnGraph {
        var nodes: [String: String] = [:]  // id -> label
        var edges: [(from: String, to: String, label: String?, dashed: Bool)] = []
        var doubleCircles: Set<String> = []

        init(_ text: String) {
            var rawEdges: [(String, String, String?, Bool)] = []
            for line in text.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                let attributes = line.range(of: " [").map { String(line[$0.upperBound...]) } ?? ""
                let label = attributes.range(of: "label=\"").map { start -> String in
                    let rest = attributes[start.upperBound...]
                    return String(rest[..<(rest.range(of: "\", ")?.lowerBound ?? rest.range(of: "\"]")!.lowerBound)])
                }
                let head = String(line.prefix { $0 != "[" && $0 != ";" }).trimmingCharacters(in: .whitespaces)
                if head.contains(" -> ") {
                    let ends = head.components(separatedBy: " -> ")
                    rawEdges.append((ends[0], ends[1], label, attributes.contains("style=dashed")))
                } else if !head.isEmpty, !head.contains(" "), head != "}", attributes.contains("shape=point") {
                    nodes[head] = "start"
                } else if !head.isEmpty, !head.contains(" "), let label {
                    nodes[head] = label
                    if attributes.contains("shape=doublecircle") { doubleCircles.insert(label) }
                }
            }
            edges = rawEdges.map { (nodes[$0.0] ?? "?" + $0.0, nodes[$0.1] ?? "?" + $0.1, $0.2, $0.3) }
        }

        func has(_ from: String, _ to: String, _ label: String?, dashed: Bool = false) -> Bool {
            edges.contains { $0.from == from && $0.to == to && $0.label == label && $0.dashed == dashed }
        }
    }

    func testSingleFunction() {
        let text = Dot.function(ModelFixtures.sharedHelper, index: 1)
        XCTAssertTrue(text.hasPrefix("digraph \"a\" {"))
        let graph = DrawnGraph(text)
        // 3 states + the invisible start point; 2 edges + the start arrow.
        XCTAssertEqual(graph.nodes.values.sorted(), ["0", "1", "2", "start"], text)
        XCTAssertEqual(graph.edges.count, 3, text)
        XCTAssertEqual(graph.doubleCircles, ["2"], text)
        XCTAssertTrue(graph.has("start", "0", nil), text)
        XCTAssertTrue(graph.has("0", "1", "call h()\\nt.c:9", dashed: true), text)
        XCTAssertTrue(graph.has("1", "2", "open\\nt.c:10"), text)
    }

    func testAllFunctionsHasAClusterPerFunction() {
        let text = Dot.allFunctions(ModelFixtures.sharedHelper)
        XCTAssertEqual(lines(text, containing: "subgraph \"cluster_").count, 4)
        XCTAssertEqual(lines(text, containing: "->").count, 4 + 7)
        XCTAssertEqual(lines(text, containing: "style=dashed").count, 4)
        XCTAssertEqual(text, Dot.allFunctions(ModelFixtures.sharedHelper))
    }

    func testFlattenedHasNoCallEdges() {
        let text = Dot.flattened(ModelFixtures.sharedHelper)
        XCTAssertEqual(lines(text, containing: "subgraph \"cluster_").count, 1)
        XCTAssertEqual(lines(text, containing: "style=dashed").count, 0)
        XCTAssertEqual(lines(text, containing: "label=\"write\\nt.c:20\"").count, 1)
        XCTAssertTrue(text.hasPrefix("digraph \"policy (flattened)\""))
    }

    func testIndirectCallsAndSeveralLocations() {
        var policy = ModelFixtures.sharedHelper
        policy.sites[0] = CallSite(
            caller: 0, callees: [1, 2], indirect: true, location: SourceLocation(file: "/abs/dir/m.c", line: 7))
        policy.functions[3].automaton.edges[0].locations = [
            SourceLocation(file: "x/h.c", line: 5), SourceLocation(file: "x/h.c", line: 2),
            SourceLocation(file: "x/h.c", line: 9)
        ]
        let text = Dot.allFunctions(policy)
        XCTAssertEqual(lines(text, containing: "label=\"call {a, b}()\\nm.c:7\", style=dashed").count, 1)
        XCTAssertEqual(lines(text, containing: "label=\"read\\nh.c:2 +2 more\"").count, 1)
    }

    func testEscaping() {
        XCTAssertEqual(Dot.quoted("a\"b\\c\nd\r\ne\u{7}"), "\"a\\\"b\\\\c\\nd\\ne\u{FFFD}\"")
        var policy = ModelFixtures.sharedHelper
        policy.functions[1].name = "we\"ird\\N\nname"
        policy.symbols[1] = "op\"en"
        let text = Dot.function(policy, index: 1)
        XCTAssertTrue(text.hasPrefix("digraph \"we\\\"ird\\\\N\\nname\" {"))
        XCTAssertEqual(lines(text, containing: "label=\"op\\\"en\\nt.c:10\"").count, 1)
        XCTAssertEqual(lines(Dot.function(policy, index: 0), containing: "call we\\\"ird\\\\N\\nname()").count, 1)
    }

    func testMalformedInputDoesNotTrap() {
        var policy = ModelFixtures.sharedHelper
        policy.functions[0].automaton.edges += [
            Edge(from: 0, label: .call(40), to: 1), Edge(from: 5, label: .libc(9), to: 0)
        ]
        policy.functions[0].automaton.edges.append(Edge(from: 0, label: .libc(9), to: 2))
        policy.functions[1].automaton.initial = -1
        policy.sites[1].callees = [77]
        let text = Dot.allFunctions(policy)
        XCTAssertEqual(lines(text, containing: "label=\"call site#40\"").count, 1)
        XCTAssertEqual(lines(text, containing: "label=\"libc#9\"").count, 1)
        XCTAssertEqual(lines(text, containing: "call #77()").count, 1)
        XCTAssertEqual(Dot.function(policy, index: 9), "digraph \"no function 9\" {\n}\n")
    }

    func testGraphvizAcceptsOutput() throws {
        guard
            let dot = ["/usr/bin/dot", "/usr/local/bin/dot"].first(where: {
                FileManager.default.isExecutableFile(atPath: $0)
            })
        else {
            throw XCTSkip("graphviz not installed")
        }
        var policy = ModelFixtures.sharedHelper
        policy.functions[2].name = "we\"ird\\N\nname {}"
        policy.sites[0] = CallSite(caller: 0, callees: [1, 2], indirect: true)
        for text in [Dot.function(policy, index: 0), Dot.allFunctions(policy), Dot.flattened(policy)] {
            let outcome = try ProcessRunner.run(dot, ["-Tsvg"], stdin: Data(text.utf8))
            XCTAssertEqual(outcome.shellStatus, 0, outcome.stderrText)
            XCTAssertTrue(outcome.stderrText.isEmpty, outcome.stderrText)
            XCTAssertTrue(outcome.stdoutText.contains("<svg"))
        }
    }

    /// f: dbg(); read(); (dbg() | write()); with dbg hidden: read(), then write() or
    /// nothing more (the hidden call moves to the final state).
    func testHidingCallsKeepsTheRestOfTheLanguage() {
        let read = Label.libc(0), write = Label.libc(1)
        let policy = Policy(
            symbols: ["read", "write"],
            functions: [
                PolicyFunction(
                    name: "f",
                    automaton: Automaton(
                        stateCount: 4, initial: 0, finals: [3],
                        edges: [
                            Edge(from: 0, label: .call(0), to: 1), Edge(from: 1, label: read, to: 2),
                            Edge(from: 2, label: .call(1), to: 3), Edge(from: 2, label: write, to: 3)
                        ])),
                PolicyFunction(
                    name: "dbg",
                    automaton: Automaton(
                        stateCount: 2, initial: 0, finals: [1], edges: [Edge(from: 0, label: write, to: 1)]))
            ],
            sites: [CallSite(caller: 0, callees: [1]), CallSite(caller: 0, callees: [1])], entry: 0)
        let hidden = policy.hidingCalls(to: ["dbg"])
        let expected = Automaton(
            stateCount: 3, initial: 0, finals: [1, 2],
            edges: [Edge(from: 0, label: read, to: 1), Edge(from: 1, label: write, to: 2)])
        XCTAssertTrue(hidden.functions[0].automaton.isEquivalent(to: expected), "\(hidden.functions[0].automaton)")
        XCTAssertEqual(hidden.functions[1], policy.functions[1], "a function without hidden calls is untouched")
        XCTAssertEqual(lines(Dot.function(hidden, index: 0), containing: "style=dashed").count, 0)
        XCTAssertEqual(policy.hidingCalls(to: []), policy)
    }
}
