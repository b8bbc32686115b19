import DyckAnalysis
import DyckModel
import Foundation
import XCTest
import TestSupport

/// Compiles C fixtures with clang-19 into a per-process temporary directory.
enum Fixtures {
    static let directory: URL = {
        if let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) { return url }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    }()

    static let workDirectory: URL = {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("dyck-analysis-tests-\(getpid())-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    static var names: [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasSuffix(".c") }.map { String($0.dropLast(2)) }.sorted()
    }

    static func source(_ name: String) -> URL { directory.appendingPathComponent(name + ".c") }

    static func clang() throws -> String {
        for candidate in ["/usr/bin/clang-19", "/usr/lib/llvm-19/bin/clang"]
        where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        throw XCTSkip("clang-19 is not installed")
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var compiled: [String: String] = [:]  // guarded by lock

    /// The path of `name`.c compiled with `flags` (e.g. ["-O0", "-g", "-S"]) to IR.
    static func compile(_ name: String, flags: [String], suffix: String = "ll") throws -> String {
        let key = name + " " + flags.joined(separator: " ")
        lock.lock()
        defer { lock.unlock() }
        if let path = compiled[key] { return path }
        let tag = flags.joined().replacingOccurrences(of: "-", with: "")
        let output = workDirectory.appendingPathComponent("\(name)-\(tag).\(suffix)").path
        try run(try clang(), flags + ["-emit-llvm", "-o", output, source(name).path])
        compiled[key] = output
        return output
    }

    static func run(_ tool: String, _ arguments: [String]) throws {
        let outcome = try ProcessRunner.run(tool, arguments)
        guard outcome.shellStatus == 0 else {
            throw NSError(
                domain: "Fixtures", code: Int(outcome.shellStatus),
                userInfo: [
                    NSLocalizedDescriptionKey: "\(tool) \(arguments.joined(separator: " ")) failed: "
                        + outcome.stderrText
                ])
        }
    }

    static func write(_ text: String, to name: String) throws -> String {
        let path = workDirectory.appendingPathComponent(name).path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }
}

/// The side file of a fixture: per-function regular expressions and directives.
///
///     NAME: REGEX            the automaton of function NAME (every defined function needs one)
///     @pruned: A B           no call site has A or B among its callees
///     @sites: A=2 B=1        exactly this many call sites have A (B) among their callees
///     @callbacks: A B        exactly these callbacks (none when absent)
///     @warning: TEXT         a warning containing TEXT; warnings are exactly these lines
///     # ...                  comment
struct Expectation {
    var functions: [(name: String, regex: String)] = []
    var pruned: [String] = []
    var siteCounts: [String: Int] = [:]
    var callbacks: [String] = []
    var warnings: [String] = []

    init(contentsOf url: URL) throws {
        let text = try String(contentsOf: url, encoding: .utf8)
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let colon = line.firstIndex(of: ":") else {
                throw ExpectRegex.SyntaxError(message: "\(url.lastPathComponent):\(number + 1): no ':'")
            }
            let key = String(line[..<colon])
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            let words = value.split(separator: " ").map(String.init)
            switch key {
            case "@pruned": pruned += words
            case "@callbacks": callbacks += words
            case "@warning": warnings.append(value)
            case "@sites":
                for word in words {
                    let parts = word.split(separator: "=")
                    guard parts.count == 2, let count = Int(parts[1]) else {
                        throw ExpectRegex.SyntaxError(message: "\(url.lastPathComponent):\(number + 1): bad @sites")
                    }
                    siteCounts[String(parts[0])] = count
                }
            default:
                if key.hasPrefix("@") {
                    throw ExpectRegex.SyntaxError(message: "\(url.lastPathComponent):\(number + 1): unknown \(key)")
                }
                functions.append((key, value))
            }
        }
    }
}

/// Names the labels of a policy as words of the expectation language.
struct PolicyWords {
    let policy: Policy
    private(set) var ids: [String: Int] = [:]
    private(set) var words: [String] = []

    init(_ policy: Policy) { self.policy = policy }

    mutating func id(_ word: String) -> Int {
        if let id = ids[word] { return id }
        ids[word] = words.count
        words.append(word)
        return words.count - 1
    }

    func word(_ label: Label) -> String {
        switch label {
        case let .libc(id):
            return id < policy.symbols.count ? policy.symbols[id] : "libc#\(id)"
        case let .call(id):
            guard id < policy.sites.count else { return "call#\(id)" }
            let site = policy.sites[id]
            let names = site.callees.map { $0 < policy.functions.count ? policy.functions[$0].name : "#\($0)" }
            return ExpectRegex.callWord(names, indirect: site.indirect)
        }
    }

    /// The automaton with every label replaced by its word's id (as `.libc`), so that
    /// distinct sites calling the same function compare equal to one regex word.
    mutating func relabel(_ automaton: Automaton) -> Automaton {
        var result = automaton
        result.edges = automaton.edges.map { edge in
            Edge(from: edge.from, label: .libc(id(word(edge.label))), to: edge.to)
        }
        return result
    }

    func spell(_ word: [Label]) -> String {
        let text = word.map { label -> String in
            if case let .libc(id) = label, id < words.count { return words[id] }
            return "\(label)"
        }
        return text.isEmpty ? "(empty word)" : text.joined(separator: " ")
    }
}
