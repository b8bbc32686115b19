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
            the callee and the call's line. Without -o and --png the DOT text goes to \
            standard output. --png runs Graphviz's `dot`.
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

    @Option(name: .long, help: "Render a PNG to this file with Graphviz's dot.")
    var png: String?

    func validate() throws {
        if function != nil && flat {
            throw ValidationError("--function and --flat are alternatives; give one")
        }
    }

    func run() throws {
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
        if let png {
            try Graphviz.render(dot: text, format: "png", to: png)
            Diagnostics.note("wrote \(png)")
        }
        if output == nil && png == nil {
            print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
        }
    }
}
