/// A function of the program and its automaton over libc calls and call sites.
public struct PolicyFunction: Hashable, Sendable {
    public var name: String
    public var location: SourceLocation?
    public var automaton: Automaton

    public init(name: String, location: SourceLocation? = nil, automaton: Automaton) {
        self.name = name
        self.location = location
        self.automaton = automaton
    }
}

/// A call instruction that is instrumented: at least one of its callees can reach a
/// libc call. Its id is the label of its call edge and, later, the id in its markers.
public struct CallSite: Hashable, Sendable {
    /// Index of the function that contains the call.
    public var caller: Int
    /// Indices of the functions the call may enter (one for a direct call).
    public var callees: [Int]
    public var indirect: Bool
    public var location: SourceLocation?

    public init(caller: Int, callees: [Int], indirect: Bool = false, location: SourceLocation? = nil) {
        self.caller = caller
        self.callees = callees
        self.indirect = indirect
        self.location = location
    }
}

/// A whole-program policy: per-function automata tied together by call sites.
///
/// `kind == .dyck` means call edges are matched with returns (pushdown semantics);
/// `kind == .nfa` marks a policy produced by flattening, whose functions have no call
/// edges left (one function per root).
public struct Policy: Hashable, Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        case dyck
        case nfa
    }

    public var kind: Kind
    /// Name of the module the policy was derived from (informational).
    public var module: String
    /// libc symbol table: the symbol id is the index.
    public var symbols: [String]
    public var functions: [PolicyFunction]
    public var sites: [CallSite]
    /// Index of the function where a run starts (normally `main`).
    public var entry: Int
    /// Functions that libc may run at any point of a run, nested inside it (signal
    /// handlers, atexit handlers, comparators, thread start routines, constructors).
    public var callbacks: [Int]
    /// The system calls each libc symbol's window allows (nil: a policy that predates
    /// system-call binding, which `sbx run` refuses to enforce). Written in policy
    /// format version 2; a policy without it is written, and read, as version 1.
    public var syscalls: SystemCallBinding?

    public init(
        kind: Kind = .dyck, module: String = "", symbols: [String], functions: [PolicyFunction],
        sites: [CallSite], entry: Int, callbacks: [Int] = [], syscalls: SystemCallBinding? = nil
    ) {
        self.kind = kind
        self.module = module
        self.symbols = symbols
        self.functions = functions
        self.sites = sites
        self.entry = entry
        self.callbacks = callbacks
        self.syscalls = syscalls
    }

    public func symbolID(named name: String) -> Int? {
        symbols.firstIndex(of: name)
    }

    public func functionIndex(named name: String) -> Int? {
        functions.firstIndex { $0.name == name }
    }
}
