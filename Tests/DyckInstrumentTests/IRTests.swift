import CLLVM
import DyckAnalysis
import DyckInstrument
import DyckModel
import Foundation
import XCTest

/// Hand-written IR for what C at -O0 does not produce: invoke (with PHIs in the
/// destinations), musttail and tail calls, two dispatched calls in one block, the
/// constructor table, a variadic callback, aliases, `blockaddress`, `llvm.used`.
final class IRTests: XCTestCase {
    /// Runnable: main's exit status is 11 with an argument, 12 without.
    static let program = """
        @.hello = private constant [6 x i8] c"hello\\00"
        @.world = private constant [6 x i8] c"world\\00"
        @.done = private constant [5 x i8] c"done\\00"
        @.init = private constant [5 x i8] c"init\\00"
        @fns = global [2 x ptr] [ptr @puts, ptr @my_puts]
        @slot = global ptr null
        ; @slot's own address is published, so what is stored in it escapes.
        @slot_ref = global ptr @slot
        @current = global ptr null
        @llvm.global_ctors = appending global [1 x { i32, ptr, ptr }] [{ i32, ptr, ptr } { i32 65535, ptr @ctor, ptr null }]

        declare i32 @puts(ptr)
        declare i32 @__gcc_personality_v0(...)

        define void @ctor() {
          %r = call i32 @puts(ptr @.init)
          ret void
        }

        define void @variadic(i32 %n, ...) {
          %r = call i32 @puts(ptr @.done)
          ret void
        }

        define i32 @say(ptr %s) {
          %r = call i32 @puts(ptr %s)
          ret i32 %r
        }

        define i32 @my_puts(ptr %s) {
          %r = call i32 @puts(ptr %s)
          ret i32 %r
        }

        define i32 @relay(ptr %s) {
          %r = musttail call i32 @say(ptr %s)
          ret i32 %r
        }

        define i32 @relay_indirect(ptr %s) {
          %p = load ptr, ptr @current
          %r = musttail call i32 %p(ptr %s)
          ret i32 %r
        }

        define i32 @main(i32 %argc, ptr %argv) personality ptr @__gcc_personality_v0 {
        entry:
          store ptr @variadic, ptr @slot
          %c = icmp sgt i32 %argc, 1
          br i1 %c, label %a, label %b
        a:
          %x = invoke i32 @say(ptr @.hello) to label %join unwind label %lp
        b:
          br label %join
        join:
          %v = phi i32 [ %x, %a ], [ 7, %b ]
          %y = invoke i32 @say(ptr @.world) to label %next unwind label %lp
        next:
          %sel = select i1 %c, i64 0, i64 1
          %slotp = getelementptr [2 x ptr], ptr @fns, i64 0, i64 %sel
          %p = load ptr, ptr %slotp
          %z = invoke i32 %p(ptr @.done) to label %after unwind label %lp
        after:
          %w = phi i32 [ %z, %next ]
          %t = tail call i32 @say(ptr @.done)
          %r1 = call i32 %p(ptr @.hello)
          %r2 = call i32 %p(ptr @.world)
          %u = call i32 @relay(ptr @.done)
          store ptr %p, ptr @current
          %q = call i32 @relay_indirect(ptr @.done)
          br i1 %c, label %merge, label %other
        other:
          br label %merge
        merge:
          %m = phi i32 [ %r2, %after ], [ 0, %other ]
          %sum = add i32 %v, %w
          ret i32 %sum
        lp:
          %l = landingpad { ptr, i32 } cleanup
          resume { ptr, i32 } %l
        }
        """

    func testHandWrittenIRRunsAndStaysInThePolicy() throws {
        let path = try Lab.write(Self.program, to: "handwritten.ll")
        let result = try Lab.instrumentFile(path)
        let executable = try Lab.link(result.path, flags: ["-O0"], output: "handwritten.inst")
        for (arguments, status) in [([String](), Int32(12)), (["x"], Int32(11))] {
            let output = try Lab.run(executable, arguments)
            XCTAssertEqual(output.status, status, "\(arguments) \(output)")
            let replay = Lab.replay(try Lab.trace(executable, arguments), policy: result.policy)
            XCTAssertEqual(replay.violations, [], "\(arguments)")
            XCTAssertGreaterThan(replay.kinds[.tail, default: 0], 0)
            XCTAssertGreaterThan(replay.kinds[.callbackEnter, default: 0], 0)
        }
        // The same IR optimized again after instrumentation still behaves.
        let optimized = try Lab.link(result.path, flags: ["-O2"], output: "handwritten-O2.inst")
        XCTAssertEqual(try Lab.run(optimized, ["x"]).status, 11)
    }

    func testInvokeReturnMarkers() throws {
        let result = try Lab.instrumentFile(try Lab.write(Self.program, to: "invoke.ll"))
        let main = try body(of: "main", in: result.text)
        // %join has another predecessor (%b): RET goes on a new block on the edge, and
        // the PHI names that block instead of %a.
        XCTAssertTrue(
            main.range(
                of: #"%x = invoke i32 @say\(ptr @.hello\)\s+to label %sbx\.ret\d* "#, options: .regularExpression)
                != nil, main)
        XCTAssertTrue(
            main.range(of: #"%v = phi i32 \[ %x, %sbx\.ret\d* \], \[ 7, %b \]"#, options: .regularExpression) != nil,
            main)
        // %next is entered only from the invoke: RET (with its skip test) is its first
        // instruction.
        XCTAssertTrue(
            main.range(
                of: #"\nnext:[^\n]*\n[^\n]*asm sideeffect "cmpb [^\n]*lea 2f[^\n]*\(i64 999, i64 3, "#,
                options: .regularExpression)
                != nil, main)
        // The dispatched invoke: its PHI in %after now names the block that continues.
        XCTAssertTrue(
            main.range(of: #"%w = phi i32 \[ %z, %sbx\.cont\d* \]"#, options: .regularExpression) != nil, main)
    }

    /// The entry's return is announced as libc's exit: `LIBC(exit)` right before the
    /// `ret`, and nowhere else (no function but main gets one).
    func testEntryReturnIsAnnouncedAsExit() throws {
        let result = try Lab.instrumentFile(try Lab.write(Self.program, to: "exit.ll"))
        let exit = try XCTUnwrap(result.policy.symbolID(named: "exit"))
        let main = try body(of: "main", in: result.text)
        XCTAssertTrue(
            main.range(
                of: #"asm sideeffect "lea 2f[^\n]*\(i64 999, i64 1, i64 "# + String(exit)
                    + #"\)[^\n]*\n\s*ret i32 %sum\n"#,
                options: .regularExpression) != nil, main)
        let everywhere = markers(in: result.text).filter { $0.kind == 1 && $0.id == exit }
        XCTAssertEqual(everywhere.count, 1)
        // The tail call right before a return of the entry loses its hint too.
        let tail = """
            @.x = private constant [2 x i8] c"x\\00"
            define i32 @main() {
              %r = tail call i32 @puts(ptr @.x)
              ret i32 0
            }
            declare i32 @puts(ptr)
            """
        let instrumented = try Lab.instrumentFile(try Lab.write(tail, to: "exit-tail.ll"))
        XCTAssertFalse(instrumented.text.contains("tail call"), instrumented.text)
        XCTAssertEqual(markers(in: instrumented.text).map(\.kind), [1, 1])
        XCTAssertEqual(instrumented.policy.symbols, ["exit", "puts"])
        let output = try Lab.run(try Lab.link(instrumented.path, flags: ["-O2"], output: "exit-tail"), [])
        XCTAssertEqual(output.stdout, "x\n", "\(output)")
        XCTAssertEqual(output.status, 0, "\(output)")
    }

    func testTailAndMusttail() throws {
        let result = try Lab.instrumentFile(try Lab.write(Self.program, to: "tail.ll"))
        let main = try body(of: "main", in: result.text)
        // A `tail` site gets RET after it, so the tail hint goes.
        XCTAssertTrue(main.contains("%t = call i32 @say(ptr @.done)"), main)
        XCTAssertFalse(main.contains("tail call"), main)
        for function in ["relay", "relay_indirect"] {
            let text = try body(of: function, in: result.text)
            let kinds = markers(in: text).map(\.kind)
            XCTAssertTrue(kinds.contains(6), "\(function): \(text)")
            XCTAssertFalse(kinds.contains(2) || kinds.contains(3), "\(function): \(text)")
            XCTAssertTrue(
                text.range(of: #"musttail call i32 [^\n]*\n\s*ret i32 %r"#, options: .regularExpression) != nil, text)
        }
        // The indirect one may also run libc's puts: LIBC on that branch.
        XCTAssertTrue(markers(in: try body(of: "relay_indirect", in: result.text)).map(\.kind).contains(1))
    }

    func testCallbackThunks() throws {
        let result = try Lab.instrumentFile(try Lab.write(Self.program, to: "thunks.ll"))
        let policy = result.policy
        // Address-taken and reaching libc; say is only called directly.
        XCTAssertEqual(Set(policy.callbacks.map { policy.functions[$0].name }), ["ctor", "variadic", "my_puts"])
        XCTAssertEqual(result.report.thunks, 2)
        XCTAssertEqual(result.report.warnings.count, 1)
        XCTAssertEqual(result.report.warnings.first?.kind, .variadicCallbackWithoutThunk, "\(result.report.warnings)")
        XCTAssertTrue(
            result.report.warnings.first?.message.contains("'variadic' is variadic") ?? false,
            "\(result.report.warnings)")
        XCTAssertTrue(result.text.contains("ptr @ctor.sbx_thunk, ptr null }]"), result.text)
        XCTAssertTrue(result.text.contains("@fns = global [2 x ptr] [ptr @puts, ptr @my_puts.sbx_thunk]"), result.text)
        XCTAssertTrue(result.text.contains("store ptr @variadic, ptr @slot"))
        let thunk = try body(of: "ctor.sbx_thunk", in: result.text)
        let index = try XCTUnwrap(policy.functionIndex(named: "ctor"))
        XCTAssertEqual(markers(in: thunk).map(\.kind), [4, 5])
        XCTAssertEqual(markers(in: thunk).map(\.id), [index, index])
        XCTAssertTrue(thunk.contains("call void @ctor()"))
        // The program's calls through %p call my_puts itself when %p is its thunk.
        let main = try body(of: "main", in: result.text)
        XCTAssertTrue(
            main.range(
                of: #"icmp eq ptr %p, @my_puts\.sbx_thunk\n\s*%\S+ = select i1 %\S+, ptr @my_puts, ptr %p"#,
                options: .regularExpression) != nil, main)
        XCTAssertFalse(main.contains("call i32 @my_puts.sbx_thunk"), main)
    }

    /// What the redirection of a callback's address must leave alone, and what it must
    /// reach: direct calls (also through a cast or an alias), aliases, `blockaddress`,
    /// `llvm.used`; a static struct, an alias passed to libc, a constant expression.
    static let redirectProgram = """
        @.one = private constant [4 x i8] c"one\\00"
        @.two = private constant [4 x i8] c"two\\00"
        @handler_alias = alias void (i32), ptr @handler
        @action = internal constant { ptr, i64 } { ptr @handler, i64 0 }
        @labels = internal constant [2 x ptr] [ptr blockaddress(@handler, %one), ptr blockaddress(@handler, %two)]
        @as_int = internal global i64 ptrtoint (ptr @handler to i64)
        @llvm.used = appending global [1 x ptr] [ptr @handler], section "llvm.metadata"
        @llvm.compiler.used = appending global [1 x ptr] [ptr @handler_alias], section "llvm.metadata"

        declare i32 @puts(ptr)
        declare ptr @signal(i32, ptr)
        declare i32 @raise(i32)

        define void @handler(i32 %s) {
        entry:
          %odd = and i32 %s, 1
          %i = zext i32 %odd to i64
          %slot = getelementptr [2 x ptr], ptr @labels, i64 0, i64 %i
          %target = load ptr, ptr %slot
          indirectbr ptr %target, [label %one, label %two]
        one:
          %r1 = call i32 @puts(ptr @.one)
          ret void
        two:
          %r2 = call i32 @puts(ptr @.two)
          ret void
        }

        define i32 @main() {
          call void @handler(i32 0)
          call void @handler_alias(i32 1)
          %h = load ptr, ptr @action
          %o1 = call ptr @signal(i32 10, ptr %h)
          %x1 = call i32 @raise(i32 10)
          %o2 = call ptr @signal(i32 12, ptr @handler_alias)
          %x2 = call i32 @raise(i32 12)
          %n = load i64, ptr @as_int
          %p = inttoptr i64 %n to ptr
          %o3 = call ptr @signal(i32 15, ptr %p)
          %x3 = call i32 @raise(i32 15)
          ret i32 0
        }
        """

    func testRedirectionKeepsDirectCallsAliasesAndBlockAddresses() throws {
        let result = try Lab.instrumentFile(try Lab.write(Self.redirectProgram, to: "redirect.ll"))
        let text = result.text
        XCTAssertEqual(result.policy.callbacks.map { result.policy.functions[$0].name }, ["handler"])
        for kept in [
            "@handler_alias = alias void (i32), ptr @handler",
            "blockaddress(@handler, %one), ptr blockaddress(@handler, %two)",
            // The function itself, not its thunk; then the skip flag and the policy digest
            // that instrumentation adds.
            "@llvm.used = appending global [3 x ptr] [ptr @handler, ptr @__sbx_skip_sites, ptr @__sbx_policy_digest]",
            "@__sbx_policy_digest = internal constant [40 x i8] c\"SBXPOL01",
            "section \".sbx_policy\"",
            "@llvm.compiler.used = appending global [1 x ptr] [ptr @handler_alias]",
            "call void @handler(i32 0)", "call void @handler_alias(i32 1)",
            "@action = internal constant { ptr, i64 } { ptr @handler.sbx_thunk, i64 0 }",
            "ptrtoint (ptr @handler.sbx_thunk to i64)",
            "call ptr @signal(i32 12, ptr @handler.sbx_thunk)"
        ] {
            XCTAssertTrue(text.contains(kept), "no '\(kept)' in\n\(text)")
        }
        let executable = try Lab.link(result.path, flags: ["-O0"], output: "redirect.inst")
        let output = try Lab.run(executable, [])
        XCTAssertEqual(output.stdout, "one\ntwo\none\none\ntwo\n", "\(output)")
        let replay = Lab.replay(try Lab.trace(executable, []), policy: result.policy)
        XCTAssertEqual(replay.violations, [])
        XCTAssertEqual(replay.kinds[.callbackEnter, default: 0], 3)
        XCTAssertEqual(replay.kinds[.call, default: 0], 2)
    }

    func testReportCounts() throws {
        let result = try Lab.instrumentFile(try Lab.write(Self.program, to: "counts.ll"))
        let report = result.report
        XCTAssertEqual(report.instrumentedSites, result.policy.sites.count)
        // main: 3 of say (2 invokes, 1 tail), relay, relay_indirect, 3 through %p; relay's
        // musttail of say; relay_indirect's musttail through %p.
        XCTAssertEqual(report.programCalls, 10)
        XCTAssertEqual(report.dispatchedCalls, 4)
        XCTAssertEqual(report.setjmpPoints, 0)
        XCTAssertEqual(report.markers, markers(in: result.text).count)
    }

    /// The skip flag (specs/marker-abi.md, "Answers"): one internal zero byte that only
    /// asm text names, kept by `llvm.used`; every CALL/RET/TAIL marker tests it (checked
    /// by `markers(in:)` on every instrumented module of these tests), the others do not.
    /// A program's own variable of that name becomes the flag, zero at start whatever
    /// its initializer; anything else of that name is refused.
    func testSiteMarkersTestTheSkipFlag() throws {
        let result = try Lab.instrumentFile(try Lab.write(Self.program, to: "skip.ll"))
        XCTAssertTrue(result.text.contains("@__sbx_skip_sites = internal global i8 0\n"), "no flag definition")
        let used = try XCTUnwrap(result.text.split(separator: "\n").first { $0.hasPrefix("@llvm.used = ") })
        XCTAssertTrue(used.contains("ptr @__sbx_skip_sites"), String(used))
        let found = markers(in: result.text)
        let sites = found.filter { [2, 3, 6].contains($0.kind) }
        XCTAssertFalse(sites.isEmpty)
        XCTAssertTrue(found.contains { $0.kind == 6 }, "a TAIL marker")
        XCTAssertEqual(
            result.text.components(separatedBy: "cmpb $$0, __sbx_skip_sites(%rip)").count - 1,
            Set(sites.map { "\($0.kind):\($0.id)" }).count, "one uniqued asm per site marker")

        // A program that names the flag itself (to corrupt it, as the e2e test does).
        let own = Self.program.replacingOccurrences(
            of: "@current = global ptr null",
            with: "@current = global ptr null\n@__sbx_skip_sites = global i32 7")
        let owned = try Lab.instrumentFile(try Lab.write(own, to: "skip-own.ll"))
        XCTAssertTrue(
            owned.text.contains("@__sbx_skip_sites = internal global i32 0\n"), "the program's variable is the flag")
        XCTAssertFalse(owned.text.contains("__sbx_skip_sites.1"))
        _ = markers(in: owned.text)

        let clash = Self.program.replacingOccurrences(
            of: "declare i32 @puts(ptr)", with: "declare i32 @puts(ptr)\ndeclare void @__sbx_skip_sites()")
        let path = try Lab.write(clash, to: "skip-clash.ll")
        let module = try IRModule(contentsOf: path)
        XCTAssertThrowsError(try instrument(module, analysis: try analyzeModule(module))) { error in
            XCTAssertEqual(error as? InstrumentError, .reservedName(path: path, name: "__sbx_skip_sites"))
        }
    }

    /// Natively the answer is -ENOSYS: the flag stays clear and every marker is made
    /// (strace sees them all, the same stream as before); a program that sets the flag
    /// itself skips its CALL/RET/TAIL markers and still computes the same result.
    func testNativeRunsKeepEveryMarkerUnlessTheFlagIsSet() throws {
        let result = try Lab.instrumentFile(try Lab.write(Self.program, to: "native.ll"))
        let executable = try Lab.link(result.path, flags: ["-O2"], output: "native.inst")
        XCTAssertEqual(try Lab.run(executable, ["x"]).status, 11)
        let trace = try Lab.trace(executable, ["x"])
        let kinds = (trace.events[trace.root] ?? []).compactMap { Lab.marker($0)?.kind }
        XCTAssertTrue(kinds.contains(.call) && kinds.contains(.ret) && kinds.contains(.tail), "\(kinds)")

        let set = Self.program.replacingOccurrences(
            of: "@current = global ptr null", with: "@current = global ptr null\n@__sbx_skip_sites = external global i8"
        )
        .replacingOccurrences(
            of: "  store ptr @variadic, ptr @slot\n",
            with: "  store ptr @variadic, ptr @slot\n  store i8 1, ptr @__sbx_skip_sites\n")
        let corrupted = try Lab.instrumentFile(try Lab.write(set, to: "native-set.ll"))
        let skipping = try Lab.link(corrupted.path, flags: ["-O2"], output: "native-set.inst")
        XCTAssertEqual(try Lab.run(skipping, ["x"]).status, 11)
        XCTAssertEqual(try Lab.run(skipping, []).status, 12)
        let skipped = try Lab.trace(skipping, ["x"])
        let left = (skipped.events[skipped.root] ?? []).compactMap { Lab.marker($0)?.kind }
        XCTAssertFalse(left.contains(.call) || left.contains(.ret) || left.contains(.tail), "\(left)")
        XCTAssertTrue(left.contains(.libc), "\(left)")
    }

    func testAnalysisOfAnotherModuleIsRejected() throws {
        let path = try Lab.write(Self.program, to: "mismatch.ll")
        let analysed = try IRModule(contentsOf: path)
        let other = try IRModule(contentsOf: path)
        let analysis = try analyzeModule(analysed)
        XCTAssertThrowsError(try instrument(other, analysis: analysis)) { error in
            guard case InstrumentError.analysisMismatch(let errorPath, _) = error else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(errorPath, path)
            XCTAssertEqual((error as? CategorizedError)?.category, .badInput)
        }
    }

    func testMarkerNumbersMatchTheUAPIHeader() throws {
        let header = try String(
            contentsOf: Lab.packageRoot.appendingPathComponent("kmod/uapi/sbx_marker.h"), encoding: .utf8)
        var defines: [String: String] = [:]
        for line in header.split(separator: "\n") where line.hasPrefix("#define ") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if words.count >= 3 { defines[String(words[1])] = String(words[2]) }
        }
        let names: [MarkerKind: String] = [
            .libc: "LIBC", .call: "CALL", .ret: "RET", .callbackEnter: "CB_ENTER", .callbackExit: "CB_EXIT",
            .tail: "TAIL", .setjmpSave: "SJ_SAVE", .setjmpResume: "SJ_RESUME"
        ]
        for kind in MarkerKind.allCases {
            XCTAssertEqual(defines["SBX_MARK_" + (names[kind] ?? "?")], String(kind.rawValue), "\(kind)")
        }
        XCTAssertEqual(defines["SBX_MARKER_NR"], String(MarkerABI.systemCallNumber))
        XCTAssertEqual(defines["SBX_MARK_ID_MAX"], "0xffffffffUL")
        XCTAssertEqual(MarkerABI.maximumID, 0xffff_ffff)
    }

    func testWritersAreAtomicAndRoundTrip() throws {
        let path = try Lab.write(Self.program, to: "writers.ll")
        let module = try IRModule(contentsOf: path)
        _ = try instrument(module, analysis: try analyzeModule(module))
        let bitcode = Lab.work.appendingPathComponent("writers.inst.bc").path
        try module.writeBitcode(to: bitcode)
        XCTAssertEqual(IRFormat.of(fileAtPath: bitcode), .bitcode)
        XCTAssertNoThrow(try IRModule(contentsOf: bitcode))
        let text = Lab.work.appendingPathComponent("writers.inst.ll").path
        try module.writeText(to: text)
        XCTAssertEqual(IRFormat.of(fileAtPath: text), .text)
        XCTAssertNoThrow(try IRModule(contentsOf: text))

        // A directory in the way: the rename fails, the error names the path, and no
        // temporary file is left behind.
        let blocked = Lab.work.appendingPathComponent("blocked-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: blocked.appendingPathComponent("x.ll"), withIntermediateDirectories: true)
        for write in [module.writeText, module.writeBitcode] {
            XCTAssertThrowsError(try write(blocked.appendingPathComponent("x.ll").path)) { error in
                guard case InstrumentError.cannotWrite(let errorPath, _) = error else { return XCTFail("\(error)") }
                XCTAssertTrue(errorPath.hasSuffix("/x.ll"))
                XCTAssertEqual((error as? CategorizedError)?.category, .outputFailed)
            }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: blocked.path), ["x.ll"])
        XCTAssertThrowsError(try module.writeText(to: "/nonexistent-dir/x.ll"))
    }

    /// The markers of the emitted module assemble to `.sbx_sites` entries: at -O0
    /// (no code duplicated or removed) the entries' (kind, id) are exactly the IR's
    /// markers, and every entry points at a `syscall` right after a lea of that very
    /// entry. At -O2, where code may be duplicated, every copy has its own entry.
    func testMarkersCarryTheirSiteEntries() throws {
        let result = try Lab.instrumentFile(try Lab.write(Self.program, to: "sites.ll"))
        let expected = markers(in: result.text).map { "\($0.kind):\($0.id)" }.sorted()
        XCTAssertEqual(expected.count, result.report.markers)
        for level in ["-O0", "-O2"] {
            let executable = try Lab.link(result.path, flags: [level], output: "sites\(level).inst")
            let table = try SiteSection(executable)
            let entries = table.entries.map { "\($0.kind):\($0.id)" }.sorted()
            if level == "-O0" {
                XCTAssertEqual(entries, expected)
            } else {
                XCTAssertTrue(Set(entries).isSubset(of: Set(expected)), "\(entries)")
                XCTAssertFalse(entries.isEmpty)
            }
            let code = try SiteSection.syscalls(in: executable)
            XCTAssertEqual(code.count, table.entries.count, level)
            for (i, entry) in table.entries.enumerated() {
                XCTAssertEqual(entry.reserved, 0)
                XCTAssertEqual(code[entry.site], .some(table.address + UInt64(16 * i)), "\(level) entry \(i)")
            }
            // Natively the markers fail with -ENOSYS and change nothing.
            XCTAssertEqual(try Lab.run(executable, ["x"]).status, 11, level)
        }
    }

    /// `dyck-gen --instrument` writes the policy and NAME.inst.bc for bitcode input,
    /// from one analysis: the policy file equals the analysis of the input.
    func testDyckGenInstrumentOption() throws {
        guard let tool = Self.dyckGen else { throw XCTSkip("dyck-gen is not built; run `swift build` first") }
        let source = Lab.source("dispatch")
        let bitcode = Lab.work.appendingPathComponent("cli.bc").path
        try Lab.build(try Lab.clang(), ["-O0", "-g", "-c", "-emit-llvm", "-o", bitcode, source])
        let directory = Lab.work.appendingPathComponent("cli-out").path
        let output = try Lab.run(tool, [bitcode, "--instrument", "-o", directory])
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertTrue(output.stderr.contains("cli.inst.bc: "), output.stderr)
        XCTAssertTrue(output.stderr.contains("program calls instrumented as sites"), output.stderr)
        let instrumented = directory + "/cli.inst.bc"
        XCTAssertEqual(IRFormat.of(fileAtPath: instrumented), .bitcode)
        let policy = try Policy.load(path: directory + "/cli.dyck")
        // The analysis with the tool's options: its default inlining limit.
        var options = AnalysisOptions()
        options.inlineLimit = defaultInlineLimit
        let analysed = try analyzeIR(atPath: bitcode, options: options).policy
        XCTAssertEqual(policy, analysed)
        let executable = try Lab.link(instrumented, flags: ["-O0"], output: "cli.inst")
        let replay = Lab.replay(try Lab.trace(executable, []), policy: policy)
        XCTAssertEqual(replay.violations, [])
    }

    // MARK: -

    static let dyckGen: String? = {
        let exe =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: exe).deletingLastPathComponent()
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("dyck-gen").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return nil
    }()

    private func body(of function: String, in text: String) throws -> String {
        let start = try XCTUnwrap(text.range(of: "@\(function)("), "no \(function)")
        let lineStart = text[..<start.lowerBound].lastIndex(of: "\n") ?? text.startIndex
        guard text[lineStart...].hasPrefix("\ndefine") else {
            let rest = String(text[start.upperBound...])
            return try body(of: function, in: rest)
        }
        let end = try XCTUnwrap(text[start.upperBound...].range(of: "\n}\n"))
        return String(text[lineStart..<end.upperBound])
    }

    /// The markers of textual IR, in order. Every marker's asm must be the pinned
    /// form of `specs/marker-abi.md` (its text spelled out here, independently of
    /// `MarkerABI.assembly`), with the kind and id in the text equal to the `rdi`
    /// and `rsi` operands; a marker otherwise is a test failure.
    private func markers(in text: String, file: StaticString = #filePath, line: UInt = #line) -> [(kind: Int, id: Int)]
    {
        // CALL, RET and TAIL (2, 3, 6) test the skip flag around the pinned pair and
        // set it on the nfa answer 0x53425801 (1396856833); the others are the bare
        // pinned pair (specs/marker-abi.md, "Answers").
        let skipTest = #"cmpb \$\$0, __sbx_skip_sites\(%rip\)\\0Ajne 3f\\0A"#
        let skipSet = #"cmpq \$\$1396856833, %rax\\0Ajne 3f\\0Amovb \$\$1, __sbx_skip_sites\(%rip\)\\0A"#
        let pinned =
            #"asm sideeffect "("# + skipTest + #")?lea 2f\(%rip\), %rdx\\0A1: syscall\\0A("# + skipSet + ")?"
            + #"\.pushsection \.sbx_sites,\\22aR\\22,@progbits\\0A\.balign 16\\0A"#
            + #"2: \.long 1b - \.\\0A\.long (\d+)\\0A\.long (\d+)\\0A\.long 0\\0A\.popsection(\\0A3:)?", "#
            + #""=\{ax\},\{ax\},\{di\},\{si\},~\{rdx\},~\{rcx\},~\{r11\},~\{memory\},~\{dirflag\},~\{fpsr\},~\{flags\}""#
            + #"\(i64 999, i64 (\d+), i64 (\d+)\)"#
        guard let pattern = try? NSRegularExpression(pattern: pinned) else {
            XCTFail("bad pattern", file: file, line: line)
            return []
        }
        let range = NSRange(text.startIndex..., in: text)
        let found = pattern.matches(in: text, range: range).compactMap { match -> (kind: Int, id: Int)? in
            let numbers = [3, 4, 6, 7].map { i in Range(match.range(at: i), in: text).flatMap { Int(text[$0]) } ?? -1 }
            XCTAssertEqual(numbers[0], numbers[2], "kind in the text and in rdi", file: file, line: line)
            XCTAssertEqual(numbers[1], numbers[3], "id in the text and in rsi", file: file, line: line)
            // The skip test, the answer's test and the label after the entry come all
            // together, and exactly on the site kinds.
            let parts = [1, 2, 5].map { match.range(at: $0).location != NSNotFound }
            let site = [2, 3, 6].contains(numbers[0])
            XCTAssertEqual(
                parts, [site, site, site], "kind \(numbers[0]): skip test on site kinds only", file: file, line: line)
            return (numbers[2], numbers[3])
        }
        // Any other asm with a syscall would be a marker the table does not pin.
        XCTAssertEqual(
            text.components(separatedBy: "syscall").count - 1, found.count, "unpinned syscall asm",
            file: file, line: line)
        return found
    }
}

/// The `.sbx_sites` section of an executable as binutils see it (`readelf`, `objcopy`,
/// `objdump`): a reading independent of the instrumentation and of `SbxRun`.
struct SiteSection {
    var address: UInt64
    var entries: [(site: UInt64, kind: Int, id: Int, reserved: Int)]

    init(_ executable: String) throws {
        let sections = try Lab.run("/usr/bin/readelf", ["-SW", executable])
        guard let line = sections.stdout.split(separator: "\n").first(where: { $0.contains(" .sbx_sites ") }) else {
            throw Lab.Failure("\(executable) has no .sbx_sites section")
        }
        let fields = line.split(separator: "]", maxSplits: 1).last?.split(separator: " ") ?? []
        guard fields.count > 4, let address = UInt64(fields[2], radix: 16), let size = Int(fields[4], radix: 16) else {
            throw Lab.Failure("unreadable section line: \(line)")
        }
        let dump = Lab.work.appendingPathComponent("sites-\(UUID().uuidString).bin").path
        try Lab.build(
            "/usr/bin/objcopy",
            ["--dump-section", ".sbx_sites=\(dump)", executable, Lab.work.appendingPathComponent("sites-discard").path])
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dump)))
        guard bytes.count == size, size % 16 == 0 else {
            throw Lab.Failure("section of \(bytes.count) bytes, header says \(size)")
        }
        func word(_ offset: Int) -> UInt32 {
            (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * $1) }
        }
        self.address = address
        entries = stride(from: 0, to: size, by: 16).map { o in
            let site = UInt64(bitPattern: Int64(bitPattern: address + UInt64(o)) + Int64(Int32(bitPattern: word(o))))
            return (site, Int(word(o + 4)), Int(word(o + 8)), Int(word(o + 12)))
        }
    }

    /// Every `syscall` instruction by address, with the target of the `lea ...(%rip),%rdx`
    /// right before it (nil when there is none).
    static func syscalls(in executable: String) throws -> [UInt64: UInt64?] {
        let listing = try Lab.run("/usr/bin/objdump", ["-d", "--no-show-raw-insn", executable])
        var result: [UInt64: UInt64?] = [:]
        var previous: Substring = ""
        for line in listing.stdout.split(separator: "\n") {
            let parts = line.split(separator: "\t", maxSplits: 1)
            guard parts.count == 2, parts[0].hasSuffix(":"),
                let address = UInt64(parts[0].dropLast().trimmingCharacters(in: .whitespaces), radix: 16)
            else { continue }
            if parts[1].trimmingCharacters(in: .whitespaces) == "syscall" {
                var target: UInt64? = nil
                if previous.hasPrefix("lea"), previous.contains("(%rip),%rdx"), let hash = previous.range(of: "# ") {
                    target = UInt64(previous[hash.upperBound...].prefix { $0.isHexDigit }, radix: 16)
                }
                result[address] = .some(target)
            }
            previous = parts[1]
        }
        return result
    }
}
