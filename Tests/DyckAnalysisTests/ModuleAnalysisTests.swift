import CLLVM
import DyckAnalysis
import DyckModel
import Foundation
import XCTest

final class ModuleAnalysisTests: XCTestCase {
    private func analyze(ir: String, name: String, options: AnalysisOptions = AnalysisOptions()) throws
        -> AnalysisResult
    {
        try analyzeIR(atPath: try Fixtures.write(ir, to: name), options: options)
    }

    private func word(_ policy: Policy, _ label: Label) -> String { PolicyWords(policy).word(label) }

    /// Compares one function with a regex of the golden-test language.
    private func assertFunction(
        _ policy: Policy, _ function: String, _ regex: String, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let index = try XCTUnwrap(policy.functionIndex(named: function), file: file, line: line)
        var words = PolicyWords(policy)
        let actual = words.relabel(policy.functions[index].automaton)
        let expected = try ExpectRegex.parse(regex).automaton { words.id($0) }
        if let difference = actual.difference(from: expected) {
            XCTFail("\(function): \(words.spell(difference.word)) \(difference)", file: file, line: line)
        }
    }

    func testBitcodeAndTextGiveTheSamePolicy() throws {
        for name in ["indirect", "shared"] {
            let text = try Fixtures.compile(name, flags: ["-O0", "-g", "-S"])
            let bitcode = try Fixtures.compile(name, flags: ["-O0", "-g", "-c"], suffix: "bc")
            var fromText = try analyzeIR(atPath: text).policy
            let fromBitcode = try analyzeIR(atPath: bitcode).policy
            fromText.module = fromBitcode.module
            XCTAssertEqual(fromText, fromBitcode, name)
        }
    }

    func testCallTableMatchesPolicy() throws {
        let path = try Fixtures.compile("indirect", flags: ["-O0", "-g", "-S"])
        let module = try IRModule(contentsOf: path)
        let analysis = try analyzeModule(module)
        let policy = analysis.result.policy
        XCTAssertEqual(analysis.functions.count, policy.functions.count)

        // Every site has exactly one instruction, in its caller.
        var sitesSeen = [Int: CallKey]()
        for (key, events) in analysis.calls {
            if let site = events.site {
                XCTAssertNil(sitesSeen[site], "site \(site) twice")
                sitesSeen[site] = key
                XCTAssertEqual(policy.sites[site].caller, key.function)
                XCTAssertEqual(policy.sites[site].indirect, events.indirect)
            }
            for target in events.libc {
                XCTAssertEqual(valueName(target.declaration), policy.symbols[target.symbol])
            }
            // The ordinal finds the very instruction again.
            XCTAssertTrue(instruction(at: key.instruction, in: analysis.functions[key.function]) == events.instruction)
        }
        XCTAssertEqual(Set(sitesSeen.keys), Set(policy.sites.indices))

        // Site ids follow instruction order within a function.
        let ordered = sitesSeen.sorted { $0.key < $1.key }.map(\.value)
        XCTAssertEqual(ordered, sitesSeen.values.sorted())

        // The w("y") call: one site and the libc candidate puts.
        let mixed = analysis.calls.values.filter { $0.indirect && !$0.libc.isEmpty }
        XCTAssertEqual(mixed.count, 1)
        XCTAssertEqual(mixed.first.map { $0.libc.map { policy.symbols[$0.symbol] } }, ["puts"])
        XCTAssertNotNil(mixed.first?.site)
        XCTAssertEqual(mixed.first?.mayBeSilent, false)
    }

    private func instruction(at ordinal: Int, in function: LLVMValueRef) -> LLVMValueRef? {
        var count = 0
        var block = LLVMGetFirstBasicBlock(function)
        while let b = block {
            var instruction = LLVMGetFirstInstruction(b)
            while let i = instruction {
                if count == ordinal { return i }
                count += 1
                instruction = LLVMGetNextInstruction(i)
            }
            block = LLVMGetNextBasicBlock(b)
        }
        return nil
    }

    private func valueName(_ value: LLVMValueRef) -> String {
        var length = 0
        guard let name = LLVMGetValueName2(value, &length) else { return "" }
        return String(cString: name)
    }

    func testSourceLocations() throws {
        let source = try String(contentsOf: Fixtures.source("helper"), encoding: .utf8)
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false)
        func lineOf(_ text: String) -> Int { (lines.firstIndex { $0.contains(text) } ?? -2) + 1 }

        let policy = try analyzeIR(atPath: try Fixtures.compile("helper", flags: ["-O0", "-g", "-S"])).policy
        let main = try XCTUnwrap(policy.functionIndex(named: "main"))
        let bar = try XCTUnwrap(policy.functionIndex(named: "bar"))
        XCTAssertEqual(policy.functions[main].location?.line, lineOf("int main("))
        XCTAssertEqual(policy.functions[bar].location?.line, lineOf("void bar("))
        XCTAssertTrue(policy.functions[main].location?.file.hasSuffix("helper.c") ?? false)
        let fopen = try XCTUnwrap(policy.symbolID(named: "fopen"))
        let fopenEdges = policy.functions[main].automaton.edges.filter { $0.label == .libc(fopen) }
        XCTAssertEqual(fopenEdges.flatMap(\.locations).map(\.line), [lineOf("fopen(")])
        XCTAssertEqual(policy.sites.map { $0.location?.line }, [lineOf("bar(fp);")])

        let plain = try analyzeIR(atPath: try Fixtures.compile("helper", flags: ["-O0", "-S"])).policy
        XCTAssertTrue(plain.functions.allSatisfy { $0.location == nil })
        XCTAssertTrue(plain.functions.allSatisfy { $0.automaton.edges.allSatisfy { $0.locations.isEmpty } })
        XCTAssertTrue(plain.sites.allSatisfy { $0.location == nil })
    }

    func testAliasesAndCasts() throws {
        let policy = try analyze(
            ir: """
                @helper_alias = alias void (), ptr @helper
                @puts_alias = alias i32 (ptr), ptr @my_puts

                define void @helper() {
                  %r = call i32 @puts(ptr null)
                  ret void
                }

                define i32 @my_puts(ptr %s) {
                  %r = call i32 @puts(ptr %s)
                  ret i32 %r
                }

                define i32 @main() {
                  call void @helper_alias()
                  %r = call i32 @puts_alias(ptr null)
                  ret i32 0
                }

                declare i32 @puts(ptr)
                """, name: "alias.ll"
        ).policy
        try assertFunction(policy, "main", "call:helper call:my_puts exit")
        XCTAssertTrue(policy.sites.allSatisfy { !$0.indirect })
    }

    func testInvokeAndInlineAsm() throws {
        let result = try analyze(
            ir: """
                define i32 @main() personality ptr @__gxx_personality_v0 {
                entry:
                  call void asm sideeffect "nop", ""()
                  %r = invoke i32 @puts(ptr null) to label %ok unwind label %bad
                ok:
                  %c = call i32 @putchar(i32 10)
                  ret i32 0
                bad:
                  %lp = landingpad { ptr, i32 } cleanup
                  call void @abort()
                  unreachable
                }

                declare i32 @__gxx_personality_v0(...)
                declare i32 @puts(ptr)
                declare i32 @putchar(i32)
                declare void @abort()
                """, name: "invoke.ll")
        try assertFunction(result.policy, "main", "puts (putchar exit | abort!)")
        XCTAssertEqual(result.warnings, [])
    }

    func testIndirectCallWithoutMatchingTypeFallsBack() throws {
        let result = try analyze(
            ir: """
                @table = global [2 x ptr] [ptr @a, ptr @b]

                define void @a() {
                  %r = call i32 @puts(ptr null)
                  ret void
                }

                define i32 @b(i32 %x) {
                  ret i32 %x
                }

                define i32 @main(ptr %p) {
                  call void %p(i64 1)
                  ret i32 0
                }

                declare i32 @puts(ptr)
                """, name: "fallback.ll")
        // b makes no libc call: called through %p it gets no marker (an ε beside the site).
        try assertFunction(result.policy, "main", "(call:{a} | ()) exit")
        XCTAssertEqual(result.warnings.count, 1)
        XCTAssertEqual(result.warnings[0].kind, .indirectCallAssumesAnyTarget, "\(result.warnings[0])")
        XCTAssertTrue(
            result.warnings[0].message.contains("assuming any address-taken function"), "\(result.warnings[0])")
        XCTAssertEqual(result.warnings[0].module, "fallback.ll")
    }

    func testIndirectCallWithNoAddressTakenFunction() throws {
        let result = try analyze(
            ir: """
                define i32 @main(ptr %p) {
                  %r = call i32 @puts(ptr null)
                  call void %p()
                  ret i32 0
                }

                declare i32 @puts(ptr)
                """, name: "no-targets.ll")
        try assertFunction(result.policy, "main", "puts exit")
        XCTAssertEqual(result.warnings.count, 1)
        XCTAssertEqual(result.warnings[0].kind, .indirectCallWithoutTargets, "\(result.warnings[0])")
        XCTAssertTrue(result.warnings[0].message.contains("no address-taken function"), "\(result.warnings[0])")
    }

    func testIndirectCallToLibcOnlyAndToUnknownExternal() throws {
        // Candidates of type i32(ptr): puts (libc) and ext (unknown): a puts edge, or no event.
        let path = try Fixtures.write(
            """
            @fns = global [2 x ptr] [ptr @puts, ptr @ext]

            define i32 @main(ptr %p) {
              %r = call i32 %p(ptr null)
              %q = call i32 @putchar(i32 1)
              ret i32 0
            }

            declare i32 @puts(ptr)
            declare i32 @ext(ptr)
            declare i32 @putchar(i32)
            """, to: "libc-pointer.ll")
        let module = try IRModule(contentsOf: path)
        let analysis = try analyzeModule(module)
        let result = analysis.result
        try assertFunction(result.policy, "main", "puts? putchar exit")
        let indirect = try XCTUnwrap(analysis.calls.values.first { $0.indirect })
        XCTAssertNil(indirect.site)
        XCTAssertTrue(indirect.mayBeSilent)
        XCTAssertEqual(indirect.libc.map { valueName($0.declaration) }, ["puts"])
        XCTAssertTrue(result.policy.sites.isEmpty)
        XCTAssertEqual(result.warnings.count, 1)
        XCTAssertEqual(result.warnings[0].kind, .uncoveredExternalCall, "\(result.warnings[0])")
        XCTAssertTrue(result.warnings[0].message.contains("'ext'"), "\(result.warnings[0])")
    }

    func testAvailableExternallyIsADeclaration() throws {
        // glibc's extern-inline atof at -O2: the body is discarded, libc's atof runs.
        // (atof makes no system call, so it is an event only with every libc call one.)
        var options = AnalysisOptions()
        options.libcEvents = .all
        let result = try analyze(
            ir: """
                define available_externally double @atof(ptr %s) {
                  %r = call double @strtod(ptr %s, ptr null)
                  ret double %r
                }

                define i32 @main() {
                  %d = call double @atof(ptr null)
                  ret i32 0
                }

                declare double @strtod(ptr, ptr)
                """, name: "available-externally.ll", options: options)
        XCTAssertEqual(result.policy.functions.map(\.name), ["main"])
        try assertFunction(result.policy, "main", "atof exit")
        XCTAssertEqual(result.policy.symbols, ["atof", "exit"])
    }

    /// Callbacks are the address-taken functions that reach libc, however the address
    /// is taken, except the entry.
    func testCallbacksAreAddressTakenFunctionsThatReachLibc() throws {
        let path = try Fixtures.write(
            """
            @llvm.global_ctors = appending global [1 x { i32, ptr, ptr }] [{ i32, ptr, ptr } { i32 65535, ptr @ctor, ptr null }]
            @slot = global ptr null
            @action = internal constant { ptr, i64 } { ptr @in_static, i64 0 }
            @quiet_table = global [1 x ptr] [ptr @quiet]

            define void @ctor() {
              %r = call i32 @puts(ptr null)
              ret void
            }
            define void @stored() {
              %r = call i32 @puts(ptr null)
              ret void
            }
            define void @handler(i32 %s) {
              call void @direct_only()
              ret void
            }
            define void @in_static(i32 %s) {
              %r = call i32 @puts(ptr null)
              ret void
            }
            define void @through_wrapper(i32 %s) {
              %r = call i32 @puts(ptr null)
              ret void
            }
            define void @wrapper(i32 %s, ptr %f) {
              %r = call ptr @signal(i32 %s, ptr %f)
              ret void
            }
            define void @direct_only() {
              %r = call i32 @puts(ptr null)
              ret void
            }
            define void @quiet(i32 %s) {
              ret void
            }

            define i32 @main() {
              store ptr @stored, ptr @slot
              %r = call ptr @signal(i32 2, ptr @handler)
              call void @wrapper(i32 3, ptr @through_wrapper)
              store ptr @main, ptr @slot
              %p = load ptr, ptr @action
              call void %p(i32 1)
              ret i32 0
            }

            declare ptr @signal(i32, ptr)
            declare i32 @puts(ptr)
            """, to: "callbacks.ll")
        let module = try IRModule(contentsOf: path)
        let analysis = try analyzeModule(module)
        let policy = analysis.result.policy
        // @slot is only ever stored into: stored's address stays there, no code reads it,
        // so it is confined and no callback (specs/analysis.md, "Confined globals").
        XCTAssertEqual(
            policy.callbacks.map { policy.functions[$0].name }, ["ctor", "handler", "in_static", "through_wrapper"])
        // The call through %p (candidates handler, in_static, through_wrapper, quiet) is
        // a site of the three that reach libc (a thunk in %p is bypassed, not silent),
        // and quiet, which reaches no libc, is called with no marker at all.
        let indirect = try XCTUnwrap(analysis.calls.values.first { $0.indirect })
        XCTAssertNotNil(indirect.site)
        XCTAssertTrue(indirect.mayBeSilent)
        let quiet = try XCTUnwrap(analysis.functions[try XCTUnwrap(policy.functionIndex(named: "quiet"))])
        XCTAssertEqual(indirect.unmarked, [quiet])
        try assertFunction(policy, "main", "signal call:wrapper (call:{handler,in_static,through_wrapper} | ()) exit")
    }

    // MARK: Returning from the entry

    /// Each `ret` of the entry that a path reaches goes through `exit` to a final
    /// state, with the return's source line; a `ret` no path reaches gets nothing.
    func testReturnsOfTheEntryRunExit() throws {
        let source = try String(contentsOf: Fixtures.source("early"), encoding: .utf8)
        let path = try Fixtures.compile("early", flags: ["-O0", "-g", "-S"])
        let module = try IRModule(contentsOf: path)
        let analysis = try analyzeModule(module)
        let policy = analysis.result.policy
        let exit = try XCTUnwrap(policy.symbolID(named: "exit"))
        let main = policy.functions[policy.entry].automaton
        let edges = main.edges.filter { $0.label == .libc(exit) }
        XCTAssertEqual(edges.count, 1)
        XCTAssertTrue(edges.allSatisfy { main.finals.contains($0.to) && !main.finals.contains($0.from) })
        XCTAssertEqual(main.finals.count, 1)
        // The edge carries the ret's line: here main's one return statement (with
        // several, clang -O0 returns from one block at the closing brace).
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false)
        let returnLine = try XCTUnwrap(lines.firstIndex { $0.contains("return process(") }) + 1
        XCTAssertEqual(edges.flatMap(\.locations).map(\.line), [returnLine])
        XCTAssertEqual(analysis.entryExit?.symbol, exit)
        XCTAssertEqual(analysis.entryExit?.returns.count, 1)
        // process returns normally: its returns are no business of exit.
        try assertFunction(policy, "process", "fopen (fgetc fclose puts?)?")

        let result = try analyze(
            ir: """
                define i32 @main(i32 %argc) {
                entry:
                  %c = icmp sgt i32 %argc, 1
                  br i1 %c, label %one, label %two
                one:
                  %r = call i32 @puts(ptr null)
                  ret i32 1
                two:
                  ret i32 2
                dead:
                  %q = call i32 @putchar(i32 1)
                  ret i32 3
                }

                declare i32 @puts(ptr)
                declare i32 @putchar(i32)
                """, name: "two-returns.ll")
        try assertFunction(result.policy, "main", "puts? exit")
        // putchar labels no edge a run can take (the block is unreachable); exit does.
        XCTAssertEqual(result.policy.symbols, ["exit", "putchar", "puts"])
        let module2 = try IRModule(
            contentsOf: try Fixtures.write(
                """
                define i32 @main(i32 %argc) {
                entry:
                  %c = icmp sgt i32 %argc, 1
                  br i1 %c, label %one, label %two
                one:
                  ret i32 1
                two:
                  ret i32 2
                dead:
                  ret i32 3
                }
                """, to: "three-returns.ll"))
        XCTAssertEqual(try analyzeModule(module2).entryExit?.returns.count, 2)
    }

    /// An entry that cannot return has no `exit` event of its own, and `exit` is no
    /// symbol unless the program calls it.
    func testAnEntryThatNeverReturnsHasNoExit() throws {
        let result = try analyze(
            ir: """
                define i32 @main() {
                entry:
                  br label %loop
                loop:
                  %r = call i32 @puts(ptr null)
                  br label %loop
                }

                declare i32 @puts(ptr)
                """, name: "forever.ll")
        try assertFunction(result.policy, "main", "puts+!")
        XCTAssertEqual(result.policy.symbols, ["puts"])
        let module = try IRModule(
            contentsOf: try Fixtures.write(
                """
                define i32 @main() {
                  %r = call i32 @puts(ptr null)
                  unreachable
                }

                declare i32 @puts(ptr)
                """, to: "unreachable-end.ll"))
        XCTAssertNil(try analyzeModule(module).entryExit)
    }

    /// The entry gets `exit` at its returns also when the program calls it: calls of
    /// it are then sites (it reaches libc through exit, even with no libc call of its
    /// own), and its returns run the `LIBC(exit)` marker either way.
    func testAnEntryThatIsCalledKeepsItsExit() throws {
        let result = try analyze(
            ir: """
                define i32 @main(i32 %n) {
                  %c = icmp sgt i32 %n, 0
                  br i1 %c, label %again, label %done
                again:
                  %m = sub i32 %n, 1
                  %r = call i32 @helper(i32 %m)
                  ret i32 %r
                done:
                  ret i32 0
                }

                define i32 @helper(i32 %n) {
                  %r = call i32 @main(i32 %n)
                  ret i32 %r
                }
                """, name: "called-main.ll")
        let policy = result.policy
        XCTAssertEqual(policy.symbols, ["exit"])
        try assertFunction(policy, "main", "call:helper? exit")
        try assertFunction(policy, "helper", "call:main")
        XCTAssertEqual(policy.sites.count, 2)
    }

    /// `--entry` names the function whose returns run exit; main is then an ordinary
    /// function.
    func testAnotherEntryGetsTheExit() throws {
        let ir = """
            define i32 @main() {
              %r = call i32 @puts(ptr null)
              ret i32 0
            }

            define void @start() {
              %r = call i32 @main()
              ret void
            }

            declare i32 @puts(ptr)
            """
        let result = try analyze(ir: ir, name: "start.ll", options: AnalysisOptions(entry: "start"))
        try assertFunction(result.policy, "start", "call:main exit")
        try assertFunction(result.policy, "main", "puts")
    }

    /// A `ret` right after a `musttail` call cannot have a marker before it: it stays
    /// final without `exit`, with a warning.
    func testMusttailReturnOfTheEntryIsWarned() throws {
        let path = try Fixtures.write(
            """
            define i32 @main(i32 %n) {
              %c = icmp sgt i32 %n, 0
              br i1 %c, label %tail, label %done
            tail:
              %r = musttail call i32 @helper(i32 %n)
              ret i32 %r
            done:
              ret i32 0
            }

            define i32 @helper(i32 %n) {
              %r = call i32 @puts(ptr null)
              ret i32 %r
            }

            declare i32 @puts(ptr)
            """, to: "musttail-main.ll")
        let module = try IRModule(contentsOf: path)
        let analysis = try analyzeModule(module)
        let result = analysis.result
        try assertFunction(result.policy, "main", "call:helper | exit")
        XCTAssertEqual(analysis.entryExit?.returns.count, 1)
        XCTAssertEqual(result.warnings.count, 1)
        XCTAssertEqual(result.warnings.first?.kind, .entryReturnsAfterMusttail, "\(result.warnings)")
        XCTAssertTrue(
            result.warnings.first?.message.contains("returns right after a musttail call") ?? false,
            "\(result.warnings)")
    }

    func testUnnamedFunctionsGetAName() throws {
        let result = try analyze(
            ir: """
                define void @0() {
                  %r = call i32 @puts(ptr null)
                  ret void
                }

                define i32 @main() {
                  call void @0()
                  ret i32 0
                }

                declare i32 @puts(ptr)
                """, name: "unnamed.ll")
        XCTAssertEqual(result.policy.functions.map(\.name), ["<unnamed 0>", "main"])
        assertWellFormed(result.policy, "unnamed.ll")
    }

    /// The analysis must stay linear: a long call chain, many indirect calls of one type
    /// and many functions of that type.
    func testLargeModuleIsFast() throws {
        let count = 4000
        var ir = "declare i32 @puts(ptr)\n@table = global [\(count) x ptr] ["
        ir += (0..<count).map { "ptr @f\($0)" }.joined(separator: ", ") + "]\n"
        for i in 0..<count {
            let next = i + 1 < count ? "call void @f\(i + 1)()" : "%r = call i32 @puts(ptr null)"
            ir += "define void @f\(i)() {\n  \(next)\n  ret void\n}\n"
        }
        ir += "define i32 @main() {\n"
        for i in 0..<count {
            ir += "  %p\(i) = load ptr, ptr getelementptr ([\(count) x ptr], ptr @table, i64 0, i64 \(i))\n"
        }
        for i in 0..<100 { ir += "  call void %p\(i)()\n" }
        ir += "  call void @f0()\n  ret i32 0\n}\n"
        let start = Date()
        let result = try analyze(ir: ir, name: "large.ll")
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertEqual(result.policy.sites.count, count - 1 + 100 + 1)
        XCTAssertLessThan(elapsed, 20, "analysis took \(elapsed) s")
    }
}
