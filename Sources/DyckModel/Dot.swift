/// Graphviz DOT renderings of policies, for `dot -Tsvg` / `-Tpng`.
///
/// Libc edges are labelled with the libc name and the first source location
/// (`file.c:line`, plus "+N more" when the edge stands for several calls); call edges
/// are dashed and read `call callee()` or, for an indirect or multi-target site,
/// `call {a, b}()`, with the site's line. Final states (where the function may return)
/// are double circles; the initial state has an arrow from an invisible point. Output
/// is deterministic: states in numeric order, edges sorted by source, label and target.
public enum Dot {
    /// One function of `policy` as a digraph; an out-of-range index gives an empty graph.
    public static func function(_ policy: Policy, index: Int) -> String {
        guard policy.functions.indices.contains(index) else {
            return "digraph \(quoted("no function \(index)")) {\n}\n"
        }
        var lines = ["digraph \(quoted(policy.functions[index].name)) {"]
        lines += header
        lines.append("  label=\(quoted(title(of: policy.functions[index])));")
        lines += body(policy, index: index, indent: "  ")
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// All functions of `policy` in one digraph, a cluster per function.
    public static func allFunctions(_ policy: Policy) -> String {
        let name = policy.module.isEmpty ? "policy" : policy.module
        var lines = ["digraph \(quoted(name)) {"]
        lines += header
        for index in policy.functions.indices {
            lines.append("  subgraph \(quoted("cluster_\(index)")) {")
            lines.append("    label=\(quoted(title(of: policy.functions[index])));")
            lines += body(policy, index: index, indent: "    ")
            lines.append("  }")
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The single-copy flattened program (`Policy.flattened()`): a cluster per root,
    /// no call edges. A policy that is already flattened is drawn as it is.
    public static func flattened(_ policy: Policy) -> String {
        var flat = policy.flattened()
        flat.module = (policy.module.isEmpty ? "policy" : policy.module) + " (flattened)"
        return allFunctions(flat)
    }

    private static let header = [
        "  rankdir=LR;",
        "  node [shape=circle, fontsize=10, width=0.3];",
        "  edge [fontsize=9];",
    ]

    private static func title(of function: PolicyFunction) -> String {
        guard let location = function.location else { return function.name }
        return "\(function.name) (\(short(location)))"
    }

    private static func body(_ policy: Policy, index: Int, indent: String) -> [String] {
        let automaton = policy.functions[index].automaton
        let count = max(automaton.stateCount, 0)
        func node(_ state: Int) -> String { "f\(index)_s\(state)" }
        var lines: [String] = []
        if automaton.hasValidInitial {
            lines.append("\(indent)f\(index)_start [shape=point, style=invis];")
            lines.append("\(indent)f\(index)_start -> \(node(automaton.initial));")
        }
        for state in 0..<count {
            let shape = automaton.finals.contains(state) ? ", shape=doublecircle" : ""
            lines.append("\(indent)\(node(state)) [label=\"\(state)\"\(shape)];")
        }
        for edge in automaton.validOutgoing().joined() {
            var attributes = "label=\(quoted(label(of: edge, in: policy)))"
            if case .call = edge.label { attributes += ", style=dashed" }
            lines.append("\(indent)\(node(edge.from)) -> \(node(edge.to)) [\(attributes)];")
        }
        return lines
    }

    private static func label(of edge: Edge, in policy: Policy) -> String {
        switch edge.label {
        case .libc(let id):
            let name = policy.symbols.indices.contains(id) ? policy.symbols[id] : "libc#\(id)"
            return name + locationLine(edge.locations)
        case .call(let id):
            guard policy.sites.indices.contains(id) else { return "call site#\(id)" + locationLine(edge.locations) }
            let site = policy.sites[id]
            let names = site.callees.map { policy.functions.indices.contains($0) ? policy.functions[$0].name : "#\($0)" }
            let callee = !site.indirect && names.count == 1 ? names[0] : "{\(names.joined(separator: ", "))}"
            return "call \(callee)()" + locationLine(site.location.map { [$0] } ?? edge.locations)
        }
    }

    /// A second label line with the first location and how many more there are.
    private static func locationLine(_ locations: [SourceLocation]) -> String {
        let sorted = Array(Set(locations)).sorted()
        guard let first = sorted.first else { return "" }
        return "\n" + short(first) + (sorted.count > 1 ? " +\(sorted.count - 1) more" : "")
    }

    /// `basename:line`: full paths make labels unreadably wide.
    private static func short(_ location: SourceLocation) -> String {
        let base = location.file.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? location.file
        return "\(base):\(location.line)"
    }

    /// A DOT double-quoted string. Backslashes are doubled (Graphviz would read `\N`,
    /// `\G`, `\l` and the like as escapes), line breaks become `\n`, other control
    /// characters, which DOT cannot carry, become U+FFFD.
    static func quoted(_ text: String) -> String {
        var result = "\""
        var previous: Unicode.Scalar = " "
        for scalar in text.unicodeScalars {
            defer { previous = scalar }
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n" where previous == "\r": continue
            case "\n", "\r": result += "\\n"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f {
                    result.unicodeScalars.append("\u{FFFD}")
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }
}
