import DyckModel
import XCTest
@testable import SbxBlob

/// The false positives of issue 17, as marker streams, on both monitors: the Swift
/// reference `ThreadMonitor` and the kernel's C core (`KernelMonitor`). Each stream is
/// what the reproduction in Tests/e2e makes (the setjmp/longjmp rules of
/// specs/kernel-abi.md, "Stepping", and the folding of recursion); after every marker
/// both must agree on the outcome, the logical depth, the entries and the records.
final class SetjmpRecursionTests: XCTestCase {
    static func automaton(_ count: Int, finals: Set<Int>, _ edges: [(Int, Label, Int)]) -> Automaton {
        Automaton(
            stateCount: count, initial: 0, finals: finals, edges: edges.map { Edge(from: $0.0, label: $0.1, to: $0.2) })
    }

    /// Lua's protected calls: symbols _setjmp 0, puts 1, longjmp 2, exit 3.
    ///   main:    protect(); exit                      site 0: main -> protect
    ///   protect: _setjmp; [f()]  (f through a pointer) site 1: protect -> body | quiet
    ///   body:    protect(); helper()                  site 2: body -> protect, site 3: body -> helper
    ///   quiet:   puts
    ///   helper:  throw_error()                        site 4: helper -> throw_error
    ///   throw_error: puts; longjmp
    static var protect: Policy {
        Policy(
            symbols: ["_setjmp", "puts", "longjmp", "exit"],
            functions: [
                PolicyFunction(
                    name: "main", automaton: automaton(3, finals: [2], [(0, .call(0), 1), (1, .libc(3), 2)])),
                PolicyFunction(
                    name: "protect", automaton: automaton(3, finals: [1, 2], [(0, .libc(0), 1), (1, .call(1), 2)])),
                PolicyFunction(
                    name: "body", automaton: automaton(3, finals: [2], [(0, .call(2), 1), (1, .call(3), 2)])),
                PolicyFunction(name: "quiet", automaton: automaton(2, finals: [1], [(0, .libc(1), 1)])),
                PolicyFunction(name: "helper", automaton: automaton(2, finals: [1], [(0, .call(4), 1)])),
                PolicyFunction(
                    name: "throw_error", automaton: automaton(3, finals: [], [(0, .libc(1), 1), (1, .libc(2), 2)]))
            ],
            sites: [
                CallSite(caller: 0, callees: [1]), CallSite(caller: 1, callees: [2, 3], indirect: true),
                CallSite(caller: 2, callees: [1]),
                CallSite(caller: 2, callees: [4]), CallSite(caller: 4, callees: [5])
            ],
            entry: 0)
    }

    /// A shell: setjmp in every level of a recursion, longjmp to main's buffer.
    /// Symbols _setjmp 0, longjmp 1, exit 2, puts 3.
    ///   main: _setjmp; (rec(); exit | exit)          site 0: main -> rec
    ///   rec:  _setjmp; (rec() | puts; longjmp)       site 1: rec -> rec
    static var nested: Policy {
        Policy(
            symbols: ["_setjmp", "longjmp", "exit", "puts"],
            functions: [
                PolicyFunction(
                    name: "main",
                    automaton: automaton(
                        4, finals: [3],
                        [
                            (0, .libc(0), 1), (1, .call(0), 2), (2, .libc(2), 3), (1, .libc(2), 3)
                        ])),
                PolicyFunction(
                    name: "rec",
                    automaton: automaton(
                        4, finals: [2],
                        [
                            (0, .libc(0), 1), (1, .call(1), 2), (1, .libc(3), 3), (3, .libc(1), 2)
                        ]))
            ],
            sites: [CallSite(caller: 0, callees: [1]), CallSite(caller: 1, callees: [1])],
            entry: 0)
    }

    /// A recursive-descent parser: parse() reads, recurses, and returns.
    /// Symbols getchar 0, putchar 1, exit 2.
    ///   main:  parse(); exit                          site 0: main -> parse
    ///   parse: getchar; (parse(); putchar | putchar)  site 1: parse -> parse
    static var parser: Policy {
        Policy(
            symbols: ["getchar", "putchar", "exit"],
            functions: [
                PolicyFunction(
                    name: "main", automaton: automaton(3, finals: [2], [(0, .call(0), 1), (1, .libc(2), 2)])),
                PolicyFunction(
                    name: "parse",
                    automaton: automaton(
                        4, finals: [3],
                        [
                            (0, .libc(0), 1), (1, .call(1), 2), (2, .libc(1), 3), (1, .libc(1), 3)
                        ]))
            ],
            sites: [CallSite(caller: 0, callees: [1]), CallSite(caller: 1, callees: [1])],
            entry: 0)
    }

    struct Both {
        var swift: ThreadMonitor
        let kernel: KernelMonitor
        let machine: MacroMachine

        init(
            _ policy: Policy, stackLimit: Int = BlobLimits.defaultStackLimit, maxDepth: Int = BlobLimits.defaultMaxDepth
        ) throws {
            machine = try MacroMachine(policy: policy, mode: .dyck)
            kernel = KernelMonitor(
                policy: try KernelPolicy(blob: encodeBlob(machine, stackLimit: stackLimit, maxDepth: maxDepth)))
            swift = ThreadMonitor(tables: MonitorTables(policy: policy), stackLimit: stackLimit, maxDepth: maxDepth)
        }

        init(copying other: Both) {
            swift = other.swift
            kernel = KernelMonitor(copying: other.kernel)
            machine = other.machine
        }

        /// Steps both; the refusal (nil if allowed), after checking that they agree.
        mutating func step(_ marker: Marker, file: StaticString = #filePath, line: UInt = #line) -> ThreadMonitor
            .Refusal?
        {
            let expected = swift.step(marker)
            let actual = kernel.step(marker)
            XCTAssertEqual(
                expected.map { "\($0)".components(separatedBy: "(")[0] }, actual.map { "\($0.refusal)" },
                "\(marker)", file: file, line: line)
            XCTAssertEqual(swift.depth, kernel.depth, "depth", file: file, line: line)
            XCTAssertEqual(swift.entryCount, kernel.entryCount, "entries", file: file, line: line)
            XCTAssertEqual(swift.setjmpRecordCount, kernel.setjmpRecordCount, "records", file: file, line: line)
            let top = kernel.top
            let frontier = swift.top.frontier.map { MacroMachine.Pair(function: $0.function, state: $0.state) }
            XCTAssertEqual(machine.frontiers[top.macroState], frontier, "top frontier", file: file, line: line)
            return expected
        }

        /// Steps all; the index of the first refusal and its reason.
        mutating func run(_ markers: [Marker], file: StaticString = #filePath, line: UInt = #line) -> (
            Int, ThreadMonitor.Refusal
        )? {
            for (i, m) in markers.enumerated() {
                if let r = step(m, file: file, line: line) { return (i, r) }
            }
            return nil
        }
    }

    /// Reproduction 1: the nested protected call returned, so its saved state is
    /// dead; the longjmp goes to the outer protect() frame.
    func testStaleRecordIsNotMatched() throws {
        var m = try Both(Self.protect)
        let prefix: [Marker] = [
            .init(.call, 0), .init(.libc, 0), .init(.setjmpSave, 0),  // protect(body): setjmp
            .init(.call, 1), .init(.call, 2), .init(.libc, 0), .init(.setjmpSave, 0),  // body: protect(quiet)
            .init(.call, 1), .init(.libc, 1), .init(.ret, 1), .init(.ret, 2),  // quiet returns, protect returns
            .init(.call, 3), .init(.call, 4), .init(.libc, 1), .init(.libc, 2)  // helper: throw_error: longjmp
        ]
        XCTAssertNil(m.run(prefix).map { "\($0)" })
        XCTAssertEqual(m.swift.depth, 5)
        XCTAssertEqual(m.swift.setjmpRecordCount, 1, "the inner record died when its protect() returned")
        XCTAssertNil(m.step(.init(.setjmpResume, 0)))
        XCTAssertEqual(m.swift.depth, 2, "back in the outer protect()")
        XCTAssertEqual(m.swift.top.kind, .site(0))
        XCTAssertNil(m.run([.init(.ret, 0), .init(.libc, 3)]).map { "\($0)" }, "protect returns 1, main exits")
    }

    /// Reproduction 2: 40 levels with a setjmp each, then a longjmp to main's
    /// buffer; and the store's bound, which refuses by name and evicts nothing.
    func testFortyNestedSetjmpDepths() throws {
        var markers: [Marker] = [.init(.libc, 0), .init(.setjmpSave, 0), .init(.call, 0)]
        for _ in 0..<40 { markers += [.init(.libc, 0), .init(.setjmpSave, 1), .init(.call, 1)] }
        markers += [.init(.libc, 0), .init(.setjmpSave, 1), .init(.libc, 3), .init(.libc, 1)]
        var m = try Both(Self.nested)
        XCTAssertNil(m.run(markers).map { "\($0)" })
        XCTAssertEqual(m.swift.depth, 42)
        XCTAssertEqual(m.swift.entryCount, 42, "frames holding records do not fold")
        XCTAssertEqual(m.swift.setjmpRecordCount, 42)
        // A fork copies all of it; the child goes on alone.
        var child = Both(copying: m)
        XCTAssertNil(m.step(.init(.setjmpResume, 0)))
        XCTAssertEqual(m.swift.depth, 1)
        XCTAssertEqual(m.swift.setjmpRecordCount, 1)
        XCTAssertNil(m.step(.init(.libc, 2)), "main exits")
        XCTAssertEqual(child.swift.depth, 42)
        XCTAssertNil(child.step(.init(.setjmpResume, 1)), "the child's own level")
        XCTAssertEqual(child.swift.depth, 42)
        XCTAssertNil(
            child.run([.init(.libc, 3), .init(.libc, 1), .init(.setjmpResume, 0), .init(.libc, 2)]).map { "\($0)" })

        // 64 slots: 1 + 32 entries and 31 records fill them.
        var small = try Both(Self.nested, stackLimit: 64)
        let refused = small.run(markers)
        XCTAssertEqual(refused?.1, .storeFull)
        XCTAssertEqual(small.swift.entryCount + small.swift.setjmpRecordCount, 64)
        XCTAssertNil(small.step(.init(.setjmpResume, 0)), "nothing was evicted")
    }

    /// Reproduction 3: recursion of 5000 frames through one site costs 4 entries;
    /// the depth bound still refuses, by name.
    func testRecursionOf5000Frames() throws {
        var m = try Both(Self.parser, stackLimit: 8)
        var down: [Marker] = [.init(.call, 0)]
        for _ in 0..<5000 { down += [.init(.libc, 0), .init(.call, 1)] }
        down += [.init(.libc, 0), .init(.libc, 1)]
        XCTAssertNil(m.run(down).map { "\($0)" })
        XCTAssertEqual(m.swift.depth, 5002)
        XCTAssertEqual(m.swift.entryCount, 4)
        XCTAssertEqual(m.kernel.stack.count, 5002)
        var up: [Marker] = []
        for _ in 0..<5000 { up += [.init(.ret, 1), .init(.libc, 1)] }
        up += [.init(.ret, 0), .init(.libc, 2)]
        var fork = Both(copying: m)
        XCTAssertNil(m.run(up).map { "\($0)" })
        XCTAssertEqual(m.swift.depth, 1)
        XCTAssertEqual(m.swift.entryCount, 1)
        XCTAssertNil(fork.run(up).map { "\($0)" }, "a fork unwinds its copy")

        // The bound: 1000 frames; the 1001st call is refused and changes nothing.
        var bounded = try Both(Self.parser, stackLimit: 8, maxDepth: 1000)
        let refused = bounded.run(down)
        XCTAssertEqual(refused?.1, .stackOverflow)
        XCTAssertEqual(refused?.0, 1 + 2 * 998 + 1, "the call from depth 1000")
        XCTAssertEqual(bounded.swift.depth, 1000)
        XCTAssertEqual(bounded.kernel.step(.init(.call, 1))?.depth, 1000, "the record names the depth")
        XCTAssertNil(bounded.step(.init(.libc, 1)), "the thread is as it was")
    }
}
