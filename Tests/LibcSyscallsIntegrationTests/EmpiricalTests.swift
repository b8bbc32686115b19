import DyckModel
import Foundation
import LibcSyscalls
import XCTest

/// The empirical check: a program calls libc functions one at a time
/// (Programs/calls.c), each call bracketed by marker system calls; strace records every
/// system call. A call made between the brackets of function f — by f's thread, by a
/// thread f creates, or by a process f creates until that process's successful
/// `execve` (posix_spawn's, system's and popen's children run libc code of f until
/// then) — must be allowed by the kernel's rule for f's window
/// (`SystemCallBinding.allows`, specs/kernel-abi.md "System-call binding"): in
/// derived(f), or in the analysis's ambient set (an `openat` through it read-only), and
/// an executable mmap/mprotect only if derived(f) `mapsExecutable`. Before the
/// program's first marker it is the start window (`startSet`), between brackets the
/// program's own code (the empty set).
///
/// Every call found outside its window is an unsound set and fails the test by name.
final class EmpiricalTests: XCTestCase {
    func testObservedSystemCallsAreInTheDerivedSets() throws {
        let table = try DerivedLibc.table()
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
            "libc-calls-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        var keep = false
        defer { if !keep { try? FileManager.default.removeItem(at: scratch) } }

        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "Programs/calls.c")
        let program = scratch.appendingPathComponent("calls").path
        let compiled = try Tool.run([
            "clang-19", "-O0", "-fno-builtin", "-pthread", "-Wall", "-Werror", "-o", program, source.path
        ])
        guard compiled.status == 0 else { return XCTFail("clang-19 failed:\n\(compiled.stderr)") }

        let listing = try Tool.run([program, "--list"])
        XCTAssertEqual(listing.status, 0)
        var names: [Int: String] = [:]
        for line in listing.stdout.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 2, let index = Int(fields[0]) { names[index] = String(fields[1]) }
        }
        XCTAssertGreaterThan(names.count, 40)

        let tracePath = scratch.appendingPathComponent("trace.txt").path
        let traced = try Tool.run(
            ["strace", "-f", "-qq", "-X", "raw", "-e", "trace=all", "-o", tracePath, program, scratch.path])
        guard traced.status == 0 else {
            keep = true
            return XCTFail("strace of calls exited with \(traced.status) (trace in \(tracePath)):\n\(traced.stderr)")
        }
        let trace = try String(contentsOfFile: tracePath, encoding: .utf8)
        let calls = StraceTrace.parse(trace)
        XCTAssertGreaterThan(calls.count, 100, "the trace has too few system calls")

        let observation = Observation(calls: calls, names: names)
        for problem in observation.problems { XCTFail(problem) }

        // The rule the kernel applies (DyckModel's, as `sbx check --trace` does).
        var missingCount = 0
        var rows: [(window: String, observed: String, missing: String)] = []
        for window in observation.windowOrder {
            let set: SystemCallSet
            switch window {
            case .start: set = table.startSet
            case .program: set = .empty
            case let .libc(name):
                guard let summary = table[name] else {
                    XCTFail("\(name) is not a function libc.so.6 exports")
                    continue
                }
                set = summary.set
            case .ignored: continue
            }
            let binding = SystemCallBinding(
                sets: [set, LibcSyscallTable.ambient], symbolSets: [], startSet: 0, ambientSet: 1)
            var observed: [String] = []
            var missing: [String] = []
            for call in observation.calls[window] ?? [] {
                let label = call.key.label
                observed.append(call.count > 1 ? "\(label)×\(call.count)" : label)
                guard let number = SystemCallNames.number(of: call.key.name) else {
                    missing.append(label)
                    XCTFail("\(window): strace named a system call \(call.key.name) the name table does not know")
                    continue
                }
                if !binding.allows(number: number, protection: call.key.protection, window: 0) {
                    missing.append(label)
                    missingCount += 1
                    XCTFail(
                        "UNSOUND: \(window) made \(label) (\(call.count)×), which is neither in its derived set "
                            + "(\(DerivedLibc.describe(set))) nor ambient")
                }
            }
            rows.append((window.description, observed.joined(separator: " "), missing.joined(separator: " ")))
        }

        var report = "libc functions under strace (observed calls, and those missing from derived ∪ ambient):\n"
        let width = max(16, rows.map(\.window.count).max() ?? 0)
        for row in rows {
            report +=
                row.window.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                + (row.observed.isEmpty ? "-" : row.observed)
            if !row.missing.isEmpty { report += "   MISSING: " + row.missing }
            report += "\n"
        }
        report += "\(missingCount) unsound (function, call) pairs\n"
        print(report)

        // Every bracket ran, and the attribution saw the children and the thread.
        for name in Set(names.values) where !observation.bracketed.contains(name) {
            XCTFail("\(name) was never called between its brackets")
        }
        for (function, call) in [
            ("system", "execve"), ("popen", "execve"), ("posix_spawn", "execve"), ("fork", "clone"),
            ("pthread_create", "exit"), ("exit", "exit_group"), ("dlopen", "openat")
        ] {
            let seen = observation.calls[.libc(function)]?.contains { $0.key.name == call } ?? false
            XCTAssertTrue(seen, "\(function): expected to see \(call) (attribution to threads and children)")
        }
        if missingCount > 0 || observation.problems.count > 0 {
            keep = true
            print("the trace is kept in \(tracePath)")
        }
    }
}

/// One system call of a strace -f trace (`PID NAME(ARGS) = RESULT`, with
/// `<unfinished ...>` / `<... NAME resumed>` pairs joined at the entry).
struct TracedCall {
    var pid: Int
    var name: String
    var arguments: String
    /// The return value's first token (`0`, `-1`, `0x7f...`, `?`); nil if never resumed.
    var result: String?

    var resultNumber: Int? { result.flatMap { Int($0) } }

    /// The marker system call 999: (function index, 0 before / 1 after).
    var marker: (index: Int, end: Bool)? {
        guard name == "syscall_0x3e7" || name == "syscall_999" else { return nil }
        let fields = argumentList
        guard fields.count >= 2, let index = parseInteger(fields[0]), let end = parseInteger(fields[1]) else {
            return nil
        }
        return (index, end != 0)
    }

    /// The arguments, split at the top-level commas (not inside strings, arrays or
    /// structures), up to the parenthesis that closes the list.
    var argumentList: [String] {
        var fields: [String] = []
        var field = ""
        var depth = 0
        var quoted = false
        var escaped = false
        for c in arguments {
            if quoted {
                field.append(c)
                if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { quoted = false }
                continue
            }
            switch c {
            case "\"": quoted = true
            case "[", "{": depth += 1
            case "]", "}": depth -= 1
            case ")" where depth == 0:
                fields.append(field.trimmingCharacters(in: .whitespaces))
                return fields
            case "," where depth == 0:
                fields.append(field.trimmingCharacters(in: .whitespaces))
                field = ""
                continue
            default: break
            }
            field.append(c)
        }
        fields.append(field.trimmingCharacters(in: .whitespaces))
        return fields
    }

    /// What the binding rule reads of the call's arguments (the kernel's `prot`: the
    /// third argument): `PROT_EXEC` of mmap, mprotect and pkey_mprotect, the writing
    /// flags of openat. An argument that does not parse counts as having them all.
    var protection: UInt64 {
        let mask: UInt64
        switch name {
        case "mmap", "mprotect", "pkey_mprotect": mask = SystemCallNumbers.protExec
        case "openat": mask = SystemCallNumbers.openatWriteFlags
        default: return 0
        }
        let fields = argumentList
        guard fields.count >= 3, let value = parseInteger(fields[2]) else { return mask }
        return UInt64(truncatingIfNeeded: value) & mask
    }
}

/// An argument as strace prints it raw (`0x5`, `17`), up to the `)` that ends the list.
private func parseInteger(_ text: String) -> Int? {
    let token = text.prefix { $0 != ")" && $0 != " " }
    if token.hasPrefix("0x") { return Int(token.dropFirst(2), radix: 16) }
    return Int(token)
}

enum StraceTrace {
    static func parse(_ text: String) -> [TracedCall] {
        var calls: [TracedCall] = []
        var pending: [Int: Int] = [:]
        for raw in text.split(separator: "\n") {
            let line = String(raw)
            guard let space = line.firstIndex(of: " "), let pid = Int(line[..<space]) else { continue }
            let rest = String(line[space...].drop { $0 == " " })
            if rest.hasPrefix("---") || rest.hasPrefix("+++") { continue }
            let unfinished = rest.hasSuffix("<unfinished ...>")
            if rest.hasPrefix("<... ") {
                guard let index = pending[pid] else { continue }
                if !unfinished {
                    calls[index].result = result(of: rest)
                    pending[pid] = nil
                }
                continue
            }
            guard let open = rest.firstIndex(of: "(") else { continue }
            var call = TracedCall(
                pid: pid, name: String(rest[..<open]), arguments: String(rest[rest.index(after: open)...]), result: nil)
            if unfinished {
                pending[pid] = calls.count
            } else {
                call.result = result(of: rest)
            }
            calls.append(call)
        }
        return calls
    }

    /// The token after the last " = ".
    private static func result(of line: String) -> String? {
        guard let range = line.range(of: " = ", options: .backwards) else { return nil }
        return line[range.upperBound...].split(separator: " ").first.map(String.init)
    }
}

/// Which window each system call of the trace belongs to.
enum Window: Hashable, CustomStringConvertible {
    /// Not the program: strace's child before it exec'd the program, or a child of
    /// the program after its own exec.
    case ignored
    case start
    case program
    case libc(String)

    var description: String {
        switch self {
        case .ignored: return "<ignored>"
        case .start: return "<start>"
        case .program: return "<program code>"
        case let .libc(name): return name
        }
    }
}

struct CallKey: Hashable {
    var name: String
    /// `TracedCall.protection`: PROT_EXEC of a mapping, the writing flags of an openat.
    var protection: UInt64

    var label: String {
        guard protection != 0 else { return name }
        return name + (name == "openat" ? "[write]" : "[exec]")
    }
}

struct Observation {
    var windowOrder: [Window] = []
    /// Per window, the calls in order of first occurrence with their counts.
    var calls: [Window: [(key: CallKey, count: Int)]] = [:]
    var bracketed = Set<String>()
    var problems: [String] = []

    init(calls traced: [TracedCall], names: [Int: String]) {
        guard let root = traced.first?.pid else {
            problems.append("empty trace")
            return
        }
        // The call that created each process or thread.
        var creator: [Int: Int] = [:]
        for (i, call) in traced.enumerated() where ["clone", "clone3", "fork", "vfork"].contains(call.name) {
            if let child = call.resultNumber, child > 0 { creator[child] = i }
        }
        var current: [Int: Window] = [root: .ignored]
        var windowOf = [Window](repeating: .ignored, count: traced.count)
        var rootStarted = false
        for (i, call) in traced.enumerated() {
            let window: Window
            if let known = current[call.pid] {
                window = known
            } else if let k = creator[call.pid], k < i {
                window = windowOf[k]
            } else {
                problems.append("pid \(call.pid): no creating clone before its first call \(call.name)")
                window = .ignored
            }
            windowOf[i] = window
            var next = window
            if let marker = call.marker {
                if window != .ignored {
                    if let name = names[marker.index] {
                        next = marker.end ? .program : .libc(name)
                        if !marker.end { bracketed.insert(name) }
                    } else {
                        problems.append("marker with unknown index \(marker.index)")
                    }
                }
            } else {
                if (call.name == "execve" || call.name == "execveat") && call.result == "0" {
                    if call.pid == root && !rootStarted {
                        rootStarted = true
                        next = .start
                    } else {
                        next = .ignored  // a child's new program
                    }
                }
                if window != .ignored { record(window, CallKey(name: call.name, protection: call.protection)) }
            }
            current[call.pid] = next
        }
        if !rootStarted { problems.append("the program's execve was not in the trace") }
    }

    private mutating func record(_ window: Window, _ key: CallKey) {
        if calls[window] == nil {
            windowOrder.append(window)
            calls[window] = []
        }
        if let i = calls[window]!.firstIndex(where: { $0.key == key }) {
            calls[window]![i].count += 1
        } else {
            calls[window]!.append((key, 1))
        }
    }
}

/// Runs a tool (found on PATH) with its output in files, to avoid pipe deadlocks.
enum Tool {
    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ arguments: [String]) throws -> Output {
        let directory = FileManager.default.temporaryDirectory
        let out = directory.appendingPathComponent("tool-\(UUID().uuidString).out")
        let err = directory.appendingPathComponent("tool-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(at: err)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        process.waitUntilExit()
        return Output(
            status: process.terminationStatus,
            stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }
}
