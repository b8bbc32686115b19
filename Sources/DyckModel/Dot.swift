/// Graphviz DOT renderings of policies, for `dot -Tsvg` / `-Tpng`.
///
/// Libc edges are labelled with the libc name and the first source location
/// (`file.c:line`, plus "+N more" when the edge stands for several calls); call edges
/// are dashed and read `call callee()` or, for an indirect or multi-target site,
/// `call {a, b}()`, with the site's line. Parallel call edges (same source, target and
/// callee text, different call sites) are drawn as one edge whose label ends in
/// ` ×N`, N the number of sites. Final states (where the function may return)
/// are double circles; the initial state has an arrow from an invisible point. Output
/// is deterministic: states in numeric order, edges sorted by source, label and target.
public enum Dot {
    /// A DOT text and the size Graphviz will have to lay out: drawn states and edges
    /// (start points and start arrows not counted).
    public struct Output: Sendable, Equatable {
        public var text: String
        public var nodeCount: Int
        public var edgeCount: Int
    }

    /// What `sbx dot --report` marks: the call path of a refusal and the refused event.
    public struct Highlight: Sendable, Equatable {
        /// Call sites on the stack, drawn bold red in their callers.
        public var sites: Set<Int>
        /// The function where the event was refused, and the states it was in (empty
        /// when the report does not say).
        public var function: Int?
        public var states: [Int]
        /// The refused event's text (`open()`, `call f()`), drawn as a red edge from
        /// each of `states` to a red box.
        public var refused: String
        /// Edges a recorded run took (`sbx dot --trace`), drawn red: (function, from,
        /// label, to).
        public var path: Set<PathEdge>

        public init(sites: Set<Int>, function: Int?, states: [Int], refused: String, path: Set<PathEdge> = []) {
            self.sites = sites
            self.function = function
            self.states = states
            self.refused = refused
            self.path = path
        }
    }

    public struct PathEdge: Hashable, Sendable {
        public var function: Int
        public var from: Int
        public var label: Label
        public var to: Int

        public init(function: Int, from: Int, label: Label, to: Int) {
            self.function = function
            self.from = from
            self.label = label
            self.to = to
        }
    }

    /// One function of `policy` as a digraph; an out-of-range index gives an empty graph.
    public static func function(_ policy: Policy, index: Int) -> String {
        functionOutput(policy, index: index).text
    }

    public static func functionOutput(_ policy: Policy, index: Int, highlight: Highlight? = nil) -> Output {
        guard policy.functions.indices.contains(index) else {
            return Output(text: "digraph \(quoted("no function \(index)")) {\n}\n", nodeCount: 0, edgeCount: 0)
        }
        var lines = ["digraph \(quoted(policy.functions[index].name)) {"]
        lines += header
        lines.append("  label=\(quoted(title(of: policy.functions[index])));")
        var size = (nodes: 0, edges: 0)
        lines += body(policy, index: index, indent: "  ", highlight: highlight, size: &size)
        lines.append("}")
        return Output(text: lines.joined(separator: "\n") + "\n", nodeCount: size.nodes, edgeCount: size.edges)
    }

    /// All functions of `policy` in one digraph, a cluster per function.
    public static func allFunctions(_ policy: Policy) -> String {
        clusters(policy, functions: Array(policy.functions.indices)).text
    }

    /// The given functions of `policy` (in the order given, out-of-range ones skipped)
    /// in one digraph, a cluster per function.
    public static func clusters(_ policy: Policy, functions: [Int], highlight: Highlight? = nil) -> Output {
        let name = policy.module.isEmpty ? "policy" : policy.module
        var lines = ["digraph \(quoted(name)) {"]
        lines += header
        var size = (nodes: 0, edges: 0)
        for index in functions where policy.functions.indices.contains(index) {
            lines.append("  subgraph \(quoted("cluster_\(index)")) {")
            lines.append("    label=\(quoted(title(of: policy.functions[index])));")
            if let highlight,
                highlight.function == index
                    || highlight.sites.contains(where: { site in
                        policy.sites.indices.contains(site) && policy.sites[site].caller == index
                    }) || highlight.path.contains(where: { $0.function == index })
            {
                lines.append("    color=red;")
            }
            lines += body(policy, index: index, indent: "    ", highlight: highlight, size: &size)
            lines.append("  }")
        }
        lines.append("}")
        return Output(text: lines.joined(separator: "\n") + "\n", nodeCount: size.nodes, edgeCount: size.edges)
    }

    /// The single-copy flattened program (`Policy.flattened()`): a cluster per root,
    /// no call edges. A policy that is already flattened is drawn as it is.
    public static func flattened(_ policy: Policy) -> String {
        flattenedOutput(policy).text
    }

    public static func flattenedOutput(_ policy: Policy) -> Output {
        var flat = policy.flattened()
        flat.module = (policy.module.isEmpty ? "policy" : policy.module) + " (flattened)"
        return clusters(flat, functions: Array(flat.functions.indices))
    }

    private static let header = [
        "  rankdir=LR;",
        "  node [shape=circle, fontsize=10, width=0.3];",
        "  edge [fontsize=9];"
    ]

    private static func title(of function: PolicyFunction) -> String {
        guard let location = function.location else { return function.name }
        return "\(function.name) (\(short(location)))"
    }

    private static func body(
        _ policy: Policy, index: Int, indent: String, highlight: Highlight?, size: inout (nodes: Int, edges: Int)
    ) -> [String] {
        let automaton = policy.functions[index].automaton
        let count = max(automaton.stateCount, 0)
        func node(_ state: Int) -> String { "f\(index)_s\(state)" }
        var lines: [String] = []
        if automaton.hasValidInitial {
            lines.append("\(indent)f\(index)_start [shape=point, style=invis];")
            lines.append("\(indent)f\(index)_start -> \(node(automaton.initial));")
        }
        let refusedAt = highlight.flatMap { $0.function == index ? Set($0.states) : nil } ?? []
        for state in 0..<count {
            var attributes = "label=\"\(state)\""
            if automaton.finals.contains(state) { attributes += ", shape=doublecircle" }
            if refusedAt.contains(state) { attributes += ", color=red, penwidth=2" }
            lines.append("\(indent)\(node(state)) [\(attributes)];")
        }
        size.nodes += count
        // Call edges between the same two states to the same callee(s) are one edge:
        // a function that calls a debug printer at twenty sites would otherwise draw
        // twenty parallel dashed edges.
        struct CallGroup {
            var from: Int
            var to: Int
            var callee: String
            var sites: [Int] = []
            var locations: [SourceLocation] = []
        }
        var groups: [String: Int] = [:]
        var calls: [CallGroup] = []
        for edge in automaton.validOutgoing().joined() {
            switch edge.label {
            case .libc:
                var attributes = "label=\(quoted(label(of: edge, in: policy)))"
                if let highlight,
                    highlight.path.contains(PathEdge(function: index, from: edge.from, label: edge.label, to: edge.to))
                {
                    attributes += ", color=red, fontcolor=red, penwidth=2"
                }
                lines.append("\(indent)\(node(edge.from)) -> \(node(edge.to)) [\(attributes)];")
                size.edges += 1
            case .call(let id):
                let callee = calleeText(site: id, in: policy)
                let key = "\(edge.from) \(edge.to) \(callee)"
                let group: Int
                if let existing = groups[key] {
                    group = existing
                } else {
                    group = calls.count
                    groups[key] = group
                    calls.append(CallGroup(from: edge.from, to: edge.to, callee: callee))
                }
                calls[group].sites.append(id)
                if policy.sites.indices.contains(id), let location = policy.sites[id].location {
                    calls[group].locations.append(location)
                } else {
                    calls[group].locations += edge.locations
                }
            }
        }
        for group in calls {
            var text = "call \(group.callee)"
            if group.sites.count > 1 { text += " ×\(group.sites.count)" }
            text += locationLine(group.locations)
            var attributes = "label=\(quoted(text)), style=dashed"
            if let highlight,
                group.sites.contains(where: { site in
                    highlight.sites.contains(site)
                        || highlight.path.contains(
                            PathEdge(function: index, from: group.from, label: .call(site), to: group.to))
                })
            {
                attributes += ", color=red, fontcolor=red, penwidth=2"
            }
            lines.append("\(indent)\(node(group.from)) -> \(node(group.to)) [\(attributes)];")
            size.edges += 1
        }
        if let highlight, highlight.function == index {
            let box = "f\(index)_refused"
            lines.append(
                "\(indent)\(box) [shape=box, color=red, fontcolor=red, label=\(quoted("refused: " + highlight.refused))];"
            )
            size.nodes += 1
            for state in highlight.states.sorted() where state >= 0 && state < count {
                lines.append(
                    "\(indent)\(node(state)) -> \(box) [color=red, fontcolor=red, style=bold, label=\(quoted(highlight.refused))];"
                )
                size.edges += 1
            }
        }
        return lines
    }

    /// `callee()` for a direct call, `{a, b}()` for an indirect or multi-target site.
    private static func calleeText(site id: Int, in policy: Policy) -> String {
        guard policy.sites.indices.contains(id) else { return "site#\(id)" }
        let site = policy.sites[id]
        let names = site.callees.map { policy.functions.indices.contains($0) ? policy.functions[$0].name : "#\($0)" }
        return (!site.indirect && names.count == 1 ? names[0] : "{\(names.joined(separator: ", "))}") + "()"
    }

    private static func label(of edge: Edge, in policy: Policy) -> String {
        switch edge.label {
        case .libc(let id):
            let name = policy.symbols.indices.contains(id) ? policy.symbols[id] : "libc#\(id)"
            return name + locationLine(edge.locations)
        case .call(let id):
            return "call " + calleeText(site: id, in: policy)
                + locationLine(
                    policy.sites.indices.contains(id)
                        ? policy.sites[id].location.map { [$0] } ?? edge.locations : edge.locations)
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
        let base =
            location.file.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? location.file
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

extension Policy {
    /// The policy with every call edge whose site enters only functions named in
    /// `callees` made an ε move, each function's automaton then `reduced()` (states
    /// renumbered): what each function does apart from those calls, for `sbx dot
    /// --hide` (a parser's hundred calls of a debug printer vanish from its picture).
    /// Not a policy to enforce: what the hidden calls do is gone with them.
    public func hidingCalls(to callees: Set<String>) -> Policy {
        guard !callees.isEmpty else { return self }
        let hiddenSites = Set(
            sites.indices.filter { id in
                let site = sites[id]
                return !site.callees.isEmpty
                    && site.callees.allSatisfy {
                        functions.indices.contains($0) && callees.contains(functions[$0].name)
                    }
            })
        var result = self
        for index in functions.indices {
            let automaton = functions[index].automaton
            guard
                automaton.edges.contains(where: {
                    if case .call(let id) = $0.label { return hiddenSites.contains(id) } else { return false }
                })
            else { continue }
            var nfa = automaton.asEpsilonNFA()
            nfa.edges = nfa.edges.map { edge in
                if case .call(let id)? = edge.label, hiddenSites.contains(id) { return (edge.from, nil, edge.to, nil) }
                return edge
            }
            result.functions[index].automaton = nfa.reduced()
        }
        return result
    }
}
