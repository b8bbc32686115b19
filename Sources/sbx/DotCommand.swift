import ArgumentParser
import DyckModel
import Foundation
import SbxCLI

struct DotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dot",
        abstract: "Draw a policy as a Graphviz graph (DOT text, optionally PNG).",
        discussion: """
            By default every function is drawn, one cluster each. --function draws one \
            function; --flat draws the whole program flattened into the single-copy \
            NFA. Libc edges show the libc name and source line, call edges (dashed) \
            the callee and the call's line. Without -o, --png and --svg the DOT text goes \
            to standard output. --png and --svg run Graphviz's `dot`.
            """
    )

    @Argument(help: "The policy file.")
    var policy: String

    @Option(name: .long, help: "Draw only this function.")
    var function: String?

    @Flag(name: .long, help: "Draw the whole program flattened into one NFA.")
    var flat = false

    @Option(name: .shortAndLong, help: "Write the DOT text to this file.")
    var output: String?

    @Option(name: .long, help: "Render a PNG to this file (NAME.png) with Graphviz's dot.")
    var png: String?

    @Option(name: .long, help: "Render an SVG to this file (NAME.svg) with Graphviz's dot.")
    var svg: String?

    func validate() throws {
        if function != nil && flat {
            throw ValidationError("--function and --flat are alternatives; give one")
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
        let loaded = try Policy.load(path: policy)
        let text: String
        if let function {
            guard let index = loaded.functionIndex(named: function) else {
                let known = loaded.functions.prefix(8).map(\.name).joined(separator: ", ")
                throw UsageError("\(policy): no function '\(function)' in the policy (functions: \(known)\(loaded.functions.count > 8 ? ", ..." : ""))")
            }
            text = Dot.function(loaded, index: index)
        } else if flat {
            text = Dot.flattened(loaded)
        } else {
            text = Dot.allFunctions(loaded)
        }
        if let output {
            try OutputFile.write(text, to: output)
        }
        for (format, path) in [("png", png), ("svg", svg)] {
            guard let path else { continue }
            try Graphviz.render(dot: text, format: format, to: path)
            Diagnostics.note("wrote \(path)")
        }
        if output == nil && png == nil && svg == nil {
            print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
        }
    }
}
