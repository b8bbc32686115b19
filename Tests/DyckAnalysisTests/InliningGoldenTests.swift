import DyckAnalysis
import DyckModel
import Foundation
import TestSupport
import XCTest

/// Inlining small callees (`AnalysisOptions.inlineLimit`), on fixtures compiled with
/// `clang-19 -O0 -g`: the expectations in `NAME.kK.expect` (and `inline/NAME.expect`,
/// at K=16) are derived by hand from the C source, and every fixture keeps the libc
/// language of each of its functions.
final class InliningGoldenTests: XCTestCase {
    func testHelperAt16() throws { try check("helper", limit: 16, expect: "helper.k16") }
    func testSharedAt16() throws { try check("shared", limit: 16, expect: "shared.k16") }
    func testSharedAt4() throws { try check("shared", limit: 4, expect: "shared.k4") }
    func testEarlyAt16() throws { try check("early", limit: 16, expect: "early.k16") }
    func testRecursionAt16() throws { try check("recursion", limit: 16, expect: "recursion.k16") }
    func testIndirectAt16() throws { try check("indirect", limit: 16, expect: "indirect.k16") }
    func testMusttailAt16() throws { try check("inline/musttail", limit: 16, expect: "inline/musttail") }
    func testSetjmpAt16() throws { try check("inline/setjmp", limit: 16, expect: "inline/setjmp") }
    func testWrapperAt16() throws { try check("inline/wrapper", limit: 16, expect: "inline/wrapper") }

    /// Every fixture, at -O0 and -O2, for several K: the same functions, symbols and
    /// callbacks, and per function the same libc words (prefixes and complete words up
    /// to 5 events) as without inlining; K=0 changes nothing.
    func testEveryFixtureKeepsItsLanguage() throws {
        var inlined = 0
        for name in Fixtures.names + ["inline/musttail", "inline/setjmp", "inline/wrapper"] {
            for flags in [["-O0", "-g", "-S"], ["-O2", "-S"]] {
                let path = try compile(name, flags: flags)
                let base = try analyzeModule(IRModule(contentsOf: path)).result.policy
                XCTAssertEqual(
                    try analyzeModule(IRModule(contentsOf: path), options: options(limit: 0)).result.policy, base)
                let reference = BoundedLanguage(base, length: 5)
                for limit in [4, 16, 64] {
                    let analysis = try analyzeModule(IRModule(contentsOf: path), options: options(limit: limit))
                    let policy = analysis.result.policy
                    let context = "\(name) \(flags) K=\(limit)"
                    assertValid(policy, context)
                    XCTAssertEqual(policy.symbols, base.symbols, context)
                    XCTAssertEqual(policy.functions.map(\.name), base.functions.map(\.name), context)
                    XCTAssertEqual(policy.callbacks, base.callbacks, context)
                    XCTAssertEqual(policy.sites.count, base.sites.count - analysis.inlinedSites, context)
                    inlined += analysis.inlinedSites
                    // The calls left for the instrumentation name exactly the remaining sites.
                    let marked = Set(analysis.calls.values.compactMap(\.site))
                    XCTAssertEqual(marked, Set(policy.sites.indices), context)
                    let words = BoundedLanguage(policy, length: 5)
                    for f in policy.functions.indices {
                        XCTAssertEqual(
                            words.prefixes[f], reference.prefixes[f], "\(context) \(policy.functions[f].name)")
                        XCTAssertEqual(
                            words.complete[f], reference.complete[f], "\(context) \(policy.functions[f].name)")
                    }
                }
            }
        }
        XCTAssertGreaterThan(inlined, 10)
    }

    // MARK: -

    /// `Policy.validate()` and sorted tables; unlike the goldens' `assertWellFormed`, a
    /// site's call edges may be in other functions than its caller (where it was
    /// inlined).
    private func assertValid(_ policy: Policy, _ context: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNoThrow(try policy.validate(), context, file: file, line: line)
        XCTAssertEqual(policy.symbols, policy.symbols.sorted(), context, file: file, line: line)
        XCTAssertEqual(policy.callbacks, policy.callbacks.sorted(), context, file: file, line: line)
        XCTAssertEqual(
            policy.sites.map(\.caller), policy.sites.map(\.caller).sorted(), "\(context): site order", file: file,
            line: line)
    }

    private func options(limit: Int) -> AnalysisOptions {
        var options = AnalysisOptions()
        options.inlineLimit = limit
        return options
    }

    private func compile(_ name: String, flags: [String]) throws -> String {
        guard name.contains("/") else { return try Fixtures.compile(name, flags: flags) }
        let tag = flags.joined().replacingOccurrences(of: "-", with: "")
        let output = Fixtures.workDirectory
            .appendingPathComponent(name.replacingOccurrences(of: "/", with: "_") + "-\(tag).ll").path
        if !FileManager.default.fileExists(atPath: output) {
            try Fixtures.run(try Fixtures.clang(), flags + ["-emit-llvm", "-o", output, Fixtures.source(name).path])
        }
        return output
    }

    private func check(_ name: String, limit: Int, expect: String, file: StaticString = #filePath, line: UInt = #line)
        throws
    {
        let path = try compile(name, flags: ["-O0", "-g", "-S"])
        let result = try analyzeModule(IRModule(contentsOf: path), options: options(limit: limit)).result
        let policy = result.policy
        let expectation = try Expectation(contentsOf: Fixtures.directory.appendingPathComponent(expect + ".expect"))
        assertValid(policy, name, file: file, line: line)
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
                XCTFail(
                    "\(name) K=\(limit): \(function): '\(words.spell(difference.word))' "
                        + "(\(difference.language.rawValue) language, in the analysis: \(difference.inSelf)); "
                        + "expected \(text)", file: file, line: line)
            }
        }
        for (function, count) in expectation.siteCounts {
            let index = policy.functionIndex(named: function) ?? -1
            XCTAssertEqual(
                policy.sites.filter { $0.callees.contains(index) }.count, count,
                "\(name) K=\(limit): sites of \(function)",
                file: file, line: line)
        }
        XCTAssertEqual(
            Set(policy.callbacks.map { policy.functions[$0].name }), Set(expectation.callbacks), "\(name): callbacks",
            file: file, line: line)
    }
}
