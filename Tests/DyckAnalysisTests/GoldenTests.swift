import DyckAnalysis
import DyckModel
import Foundation
import XCTest

/// Each fixture is compiled with `clang-19 -O0 -g`, analysed, and compared with the
/// expectations written by hand in its `.expect` file.
final class GoldenTests: XCTestCase {
    func testStraightLine() throws { try check("straight") }
    func testBranch() throws { try check("branch") }
    func testLoop() throws { try check("loop") }
    func testNonDeterminism() throws { try check("nondet") }
    func testHelper() throws { try check("helper") }
    func testSharedHelper() throws { try check("shared") }
    func testRecursion() throws { try check("recursion") }
    func testIndirectCalls() throws { try check("indirect") }
    func testSwitch() throws { try check("switch") }
    func testEarlyReturns() throws { try check("early") }
    func testVariadic() throws { try check("variadic") }
    func testExitIsADeadEnd() throws { try check("exit") }
    func testPrunedHelpers() throws { try check("pruned") }
    func testExternalFunctionWarning() throws { try check("external") }
    func testIntrinsicsAreNotLibc() throws { try check("intrinsic") }
    func testCallbacks() throws { try check("callbacks") }
    func testHandlersInStaticStructsAndWrappers() throws { try check("handlers") }
    func testSilentLibcFunctionsAreNoEvents() throws { try check("silentlibc") }
    func testFunctionsConfinedToGlobals() throws { try check("confined") }

    /// A fixture without a test method above would silently go unchecked.
    func testEveryFixtureHasATestAndAnExpectation() throws {
        let tested: Set<String> = [
            "straight", "branch", "loop", "nondet", "helper", "shared", "recursion", "indirect", "switch", "early",
            "variadic", "exit", "pruned", "external", "intrinsic", "callbacks", "handlers", "silentlibc",
            "confined"
        ]
        XCTAssertEqual(Set(Fixtures.names), tested)
        for name in Fixtures.names {
            let expect = Fixtures.directory.appendingPathComponent(name + ".expect").path
            XCTAssertTrue(FileManager.default.fileExists(atPath: expect), "\(name).expect is missing")
        }
    }

    /// Optimized IR (inlining, tail calls, libcall simplification) must analyse into a
    /// well-formed policy for every fixture.
    func testEveryFixtureAtO2() throws {
        for name in Fixtures.names {
            for flags in [["-O2", "-S"], ["-O2", "-g", "-S"]] {
                let path = try Fixtures.compile(name, flags: flags)
                let result = try analyzeIR(atPath: path)
                XCTAssertEqual(result.policy.functions[result.policy.entry].name, "main", "\(name) \(flags)")
                assertWellFormed(result.policy, "\(name) \(flags)")
            }
        }
    }

    // MARK: -

    private func check(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let path = try Fixtures.compile(name, flags: ["-O0", "-g", "-S"])
        let result = try analyzeIR(atPath: path)
        let policy = result.policy
        let expectation = try Expectation(
            contentsOf: Fixtures.directory.appendingPathComponent(name + ".expect"))

        assertWellFormed(policy, name, file: file, line: line)
        XCTAssertEqual(policy.kind, .dyck, file: file, line: line)
        XCTAssertEqual(policy.module, URL(fileURLWithPath: path).lastPathComponent, file: file, line: line)
        XCTAssertEqual(policy.functions[policy.entry].name, "main", file: file, line: line)
        XCTAssertEqual(
            Set(policy.functions.map(\.name)), Set(expectation.functions.map(\.name)),
            "\(name): defined functions and expectations differ", file: file, line: line)

        var words = PolicyWords(policy)
        for (function, text) in expectation.functions {
            guard let index = policy.functionIndex(named: function) else { continue }
            let regex = try ExpectRegex.parse(text)
            let actual = words.relabel(policy.functions[index].automaton)
            let expected = regex.automaton { words.id($0) }
            if let difference = actual.difference(from: expected) {
                let side =
                    difference.inSelf
                    ? "the analysis allows it, the expectation not" : "expected, but the analysis does not allow it"
                XCTFail(
                    "\(name): \(function): '\(words.spell(difference.word))' (\(difference.language.rawValue) "
                        + "language): \(side); expected \(text)", file: file, line: line)
            }
        }

        func sitesCalling(_ function: String) -> Int {
            guard let index = policy.functionIndex(named: function) else { return -1 }
            return policy.sites.filter { $0.callees.contains(index) }.count
        }
        for function in expectation.pruned {
            XCTAssertNotNil(
                policy.functionIndex(named: function), "\(name): no function \(function)", file: file, line: line)
            XCTAssertEqual(
                sitesCalling(function), 0, "\(name): \(function) should have no call site", file: file, line: line)
        }
        for (function, count) in expectation.siteCounts {
            XCTAssertEqual(sitesCalling(function), count, "\(name): sites calling \(function)", file: file, line: line)
        }
        XCTAssertEqual(
            Set(policy.callbacks.map { policy.functions[$0].name }), Set(expectation.callbacks),
            "\(name): callbacks", file: file, line: line)
        XCTAssertEqual(
            result.warnings.count, expectation.warnings.count, "\(name): warnings \(result.warnings)", file: file,
            line: line)
        for expected in expectation.warnings {
            XCTAssertTrue(
                result.warnings.contains { $0.description.contains(expected) },
                "\(name): no warning like '\(expected)' in "
                    + "\(result.warnings)", file: file, line: line)
        }
    }
}

/// Index ranges, sorted tables, and call-site edges only in the calling function.
func assertWellFormed(_ policy: Policy, _ context: String, file: StaticString = #filePath, line: UInt = #line) {
    do {
        try policy.validate()
    } catch {
        XCTFail("\(context): \(error)", file: file, line: line)
    }
    XCTAssertTrue(policy.functions.indices.contains(policy.entry), "\(context): entry", file: file, line: line)
    XCTAssertEqual(policy.symbols, policy.symbols.sorted(), "\(context): symbols sorted", file: file, line: line)
    XCTAssertEqual(
        Set(policy.symbols).count, policy.symbols.count, "\(context): symbols unique", file: file, line: line)
    XCTAssertEqual(policy.callbacks, policy.callbacks.sorted(), "\(context): callbacks sorted", file: file, line: line)
    XCTAssertFalse(policy.callbacks.contains(policy.entry), "\(context): entry is no callback", file: file, line: line)
    var siteUsers = [Int: Set<Int>]()
    for (index, function) in policy.functions.enumerated() {
        let automaton = function.automaton
        XCTAssertTrue(
            (0..<automaton.stateCount).contains(automaton.initial), "\(context): \(function.name) initial", file: file,
            line: line)
        for edge in automaton.edges {
            XCTAssertTrue(
                (0..<automaton.stateCount).contains(edge.from) && (0..<automaton.stateCount).contains(edge.to),
                "\(context): \(function.name) edge states", file: file, line: line)
            switch edge.label {
            case let .libc(id):
                XCTAssertTrue(policy.symbols.indices.contains(id), "\(context): symbol \(id)", file: file, line: line)
            case let .call(id):
                XCTAssertTrue(policy.sites.indices.contains(id), "\(context): site \(id)", file: file, line: line)
                siteUsers[id, default: []].insert(index)
            }
        }
    }
    // A libc call in a block that no path reaches keeps its symbol but loses its edge, so
    // symbols may go unused; each is named once (ids are per name).
    XCTAssertEqual(
        Set(policy.symbols).count, policy.symbols.count, "\(context): symbol named twice", file: file, line: line)
    for (id, site) in policy.sites.enumerated() {
        XCTAssertEqual(
            siteUsers[id] ?? [site.caller], [site.caller], "\(context): site \(id) appears in its caller only",
            file: file, line: line)
        XCTAssertFalse(site.callees.isEmpty, "\(context): site \(id) has callees", file: file, line: line)
        XCTAssertEqual(
            site.callees, site.callees.sorted(), "\(context): site \(id) callees sorted", file: file, line: line)
        XCTAssertTrue(
            site.callees.allSatisfy { policy.functions.indices.contains($0) }, "\(context): site \(id) callees",
            file: file, line: line)
        if !site.indirect {
            XCTAssertEqual(site.callees.count, 1, "\(context): direct site \(id)", file: file, line: line)
        }
    }
    // Sites are numbered in function order.
    XCTAssertEqual(
        policy.sites.map(\.caller), policy.sites.map(\.caller).sorted(), "\(context): site order", file: file,
        line: line)
}
