import ArgumentParser
import DyckModel
import Foundation
import SbxCLI
import SbxRun
import SbxTrace

struct DotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dot",
        abstract: "Draw a policy as a Graphviz graph (DOT text, optionally PNG or SVG).",
        discussion: """
            By default every function is drawn, one cluster each. --function draws one \
            function; --flat draws the whole program flattened into the single-copy \
            NFA, and --flat --function F only what F can do (F with its callees \
            flattened into it). Libc edges show the libc name and source line, call \
            edges (dashed) the callee and the call's line; call edges between the same \
            two states to the same callee are drawn once, labelled ×N for N call sites. \
            Without -o, --png and --svg the DOT text goes to standard output. --png \
            and --svg run Graphviz's `dot`; interrupted (Ctrl-C, SIGTERM, SIGHUP), sbx \
            ends it and leaves no partial file.

            --report FILE (the JSON of `sbx run --json-report`) draws the picture of \
            a kill: the functions on the call stack of its first killing violation, \
            with the call edges of the stack in red, and in the function where the \
            event was refused, the states the thread was in (red) and the refused \
            event as a red edge to a red box. --trace T (a `sbx record` trace) draws \
            the same for the first marker the policy refuses in the run, and in red \
            also the edges the run took in each frame still on the stack.

            --hide CALLEE (repeatable) skips the calls of CALLEE: each function's \
            automaton with those call edges made empty moves, then reduced (states \
            renumbered). ssl_server2's ssl_parse_client_hello has 106 call edges to \
            mbedtls_debug_print_msg of its 185; --hide mbedtls_debug_print_msg \
            --hide mbedtls_debug_print_buf leaves what it does apart from logging.

            Graphs over --size-limit edges (default \(defaultSizeLimit)) take Graphviz \
            minutes or more to lay out (ssl_server2's main, 359 edges, did not finish \
            in 400 s): --png and --svg refuse them (status 2) and name the largest \
            functions; narrow the picture with --function, --flat --function or \
            --report, or raise the limit (0: none). DOT text is written anyway, with a \
            warning.
            """
    )

    /// Chosen from measurements on ssl_server2's policy (docs/pictures.md): functions
    /// up to 196 edges laid out in under 2 s, main's 359 did not finish in 400 s.
    static let defaultSizeLimit = 250

    @Argument(help: "The policy file.")
    var policy: String

    @Option(name: .long, help: "Draw only this function (with --flat: flattened from it).")
    var function: String?

    @Flag(name: .long, help: "Draw the whole program (or --function's) flattened into one NFA.")
    var flat = false

    @Option(name: .long, help: "Highlight the call stack and refused event of a kill report (sbx run --json-report).")
    var report: String?

    @Option(
        name: .long, help: "Highlight where a recorded run (sbx record) left the policy, and the path it took there.")
    var trace: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Skip calls of this function (repeatable): draw what each function does apart from them.",
            valueName: "callee"))
    var hide: [String] = []

    @Option(name: .long, help: "Refuse to render (and warn about DOT text) over this many edges; 0: no limit.")
    var sizeLimit: Int = defaultSizeLimit

    @Option(name: .shortAndLong, help: "Write the DOT text to this file.")
    var output: String?

    @Option(name: .long, help: "Render a PNG to this file (NAME.png) with Graphviz's dot.")
    var png: String?

    @Option(name: .long, help: "Render an SVG to this file (NAME.svg) with Graphviz's dot.")
    var svg: String?

    func validate() throws {
        if (report != nil || trace != nil) && (flat || !hide.isEmpty) {
            throw ValidationError(
                "--report and --trace mark the policy's own states; they cannot be combined with --flat or --hide")
        }
        if report != nil && trace != nil {
            throw ValidationError("--report and --trace are alternatives; give one")
        }
        if sizeLimit < 0 {
            throw ValidationError("--size-limit must be 0 (no limit) or more")
        }
        // The format is the option's, so a file named otherwise would lie about its content.
        for (option, path, suffix) in [("--png", png, ".png"), ("--svg", svg, ".svg")] {
            if let path, !path.lowercased().hasSuffix(suffix) {
                throw ValidationError("\(option) \(path): the file name must end in \(suffix)")
            }
        }
    }

    func run() throws {
        // Found out before drawing, which can take long on a large policy.
        for path in [output, png, svg].compactMap({ $0 }) { try OutputFile.checkWritable(path) }
        var loaded = try Policy.load(path: policy)
        for name in hide where loaded.functionIndex(named: name) == nil {
            throw UsageError("\(policy): --hide \(name): no function '\(name)' in the policy")
        }
        loaded = loaded.hidingCalls(to: Set(hide))
        var index: Int?
        if let function {
            guard let found = loaded.functionIndex(named: function) else {
                let known = loaded.functions.prefix(8).map(\.name).joined(separator: ", ")
                throw UsageError(
                    "\(policy): no function '\(function)' in the policy (functions: \(known)\(loaded.functions.count > 8 ? ", ..." : ""))"
                )
            }
            index = found
        }
        let drawn: Dot.Output
        let shown: Policy
        if let trace {
            let picture = try Self.tracePicture(trace, policy: loaded)
            shown = loaded
            drawn = Dot.clusters(
                loaded, functions: index.map { [$0] } ?? picture.functions, highlight: picture.highlight)
        } else if let report {
            let picture = try KillPicture(report: report, policy: loaded, policyPath: policy)
            shown = loaded
            drawn = Dot.clusters(
                loaded, functions: index.map { [$0] } ?? picture.functions, highlight: picture.highlight)
        } else if flat {
            var root = loaded
            if let index {
                // Only what `function` can do: it is the one root, callbacks left out.
                root.entry = index
                root.callbacks = []
            }
            var flattened = root.flattened()
            flattened.module =
                (index.map { loaded.functions[$0].name } ?? (loaded.module.isEmpty ? "policy" : loaded.module))
                + " (flattened)"
            shown = flattened
            drawn = Dot.clusters(flattened, functions: Array(flattened.functions.indices))
        } else if let index {
            shown = loaded
            drawn = Dot.functionOutput(loaded, index: index)
        } else {
            shown = loaded
            drawn = Dot.clusters(loaded, functions: Array(loaded.functions.indices))
        }
        let rendering = png != nil || svg != nil
        if sizeLimit > 0 && drawn.edgeCount > sizeLimit {
            let message =
                "the graph has \(drawn.nodeCount) states and \(drawn.edgeCount) edges, over --size-limit "
                + "\(sizeLimit), which Graphviz may take minutes or hours to lay out; "
                + narrowingHint(shown)
            guard rendering else {
                Diagnostics.warning(message)
                if let output {
                    try OutputFile.write(drawn.text, to: output)
                } else {
                    print(drawn.text, terminator: "")
                }
                return
            }
            // The DOT text asked for is still written: it costs nothing.
            if let output { try OutputFile.write(drawn.text, to: output) }
            throw UsageError("not rendered: " + message + ", or raise --size-limit (0: no limit)")
        }
        if let output {
            try OutputFile.write(drawn.text, to: output)
        }
        for (format, path) in [("png", png), ("svg", svg)] {
            guard let path else { continue }
            try Graphviz.render(dot: drawn.text, format: format, to: path)
            Diagnostics.note("wrote \(path)")
        }
        if output == nil && png == nil && svg == nil {
            print(drawn.text, terminator: drawn.text.hasSuffix("\n") ? "" : "\n")
        }
    }

    /// The refusal of a recorded run, replayed in dyck mode.
    static func tracePicture(_ path: String, policy: Policy) throws -> (functions: [Int], highlight: Dot.Highlight) {
        guard policy.kind == .dyck else { throw UsageError("--trace needs a dyck policy") }
        let recorded = try Trace.load(path: path)
        let checker = try TraceChecker(policy: policy, mode: .dyck)
        guard let found = checker.refusalPath(recorded) else {
            throw UsageError(
                "\(path): the run stays inside the policy (or was refused a system call, which is no edge); nothing to highlight (sbx check --trace says more)"
            )
        }
        var seen: Set<Int> = []
        let functions = found.functions.filter { policy.functions.indices.contains($0) && seen.insert($0).inserted }
        let top = found.frontier.first?.function
        let event = found.refusal.event
        let refused = event.hasPrefix("libc ") ? String(event.dropFirst(5)) + "()" : event
        // The stack's call edges are in the path, exactly those taken: not every edge
        // of their sites.
        let highlight = Dot.Highlight(
            sites: [], function: top,
            states: found.frontier.filter { $0.function == top }.map(\.state), refused: refused,
            path: Set(
                found.steps.map { Dot.PathEdge(function: $0.function, from: $0.from, label: $0.label, to: $0.to) }))
        return (functions, highlight)
    }

    /// How to draw less: the options, and the largest functions of what was drawn.
    func narrowingHint(_ drawn: Policy) -> String {
        if function != nil && report == nil {
            return
                "this one function is over the limit; --hide CALLEE skips calls of a function (a debug printer), --report FILE draws only the path of a kill"
        }
        var hint = "narrow it with --function NAME, --hide CALLEE"
        if !flat { hint += ", --flat --function NAME" }
        hint += ", --report FILE or --trace FILE"
        let largest = drawn.functions.indices
            .map { (name: drawn.functions[$0].name, edges: drawn.functions[$0].automaton.edges.count) }
            .sorted { ($0.edges, $1.name) > ($1.edges, $0.name) }
            .prefix(5)
            .map { "\($0.name) (\($0.edges))" }
        if drawn.functions.count > 1 { hint += " (edges of the largest functions: \(largest.joined(separator: ", ")))" }
        return hint
    }
}

/// A kill report mapped onto the policy: the functions on its call stack, outermost
/// first, and what `Dot` marks.
struct KillPicture {
    var functions: [Int]
    var highlight: Dot.Highlight

    /// The file `sbx run --json-report` writes; only its violations are read, through
    /// the type `sbx run` encodes them with.
    struct ReportFile: Decodable {
        var violations: [ViolationReport]
    }

    init(report path: String, policy: Policy, policyPath: String) throws {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw UsageError("\(path): \(OutputFile.describe(error))")
        }
        let file: ReportFile
        do { file = try JSONOutput.decoder().decode(ReportFile.self, from: data) } catch {
            throw UsageError("\(path): not a report of sbx run --json-report (\(Self.describe(error)))")
        }
        guard let violation = file.violations.first(where: \.killed) ?? file.violations.first else {
            throw UsageError("\(path): the report has no violation to draw")
        }
        func index(of name: String?, what: String) throws -> Int {
            guard let name, let found = policy.functionIndex(named: name) else {
                throw UsageError(
                    "\(path): \(what) \(name.map { "'\($0)'" } ?? "(unnamed)") is not in \(policyPath); is the report of another policy?"
                )
            }
            return found
        }
        var sites: Set<Int> = []
        var onStack: [Int] = []
        // The stack is innermost first; the picture reads from the program entry.
        for frame in violation.stack.reversed() {
            switch frame.kind {
            case "site":
                guard let id = frame.id.map(Int.init), policy.sites.indices.contains(id),
                    policy.functions[policy.sites[id].caller].name == frame.function
                else {
                    throw UsageError(
                        "\(path): call site \(frame.id.map(String.init) ?? "?") of the stack is not in \(policyPath) as the report names it; is the report of another policy?"
                    )
                }
                sites.insert(id)
                onStack.append(policy.sites[id].caller)
            case "callback", "root":
                onStack.append(try index(of: frame.function, what: "function"))
            default:
                continue
            }
        }
        // The function the event was refused in: the states' function when the report
        // has them (dyck mode), else the top frame's callee or the named function.
        var top: Int?
        var states: [Int] = []
        if let pairs = violation.states, let first = pairs.first {
            guard policy.functions.indices.contains(first.index), policy.functions[first.index].name == first.function
            else {
                throw UsageError(
                    "\(path): function '\(first.function)' (#\(first.index)) is not in \(policyPath); is the report of another policy?"
                )
            }
            top = first.index
            states = pairs.filter { $0.index == first.index }.map(\.state)
        } else if let name = violation.functions.first {
            top = try index(of: name, what: "function")
        }
        if let top { onStack.append(top) }
        var seen: Set<Int> = []
        functions = onStack.filter { seen.insert($0).inserted }
        let event = violation.event
        let refused: String
        switch event.kind {
        case "libc": refused = "\(event.name ?? "libc#\(event.id)")()"
        case "call", "tail-call":
            refused =
                "\(event.kind == "call" ? "call" : "tail call") \(event.name.map { $0.isEmpty ? "site \(event.id)" : $0 } ?? "site \(event.id)")()"
        case "return": refused = "return"
        default: refused = event.description
        }
        highlight = Dot.Highlight(sites: sites, function: top, states: states, refused: refused)
        if functions.isEmpty {
            throw UsageError("\(path): the violation (\(event.description)) names no function of the policy to draw")
        }
    }

    static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            return "no '\((context.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: "."))'"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "bad '\(context.codingPath.map(\.stringValue).joined(separator: "."))'"
        case DecodingError.dataCorrupted(let context):
            return context.debugDescription
        default:
            return "\(error)"
        }
    }
}
