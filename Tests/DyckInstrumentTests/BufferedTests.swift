import DyckAnalysis
import DyckInstrument
import DyckModel
import Foundation
import XCTest

/// Buffered events (`InstrumentOptions.bufferEvents`, `specs/marker-abi.md`,
/// "Buffered events"): which events become appends, the buffer and its section, and
/// the appends run natively (no monitor: a full buffer makes synchronous markers,
/// which fail with -ENOSYS), with a signal handler appending in between.
final class BufferedTests: XCTestCase {
    /// An inline asm of the instrumented IR: kind and id from its `.sbx_sites` entry,
    /// and whether it appends.
    struct Emitted: Hashable {
        var kind: MarkerKind
        var id: Int
        var appends: Bool
    }

    private func instrument(_ flags: [String], buffered: Bool) throws -> Lab.Instrumented {
        let ir = try Lab.compileIR("buffered", flags: flags)
        let module = try IRModule(contentsOf: ir)
        let analysis = try analyzeModule(module, options: AnalysisOptions(libcEvents: .all))
        let report = try DyckInstrument.instrument(
            module, analysis: analysis, options: InstrumentOptions(bufferEvents: buffered))
        let output = ir.replacingOccurrences(of: ".ll", with: buffered ? ".buf.ll" : ".sync.ll")
        try module.writeText(to: output)
        let text = try String(contentsOfFile: output, encoding: .utf8)
        return Lab.Instrumented(policy: analysis.result.policy, report: report, path: output, text: text)
    }

    private func emitted(_ text: String) throws -> [Emitted] {
        let entry = try NSRegularExpression(pattern: #"\.long 1b - \.\\0A\.long ([0-9]+)\\0A\.long ([0-9]+)"#)
        var result: [Emitted] = []
        for line in text.split(separator: "\n") where line.contains("asm sideeffect") && line.contains("1b - .") {
            let s = String(line)
            guard let m = entry.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)),
                let kind = Int(s[Range(m.range(at: 1), in: s)!]).flatMap(MarkerKind.init(rawValue:)),
                let id = Int(s[Range(m.range(at: 2), in: s)!])
            else { throw Lab.Failure("no site entry in: \(s)") }
            result.append(Emitted(kind: kind, id: id, appends: s.contains("cmpxchgq")))
        }
        return result
    }

    /// Which events are appended, from the C source and the rule: the string functions
    /// (no system call), the plain wrappers (write, getpid, setitimer, sigaction),
    /// `_setjmp` and `sigfillset` (no system call), and the sites and callback events
    /// are appended; printf and qsort (stdio and callback parameters: they map code
    /// and may tgkill; putchar too), exit (the stdio flush) and the setjmp markers stay
    /// synchronous.
    func testWhichEventsAreAppended() throws {
        let program = try instrument(["-O1", "-g"], buffered: true)
        let policy = program.policy
        let all = try emitted(program.text)
        let symbol = { (id: Int) in policy.symbols[id] }
        var appended = Set<String>(), synchronous = Set<String>()
        for e in all {
            let name = e.kind == .libc ? "libc " + symbol(e.id) : e.kind.name
            if e.appends { appended.insert(name) } else { synchronous.insert(name) }
        }
        XCTAssertEqual(
            appended,
            [
                "libc strlen", "libc strcmp", "libc strtoul", "libc write", "libc getpid", "libc setitimer",
                "libc sigaction", "libc sigfillset", "libc _setjmp", "call", "ret", "cb-enter", "cb-exit"
            ],
            "appended")
        XCTAssertEqual(
            synchronous, ["libc printf", "libc putchar", "libc qsort", "libc exit", "sj-save", "sj-resume"],
            "synchronous (putchar: the checker's printf(\"\\n\"))")
        XCTAssertTrue(appended.isDisjoint(with: synchronous), "an event is either appended or a marker")
        XCTAssertEqual(program.report.appends, all.filter(\.appends).count)
        XCTAssertEqual(program.report.markers, all.count)
        // Site appends test the skip flag first; every append holds the pinned marker
        // of its full-buffer path (its entry matched above).
        let kindLoad = try NSRegularExpression(pattern: #"movl \$\$([0-9]+), %edi"#)
        for line in program.text.split(separator: "\n") where line.contains("cmpxchgq") {
            let s = String(line)
            let m = try XCTUnwrap(kindLoad.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)))
            let kind = Int(s[Range(m.range(at: 1), in: s)!]).flatMap(MarkerKind.init(rawValue:))
            let site = kind == .call || kind == .ret || kind == .tail
            XCTAssertEqual(line.contains("cmpb $$0, __sbx_skip_sites(%rip)"), site, String(line))
        }
        // The buffer: local-exec TLS, zero-initialised, and the section.
        XCTAssertTrue(
            program.text.contains(
                "@__sbx_evbuf = internal thread_local(localexec) global { i32, i32, [32 x i64] } zeroinitializer"),
            "the buffer's definition")
        XCTAssertTrue(
            program.text.contains(
                #"""
                module asm ".pushsection .sbx_evbuf,\22aR\22,@progbits"
                module asm ".balign 8"
                module asm ".long 1"
                module asm ".long 32"
                module asm ".quad __sbx_evbuf@tpoff"
                module asm ".popsection"
                """#), "the section")
    }

    /// Without the option nothing of the buffer is emitted: every event is a marker,
    /// and the module is the same as with the default options.
    func testWithoutTheOptionNothingChanges() throws {
        let plain = try instrument(["-O1", "-g"], buffered: false)
        XCTAssertFalse(plain.text.contains("cmpxchg"))
        XCTAssertFalse(plain.text.contains("sbx_evbuf@tpoff"))
        XCTAssertFalse(plain.text.contains(".pushsection .sbx_evbuf"))
        XCTAssertEqual(plain.report.appends, 0)
        let ir = try Lab.compileIR("buffered", flags: ["-O1", "-g"])
        let module = try IRModule(contentsOf: ir)
        let analysis = try analyzeModule(module, options: AnalysisOptions(libcEvents: .all))
        _ = try DyckInstrument.instrument(module, analysis: analysis)
        let defaults = ir.replacingOccurrences(of: ".ll", with: ".default.ll")
        try module.writeText(to: defaults)
        XCTAssertEqual(try String(contentsOfFile: defaults, encoding: .utf8), plain.text)
    }

    private func build(_ flags: [String], pie: Bool) throws -> (path: String, policy: Policy) {
        let program = try instrument(flags, buffered: true)
        let name = "buffered-\(Lab.tag(flags))-\(pie ? "pie" : "nopie")"
        let path = try Lab.link(
            program.path, flags: flags + (pie ? ["-fPIE", "-pie"] : ["-fno-pie", "-no-pie"]), output: name)
        return (path, program.policy)
    }

    /// The `.sbx_evbuf` section's 16 bytes, read with readelf.
    private func section(_ path: String) throws -> [UInt8] {
        let out = try Lab.run("/usr/bin/readelf", ["-x", ".sbx_evbuf", path])
        var bytes: [UInt8] = []
        for line in out.stdout.split(separator: "\n") where line.hasPrefix("  0x") {
            for word in line.split(separator: " ").dropFirst().prefix(4) {
                var w = Substring(word)
                while w.count >= 2 {
                    bytes.append(UInt8(w.prefix(2), radix: 16)!)
                    w = w.dropFirst(2)
                }
            }
        }
        return bytes
    }

    /// The section's tpoff is the buffer's real offset from %fs (the program prints
    /// it), in a PIE and a non-PIE executable; version 1, capacity 32.
    func testSectionGivesTheBuffersOffset() throws {
        for pie in [true, false] {
            let (path, _) = try build(["-O1", "-g"], pie: pie)
            let bytes = try section(path)
            XCTAssertEqual(bytes.count, 16, "pie \(pie)")
            guard bytes.count == 16 else { continue }
            let le = { (at: Int, n: Int) in (0..<n).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * $1) } }
            XCTAssertEqual(le(0, 4), 1)
            XCTAssertEqual(le(4, 4), 32)
            let tpoff = Int64(bitPattern: le(8, 8))
            let out = try Lab.run(path, ["offset"])
            XCTAssertEqual(out.status, 0, "\(out)")
            XCTAssertEqual(out.stdout, "offset \(tpoff)\n", "pie \(pie)")
        }
    }

    /// 20 calls of leaf make 60 bufferable events: the first 32 fill the buffer in
    /// order, the other 28 are synchronous markers (seen by strace) in order, and
    /// together they are exactly the synchronous build's markers.
    func testFullBufferFallsBackToMarkersInOrder() throws {
        let (path, policy) = try build(["-O1", "-g"], pie: true)
        let run = try Lab.run(path, ["fill"])
        XCTAssertEqual(run.status, 0, "\(run)")
        let slots = run.stdout.split(separator: "\n").filter { $0.hasPrefix("slot ") }
            .map { UInt64($0.dropFirst("slot 0x".count), radix: 16) ?? 0 }
        XCTAssertTrue(run.stdout.contains("count 32\n"), run.stdout)
        let trace = try Lab.trace(path, ["fill"])
        let markers = (trace.events[trace.root] ?? []).compactMap(Lab.marker)
        let printf = try XCTUnwrap(policy.symbolID(named: "printf"))
        let beforePrintf = markers.prefix { !($0.kind == .libc && $0.id == printf) }
            .filter { $0.kind != .libc || policy.symbols[$0.id] != "memcpy" }
        let seen = slots.map { (kind: MarkerKind(rawValue: Int($0 >> 32)), id: Int($0 & 0xffff_ffff)) }
        let combined = seen.map { "\($0.kind?.name ?? "?") \($0.id)" } + beforePrintf.map { "\($0.kind.name) \($0.id)" }
        let site = try XCTUnwrap(
            policy.sites.firstIndex {
                policy.functions[$0.callees.first ?? 0].name == "leaf" && policy.functions[$0.caller].name == "main"
            })
        let strlen = try XCTUnwrap(policy.symbolID(named: "strlen"))
        let strcmp = try XCTUnwrap(policy.symbolID(named: "strcmp"))
        // main's strcmp of argv[1], then the 20 calls.
        let expected = ["libc \(strcmp)"] + (0..<20).flatMap { _ in ["call \(site)", "libc \(strlen)", "ret \(site)"] }
        XCTAssertEqual(combined, expected)
    }

    /// A SIGALRM handler appending during the main loop's appends loses and reorders
    /// nothing (the program checks its drained log; see buffered.c), and signals did
    /// land inside appends, at the cmpxchg and between it and the count store.
    func testSignalHandlerAppendsLoseNothing() throws {
        for flags in [["-O1", "-g"], ["-O2"]] {
            let (path, policy) = try build(flags, pie: true)
            let site = try XCTUnwrap(
                policy.sites.firstIndex {
                    policy.functions[$0.callees.first ?? 0].name == "leaf"
                        && policy.functions[$0.caller].name == "signals"
                })
            let strlen = try XCTUnwrap(policy.symbolID(named: "strlen"))
            let handler = try XCTUnwrap(policy.functionIndex(named: "on_alarm"))
            var before = 0, between = 0, runs = 0, checked = 0
            while runs < 10 && (before == 0 || between == 0) {
                runs += 1
                let out = try Lab.run(path, ["signals", "\(site)", "\(strlen)", "\(handler)"], timeout: 120)
                // 2: the buffer filled up between two drains (buffered.c), so the
                // run cannot be checked natively; run again.
                if out.status == 2, out.stdout.hasPrefix("void:") { continue }
                XCTAssertEqual(out.status, 0, "\(flags): \(out)")
                let fields = out.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
                guard fields.count >= 14, fields[0] == "iterations" else { return XCTFail("\(flags): \(out)") }
                let value = { (name: String) in Int(fields[fields.firstIndex(of: name)! + 1])! }
                XCTAssertEqual(value("events"), 3 * value("iterations"), "\(flags): \(out.stdout)")
                XCTAssertEqual(value("blocks"), value("handled"), "\(flags): \(out.stdout)")
                XCTAssertGreaterThan(value("handled"), 0, "\(flags)")
                XCTAssertEqual(value("full"), 0, "\(flags): the buffer filled up between drains")
                before += value("before")
                between += value("between")
                checked += 1
            }
            XCTAssertGreaterThan(checked, 0, "\(flags): no run could be checked in \(runs)")
            XCTAssertGreaterThan(before, 0, "\(flags): no signal landed on a cmpxchg in \(runs) runs")
            XCTAssertGreaterThan(between, 0, "\(flags): no signal landed between cmpxchg and store in \(runs) runs")
        }
    }

    /// `BufferedEvents`' numbers are the header's (`struct sbx_evbuf`).
    func testNumbersMatchTheUAPIHeader() throws {
        let header = try String(
            contentsOf: Lab.packageRoot.appendingPathComponent("kmod/uapi/sbx_marker.h"), encoding: .utf8)
        var defines: [String: String] = [:]
        for line in header.split(separator: "\n") where line.hasPrefix("#define ") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if words.count >= 3 { defines[String(words[1])] = String(words[2]) }
        }
        XCTAssertEqual(defines["SBX_EVBUF_CAP"], String(BufferedEvents.capacity))
        XCTAssertEqual(defines["SBX_EVBUF_COUNT_OFFSET"], "0")
        XCTAssertEqual(defines["SBX_EVBUF_EV_OFFSET"], "8")
        XCTAssertTrue(header.contains("__u64 ev[SBX_EVBUF_CAP];"))
    }
}
