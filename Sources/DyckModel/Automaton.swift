/// A position in the program's source, from debug info.
public struct SourceLocation: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int

    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }

    public var description: String { "\(file):\(line)" }

    /// The path a report shows for a debug-info file: `file` as the compiler recorded it,
    /// resolved against its compilation `directory`, then shown relative to `base` (the
    /// build directory) when it lies below it, and absolute otherwise. Lexical only:
    /// `.` and `..` are folded, symbolic links are not followed.
    public static func displayPath(file: String, directory: String, base: String) -> String {
        let full = normalized(file.hasPrefix("/") || directory.isEmpty ? file : directory + "/" + file)
        guard full.hasPrefix("/") else { return full }
        let root = normalized(base)
        if root == "/" { return String(full.dropFirst()) }
        if full.hasPrefix(root + "/") { return String(full.dropFirst(root.count + 1)) }
        return full
    }

    static func normalized(_ path: String) -> String {
        var parts: [Substring] = []
        let absolute = path.hasPrefix("/")
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..":
                if let last = parts.last, last != ".." { parts.removeLast() } else if !absolute { parts.append(part) }
            default: parts.append(part)
            }
        }
        let joined = parts.joined(separator: "/")
        return absolute ? "/" + joined : (joined.isEmpty ? "." : joined)
    }

    public static func < (a: SourceLocation, b: SourceLocation) -> Bool {
        (a.file, a.line) < (b.file, b.line)
    }
}

/// What an automaton edge consumes: a libc call (symbol id) or a call site (site id).
public enum Label: Hashable, Comparable, Sendable {
    case libc(Int)
    case call(Int)

    public static func < (a: Label, b: Label) -> Bool {
        switch (a, b) {
        case let (.libc(x), .libc(y)): return x < y
        case let (.call(x), .call(y)): return x < y
        case (.libc, .call): return true
        case (.call, .libc): return false
        }
    }
}

public struct Edge: Hashable, Sendable {
    public var from: Int
    public var label: Label
    public var to: Int
    /// Where in the source the call(s) behind this edge are. Informational only:
    /// language operations ignore it.
    public var locations: [SourceLocation]

    public init(from: Int, label: Label, to: Int, locations: [SourceLocation] = []) {
        self.from = from
        self.label = label
        self.to = to
        self.locations = locations
    }
}

/// An ε-free finite automaton over `Label`s with one initial state.
///
/// Every state is a legal position of a run (the monitor accepts every prefix that
/// stays inside the automaton); `finals` marks the states at which the function
/// may return. States are `0..<stateCount`.
public struct Automaton: Hashable, Sendable {
    public var stateCount: Int
    public var initial: Int
    public var finals: Set<Int>
    public var edges: [Edge]

    public init(stateCount: Int, initial: Int, finals: Set<Int>, edges: [Edge]) {
        self.stateCount = stateCount
        self.initial = initial
        self.finals = finals
        self.edges = edges
    }

    /// The automaton with one state, which is final: a function that returns
    /// without any libc call.
    public static var empty: Automaton {
        Automaton(stateCount: 1, initial: 0, finals: [0], edges: [])
    }

    /// Outgoing edges per state, in edge order.
    public func outgoing() -> [[Edge]] {
        var result = [[Edge]](repeating: [], count: stateCount)
        for edge in edges { result[edge.from].append(edge) }
        return result
    }
}

/// An automaton under construction: ε edges (label `nil`) allowed.
public struct EpsilonNFA: Sendable {
    public var stateCount: Int = 0
    public var initial: Int = 0
    public var finals: Set<Int> = []
    public var edges: [(from: Int, label: Label?, to: Int, location: SourceLocation?)] = []

    public init() {}

    public mutating func addState() -> Int {
        stateCount += 1
        return stateCount - 1
    }

    public mutating func addEdge(_ from: Int, _ label: Label?, _ to: Int, location: SourceLocation? = nil) {
        edges.append((from, label, to, location))
    }
}
