import SbxSystem

/// The policy text format, versions 1 to 3 (`specs/policy-format.md` is the
/// definition; this file and that document must agree).
public enum PolicyFormat {
    /// The first word of every policy file.
    public static let magic = "dyck-policy"
    /// The newest version this library reads and writes: version 1 plus the
    /// system-call sets (`Policy.syscalls`), each with its `write` right.
    public static let version = 3
    /// Every version this library reads. Version 2 had no `write` token: a window
    /// whose set held `openat` could open for writing, so a version-2 set is read
    /// with `opensForWriting` = it holds `openat` (the ambient set never).
    public static let readableVersions: ClosedRange<Int> = 1...3

    /// The version a policy is written in: 1 without system-call sets, so that such a
    /// policy's file is byte for byte what version-1 writers wrote; 3 with them.
    public static func version(for policy: Policy) -> Int {
        policy.syscalls == nil ? 1 : 3
    }
}

extension PolicyFormat: RecordFileFormat {
    public static var documentNoun: String { "policy" }
}

/// A policy file, or an in-memory policy, that breaks a rule of the policy format.
///
/// `line` is the 1-based line of the file the problem is on; it is nil for problems
/// found by `Policy.validate()` on an in-memory policy, whose message then starts
/// with the part of the policy at fault. The type is `SbxSystem`'s, shared with the
/// trace format; the kinds are `RecordErrorKind`'s ("Errors" in `specs/policy-format.md`).
public typealias PolicyFormatError = RecordFormatError<PolicyFormat>

// MARK: - Names

/// Percent-encoding of names (`PercentCoding`), for text: a name is always one
/// space-free token of printable ASCII and never looks like a location or a comment.
enum PolicyNameCoding {
    static func encode(_ name: String) -> String {
        PercentCoding.encode(name)
    }
}

// MARK: - Writing

extension Policy {
    /// The same policy with each function's edges sorted by (from, label, to), the
    /// order `serialized()` writes them in. Everything else is kept as it is: finals
    /// are a set, and the order of callees and callbacks is the producer's.
    /// `Policy.parse(p.serialized()) == p.canonicalized()` for every valid `p`.
    public func canonicalized() -> Policy {
        var copy = self
        for f in copy.functions.indices {
            copy.functions[f].automaton.edges = Self.sortedEdges(copy.functions[f].automaton.edges)
        }
        return copy
    }

    static func sortedEdges(_ edges: [Edge]) -> [Edge] {
        // Swift's sort is stable, so the tie-break for duplicate triples (only in
        // invalid policies) is the original order.
        edges.sorted { ($0.from, $0.label, $0.to) < ($1.from, $1.label, $1.to) }
    }

    /// The policy as text: version 1 without system-call sets, version 2 with them
    /// (`PolicyFormat.version(for:)`). Deterministic: equal policies give identical
    /// text; edges are written sorted (see `canonicalized()`), finals ascending.
    /// The result is only readable back if `validate()` passes.
    public func serialized() -> String {
        var out = ""
        func appendLocation(_ location: SourceLocation) {
            out += " @"
            out += PolicyNameCoding.encode(location.file)
            out += ":\(location.line)"
        }

        out += "\(PolicyFormat.magic) \(PolicyFormat.version(for: self))\n"
        out += "kind \(kind.rawValue)\n"
        out += module.isEmpty ? "module\n" : "module \(PolicyNameCoding.encode(module))\n"
        out += "entry \(entry)\n"
        out += "symbols \(symbols.count)\n"
        for (i, name) in symbols.enumerated() {
            out += "sym \(i) \(PolicyNameCoding.encode(name))\n"
        }
        out += "functions \(functions.count)\n"
        for (f, function) in functions.enumerated() {
            let automaton = function.automaton
            out += "func \(f) \(PolicyNameCoding.encode(function.name)) states \(automaton.stateCount)"
            out += " initial \(automaton.initial) edges \(automaton.edges.count)"
            if let location = function.location { appendLocation(location) }
            out += "\nfinal"
            for state in automaton.finals.sorted() { out += " \(state)" }
            out += "\n"
            for edge in Self.sortedEdges(automaton.edges) {
                out += "edge \(edge.from) \(edge.to) \(labelText(edge.label))"
                for location in edge.locations { appendLocation(location) }
                out += "\n"
            }
        }
        out += "sites \(sites.count)\n"
        for (s, site) in sites.enumerated() {
            out += "site \(s) caller \(site.caller) callees"
            for callee in site.callees { out += " \(callee)" }
            out += site.indirect ? " indirect" : " direct"
            if let location = site.location { appendLocation(location) }
            out += "\n"
        }
        out += "callbacks \(callbacks.count)\n"
        for callback in callbacks { out += "callback \(callback)\n" }
        if let binding = syscalls {
            out += "syscall-sets \(binding.sets.count)\n"
            for (i, set) in binding.sets.enumerated() {
                out += "set \(i)"
                if set.mapsExecutable { out += " exec" }
                if set.opensForWriting { out += " write" }
                for number in set.numbers { out += " \(number)" }
                out += "\n"
            }
            out += "symbol-sets \(binding.symbolSets.count)\n"
            for (i, set) in binding.symbolSets.enumerated() {
                out += "sym-set \(i) \(set)\n"
            }
            out += "window start \(binding.startSet)\n"
            out += "window ambient \(binding.ambientSet)\n"
        }
        out += "end\n"
        return out
    }
}

// MARK: - Reading

extension Policy {
    /// Parses policy text of version 1 or 2 and validates the result (`validate()`), so a
    /// returned policy satisfies every rule. Errors name the offending line.
    public static func parse(_ text: String) throws(PolicyFormatError) -> Policy {
        try parse(utf8: Array(text.utf8))
    }

    static func parse(utf8 bytes: [UInt8]) throws(PolicyFormatError) -> Policy {
        var parser = PolicyParser(bytes: bytes)
        let policy = try parser.parsePolicy()
        if let violation = policy.firstViolation() {
            if let line = PolicyParser.locate(violation.subject, in: bytes) {
                throw PolicyFormatError(kind: violation.kind, line: line, message: violation.message)
            }
            throw PolicyFormatError(
                kind: violation.kind, line: nil,
                message: "\(policy.describe(violation.subject)): \(violation.message)")
        }
        return policy
    }
}

/// A single-pass reader over the bytes of a policy file. It checks syntax, id order
/// and caps; the semantic rules are `Policy.firstViolation()`'s, applied afterwards.
struct PolicyParser {
    enum Keyword {
        static let kind = Array("kind".utf8)
        static let module = Array("module".utf8)
        static let entry = Array("entry".utf8)
        static let symbols = Array("symbols".utf8)
        static let sym = Array("sym".utf8)
        static let functions = Array("functions".utf8)
        static let function = Array("func".utf8)
        static let states = Array("states".utf8)
        static let initial = Array("initial".utf8)
        static let edges = Array("edges".utf8)
        static let final = Array("final".utf8)
        static let edge = Array("edge".utf8)
        static let libc = Array("libc".utf8)
        static let call = Array("call".utf8)
        static let sites = Array("sites".utf8)
        static let site = Array("site".utf8)
        static let caller = Array("caller".utf8)
        static let callees = Array("callees".utf8)
        static let direct = Array("direct".utf8)
        static let indirect = Array("indirect".utf8)
        static let callbacks = Array("callbacks".utf8)
        static let callback = Array("callback".utf8)
        static let syscallSets = Array("syscall-sets".utf8)
        static let set = Array("set".utf8)
        static let exec = Array("exec".utf8)
        static let write = Array("write".utf8)
        static let symbolSets = Array("symbol-sets".utf8)
        static let symSet = Array("sym-set".utf8)
        static let window = Array("window".utf8)
        static let start = Array("start".utf8)
        static let ambient = Array("ambient".utf8)
        static let end = Array("end".utf8)
    }

    enum Syntax {
        static let header = "\(PolicyFormat.magic) 1|2|3"
        static let kind = "kind dyck|nfa"
        static let module = "module [NAME]"
        static let entry = "entry FUNCTION"
        static let symbols = "symbols COUNT"
        static let sym = "sym ID NAME"
        static let functions = "functions COUNT"
        static let function = "func ID NAME states COUNT initial STATE edges COUNT [@FILE:LINE]"
        static let final = "final [STATE ...]"
        static let edge = "edge FROM TO libc SYMBOL|call SITE [@FILE:LINE ...]"
        static let sites = "sites COUNT"
        static let site = "site ID caller FUNCTION callees FUNCTION ... direct|indirect [@FILE:LINE]"
        static let callbacks = "callbacks COUNT"
        static let callback = "callback FUNCTION"
        static let syscallSets = "syscall-sets COUNT"
        static let set = "set ID [exec] [write] [NUMBER ...]"
        static let symbolSets = "symbol-sets COUNT"
        static let symSet = "sym-set SYMBOL SET"
        static let windowStart = "window start SET"
        static let windowAmbient = "window ambient SET"
        static let end = "end"
    }

    struct Line {
        var number: Int
        /// Byte ranges of the space-separated fields; never empty.
        var tokens: [Range<Int>]
    }

    var lexer: RecordLexer
    var bytes: [UInt8] { lexer.bytes }
    var position: Int { lexer.position }
    /// Number of the physical line read last (1-based; 0 before the first).
    var lineNumber: Int { lexer.lineNumber }
    var totalStates = 0
    var totalEdges = 0
    var totalCallees = 0
    var totalLocations = 0

    init(bytes: [UInt8]) {
        lexer = RecordLexer(bytes: bytes)
    }

    // MARK: Lines and fields

    mutating func nextPhysicalLine() -> (range: Range<Int>, terminated: Bool)? {
        lexer.nextPhysicalLine()
    }

    /// The next line that is neither blank nor a comment, split into fields. A
    /// missing final newline means the file was cut, unless the cut line is the
    /// complete `end` line (some editors drop the last newline).
    mutating func nextLine() throws(PolicyFormatError) -> Line? {
        do throws(RecordLexError) {
            guard let record = try lexer.nextRecord(unterminatedAllowed: Keyword.end) else { return nil }
            return Line(number: record.number, tokens: record.fields)
        } catch {
            throw Self.lexError(error)
        }
    }

    func tokenize(_ range: Range<Int>) throws(PolicyFormatError) -> [Range<Int>] {
        do throws(RecordLexError) {
            return try lexer.fields(range)
        } catch {
            throw Self.lexError(error)
        }
    }

    /// The policy format's words for what the lexer found.
    static func lexError(_ error: RecordLexError) -> PolicyFormatError {
        PolicyFormatError(
            kind: error.problem == .unterminatedLine ? .truncated : .malformed, line: error.line,
            message: error.message(cut: "the file", files: "policy files", escaped: "names"))
    }

    static func hex(_ byte: UInt8) -> String {
        RecordLexer.hex(byte)
    }

    func malformed(_ line: Int, _ message: String) -> PolicyFormatError {
        PolicyFormatError(kind: .malformed, line: line, message: message)
    }

    func equals(_ token: Range<Int>, _ keyword: [UInt8]) -> Bool {
        lexer.equals(token, keyword)
    }

    /// A field as it may be quoted in a message: printable, cut short.
    func show(_ token: Range<Int>) -> String {
        lexer.show(token)
    }

    /// Indices, counts and line numbers are `Int`s: a number above `Int.max` is too
    /// large for any table.
    func number(_ token: Range<Int>) -> Result<Int, RecordNumberError> {
        lexer.decimal(token, as: Int.self)
    }

    /// Field `i` of a line whose field count was checked by the caller.
    func field(_ line: Line, _ i: Int, _ syntax: String) throws(PolicyFormatError) -> Range<Int> {
        guard i >= 0 && i < line.tokens.count else {
            throw malformed(line.number, "malformed line: expected '\(syntax)'")
        }
        return line.tokens[i]
    }

    func requireFieldCount(_ line: Line, _ allowed: ClosedRange<Int>, _ syntax: String) throws(PolicyFormatError) {
        guard allowed.contains(line.tokens.count) else {
            let problem = line.tokens.count < allowed.lowerBound ? "too few fields" : "too many fields"
            throw malformed(line.number, "malformed line (\(problem)): expected '\(syntax)'")
        }
    }

    func requireKeyword(_ line: Line, _ i: Int, _ keyword: [UInt8], _ syntax: String) throws(PolicyFormatError) {
        let token = try field(line, i, syntax)
        guard equals(token, keyword) else {
            throw malformed(
                line.number,
                "expected '\(String(decoding: keyword, as: UTF8.self))' in field \(i + 1) of '\(syntax)', found '\(show(token))'"
            )
        }
    }

    /// An index field: any non-negative number that fits in 64 bits; its range is
    /// checked by validation, which knows every table's size.
    func index(_ line: Line, _ i: Int, _ what: String, _ syntax: String) throws(PolicyFormatError) -> Int {
        let token = try field(line, i, syntax)
        switch number(token) {
        case .success(let value): return value
        case .failure(.overflow):
            throw PolicyFormatError(
                kind: .outOfRange, line: line.number,
                message: "out-of-range \(what) \(show(token)) (too large for any table)")
        case .failure(.notDecimal):
            throw malformed(
                line.number,
                "expected \(what) as a decimal number (digits only, no sign or leading zeros), found '\(show(token))'")
        }
    }

    func count(_ line: Line, _ i: Int, _ what: String, cap: Int, _ syntax: String) throws(PolicyFormatError) -> Int {
        let token = try field(line, i, syntax)
        switch number(token) {
        case .success(let value) where value <= cap:
            return value
        case .success, .failure(.overflow):
            throw PolicyFormatError(
                kind: .capExceeded, line: line.number, message: "\(what) count \(show(token)) exceeds the cap of \(cap)"
            )
        case .failure(.notDecimal):
            throw malformed(
                line.number,
                "expected \(what) count as a decimal number (digits only, no sign or leading zeros), found '\(show(token))'"
            )
        }
    }

    /// Ids are redundant with position; requiring them catches lines lost or
    /// duplicated by hand edits.
    func checkID(_ line: Line, _ expected: Int, _ what: String, _ syntax: String) throws(PolicyFormatError) {
        let token = try field(line, 1, syntax)
        guard case .success(let id) = number(token), id == expected else {
            throw malformed(
                line.number, "expected \(what) id \(expected), found '\(show(token))' (ids are 0, 1, 2, ... in order)")
        }
    }

    func name(_ token: Range<Int>, _ what: String, line: Int) throws(PolicyFormatError) -> String {
        let decoded: [UInt8]
        do throws(PercentDecodingError) {
            decoded = try lexer.percentDecoded(token, rejectingNUL: false)
        } catch {
            switch error {
            case .invalidEscape(let escape):
                throw malformed(line, "invalid percent escape '\(show(escape))' in \(what) (a '%' is written %25)")
            case .unescaped(let i):
                throw malformed(
                    line,
                    "'\(show(i..<i + 1))' in \(what) must be percent-encoded (as %\(Self.hex(bytes[i]).dropFirst(2)))")
            case .escapedNUL:
                // Not asked for: a NUL in a name is judged by validation.
                throw malformed(line, "\(what) contains a NUL byte (%00)")
            }
        }
        if decoded.count > PolicyLimits.maxNameBytes {
            throw PolicyFormatError(
                kind: .capExceeded, line: line,
                message: "\(what) is \(decoded.count) bytes long; the cap is \(PolicyLimits.maxNameBytes)")
        }
        guard let text = String(validating: decoded, as: UTF8.self) else {
            throw malformed(line, "\(what) '\(show(token))' is not valid UTF-8 once percent-decoded")
        }
        return text
    }

    mutating func location(_ token: Range<Int>, line: Int) throws(PolicyFormatError) -> SourceLocation {
        guard bytes[token.lowerBound] == UInt8(ascii: "@"),
            let colon = bytes[token].lastIndex(of: UInt8(ascii: ":"))
        else {
            throw malformed(line, "expected a source location '@FILE:LINE', found '\(show(token))'")
        }
        totalLocations += 1
        if totalLocations > PolicyLimits.maxTotalLocations {
            throw PolicyFormatError(
                kind: .capExceeded, line: line,
                message: "more than \(PolicyLimits.maxTotalLocations) source locations in the policy")
        }
        // '@' is not ':', so the colon lies after it and the file range is valid.
        let file = try name(token.lowerBound + 1..<colon, "source file name", line: line)
        switch number(colon + 1..<token.upperBound) {
        case .success(let value) where value <= PolicyLimits.maxSourceLine:
            return SourceLocation(file: file, line: value)
        case .success, .failure(.overflow):
            throw PolicyFormatError(
                kind: .outOfRange, line: line,
                message:
                    "source line \(show(colon + 1..<token.upperBound)) in '\(show(token))' is out of range (0...\(PolicyLimits.maxSourceLine))"
            )
        case .failure(.notDecimal):
            throw malformed(line, "expected a line number after ':' in source location '\(show(token))'")
        }
    }

    /// The next significant line, which must start with `keyword`.
    mutating func expect(
        _ keyword: [UInt8], _ syntax: String, _ context: @autoclosure () -> String = ""
    ) throws(PolicyFormatError) -> Line {
        guard let line = try nextLine() else {
            throw PolicyFormatError(
                kind: .truncated, line: lineNumber + 1,
                message: "the file is truncated: expected '\(syntax)'\(context()), found the end of the file")
        }
        guard let first = line.tokens.first, equals(first, keyword) else {
            let found = line.tokens.first.map { show($0) } ?? ""
            throw malformed(line.number, "expected '\(syntax)'\(context()), found '\(found)'")
        }
        return line
    }

    /// Bounds a reservation by what the rest of the file could hold (every line takes
    /// at least four bytes), so a huge declared count in a tiny file allocates little.
    func plausible(_ count: Int) -> Int {
        min(count, (bytes.count - position) / 4 + 1)
    }

    // MARK: Sections

    /// Reads line 1 and returns the version it names, one of
    /// `PolicyFormat.readableVersions`.
    mutating func parseHeader() throws(PolicyFormatError) -> Int {
        guard let header = lexer.header(magic: PolicyFormat.magic) else {
            throw PolicyFormatError(
                kind: .truncated, line: 1, message: "the file is empty (a policy file starts with '\(Syntax.header)')")
        }
        let range = header.range
        if bytes[range].starts(with: [0xEF, 0xBB, 0xBF]) {
            throw malformed(
                1, "the file starts with a UTF-8 byte order mark; remove it (line 1 must be '\(Syntax.header)')")
        }
        if !header.terminated && lexer.isNonEmptyPrefix(range, of: "\(PolicyFormat.magic) ") {
            throw PolicyFormatError(
                kind: .truncated, line: 1, message: "the file is truncated: it ends in the middle of line 1")
        }
        guard header.hasMagic else {
            throw malformed(1, "not a dyck policy file: line 1 must be '\(Syntax.header)', found '\(show(range))'")
        }
        if !header.terminated {
            throw PolicyFormatError(
                kind: .truncated, line: 1, message: "the file is truncated: it ends in the middle of line 1")
        }
        // The version is judged before the rest of the line, whose shape a future
        // version may change. (A CR ends it too, so that a CRLF file gets the message
        // about line endings.)
        let versionToken = header.version
        let version: Int
        switch number(versionToken) {
        case .success(let value) where PolicyFormat.readableVersions.contains(value):
            version = value
        case .success, .failure(.overflow):
            let versions = PolicyFormat.readableVersions
            let readable = "\(versions.lowerBound) to \(versions.upperBound)"
            throw PolicyFormatError(
                kind: .unsupportedVersion, line: 1,
                message: "unsupported policy version \(show(versionToken)); this tool reads versions \(readable)")
        case .failure(.notDecimal):
            throw malformed(1, "the policy version must be a decimal number, found '\(show(versionToken))'")
        }
        let tokens = try tokenize(range)
        guard tokens.count == 2 else {
            throw malformed(1, "unexpected text after the version: expected '\(Syntax.header)'")
        }
        return version
    }

    mutating func parsePolicy() throws(PolicyFormatError) -> Policy {
        let version = try parseHeader()

        var line = try expect(Keyword.kind, Syntax.kind)
        try requireFieldCount(line, 2...2, Syntax.kind)
        let kindToken = try field(line, 1, Syntax.kind)
        guard let kind = Policy.Kind(rawValue: String(decoding: bytes[kindToken], as: UTF8.self)) else {
            throw malformed(line.number, "unknown policy kind '\(show(kindToken))' (expected 'dyck' or 'nfa')")
        }

        line = try expect(Keyword.module, Syntax.module)
        try requireFieldCount(line, 1...2, Syntax.module)
        var module = ""
        if line.tokens.count == 2 {
            module = try name(try field(line, 1, Syntax.module), "module name", line: line.number)
        }

        line = try expect(Keyword.entry, Syntax.entry)
        try requireFieldCount(line, 2...2, Syntax.entry)
        let entry = try index(line, 1, "entry function index", Syntax.entry)

        line = try expect(Keyword.symbols, Syntax.symbols)
        try requireFieldCount(line, 2...2, Syntax.symbols)
        let symbolCount = try count(line, 1, "symbol", cap: PolicyLimits.maxSymbols, Syntax.symbols)
        var symbols: [String] = []
        symbols.reserveCapacity(plausible(symbolCount))
        for i in 0..<symbolCount {
            line = try expect(Keyword.sym, Syntax.sym, " (symbol \(i) of the \(symbolCount) declared)")
            try requireFieldCount(line, 3...3, Syntax.sym)
            try checkID(line, i, "symbol", Syntax.sym)
            symbols.append(try name(try field(line, 2, Syntax.sym), "symbol name", line: line.number))
        }

        line = try expect(Keyword.functions, Syntax.functions, " (after the \(symbolCount) declared symbols)")
        try requireFieldCount(line, 2...2, Syntax.functions)
        let functionCount = try count(line, 1, "function", cap: PolicyLimits.maxFunctions, Syntax.functions)
        var functions: [PolicyFunction] = []
        functions.reserveCapacity(plausible(functionCount))
        for f in 0..<functionCount {
            functions.append(try parseFunction(f, of: functionCount))
        }

        line = try expect(Keyword.sites, Syntax.sites, " (after the \(functionCount) declared functions)")
        try requireFieldCount(line, 2...2, Syntax.sites)
        let siteCount = try count(line, 1, "call site", cap: PolicyLimits.maxSites, Syntax.sites)
        var sites: [CallSite] = []
        sites.reserveCapacity(plausible(siteCount))
        for s in 0..<siteCount {
            sites.append(try parseSite(s, of: siteCount))
        }

        line = try expect(Keyword.callbacks, Syntax.callbacks, " (after the \(siteCount) declared call sites)")
        try requireFieldCount(line, 2...2, Syntax.callbacks)
        let callbackCount = try count(line, 1, "callback", cap: PolicyLimits.maxFunctions, Syntax.callbacks)
        var callbacks: [Int] = []
        callbacks.reserveCapacity(plausible(callbackCount))
        for i in 0..<callbackCount {
            line = try expect(Keyword.callback, Syntax.callback, " (callback \(i) of the \(callbackCount) declared)")
            try requireFieldCount(line, 2...2, Syntax.callback)
            callbacks.append(try index(line, 1, "callback function index", Syntax.callback))
        }

        var syscalls: SystemCallBinding?
        if version >= 2 {
            syscalls = try parseSystemCallBinding(
                version: version, after: " (after the \(callbackCount) declared callbacks)")
            line = try expect(Keyword.end, Syntax.end, " (after the system-call sets)")
        } else {
            line = try expect(
                Keyword.end, Syntax.end,
                " (after the \(callbackCount) declared callbacks; system-call sets need 'dyck-policy 2')")
        }
        try requireFieldCount(line, 1...1, Syntax.end)
        if let extra = try nextLine() {
            throw malformed(extra.number, "unexpected line after 'end' (only blank lines and comments may follow it)")
        }

        return Policy(
            kind: kind, module: module, symbols: symbols, functions: functions, sites: sites, entry: entry,
            callbacks: callbacks, syscalls: syscalls)
    }

    /// The version-2 section: the sets, one set index per symbol, the two windows.
    /// Numbers and indices are taken as written; their ranges, order and the rules
    /// tying the parts together are `Policy.firstViolation()`'s.
    mutating func parseSystemCallBinding(version: Int, after context: String) throws(PolicyFormatError)
        -> SystemCallBinding
    {
        var line = try expect(Keyword.syscallSets, Syntax.syscallSets, context)
        try requireFieldCount(line, 2...2, Syntax.syscallSets)
        let setCount = try count(line, 1, "system-call set", cap: PolicyLimits.maxSystemCallSets, Syntax.syscallSets)
        var sets: [SystemCallSet] = []
        sets.reserveCapacity(plausible(setCount))
        for i in 0..<setCount {
            line = try expect(Keyword.set, Syntax.set, " (system-call set \(i) of the \(setCount) declared)")
            try requireFieldCount(line, 2...Int.max, Syntax.set)
            try checkID(line, i, "system-call set", Syntax.set)
            var first = 2
            var set = SystemCallSet.empty
            if first < line.tokens.count && equals(line.tokens[first], Keyword.exec) {
                set.mapsExecutable = true
                first += 1
            }
            if version >= 3 && first < line.tokens.count && equals(line.tokens[first], Keyword.write) {
                set.opensForWriting = true
                first += 1
            }
            // Kept as written (not through `SystemCallSet.init`, which sorts), so that
            // validation sees unsorted or repeated numbers.
            set.numbers.reserveCapacity(line.tokens.count - first)
            for f in first..<line.tokens.count {
                set.numbers.append(try index(line, f, "system-call number", Syntax.set))
            }
            sets.append(set)
        }

        line = try expect(Keyword.symbolSets, Syntax.symbolSets, " (after the \(setCount) declared system-call sets)")
        try requireFieldCount(line, 2...2, Syntax.symbolSets)
        let symbolSetCount = try count(line, 1, "symbol set", cap: PolicyLimits.maxSymbols, Syntax.symbolSets)
        var symbolSets: [Int] = []
        symbolSets.reserveCapacity(plausible(symbolSetCount))
        for i in 0..<symbolSetCount {
            line = try expect(Keyword.symSet, Syntax.symSet, " (symbol set \(i) of the \(symbolSetCount) declared)")
            try requireFieldCount(line, 3...3, Syntax.symSet)
            try checkID(line, i, "symbol", Syntax.symSet)
            symbolSets.append(try index(line, 2, "system-call set index", Syntax.symSet))
        }

        let start = try parseWindow(
            Keyword.start, Syntax.windowStart, " (after the \(symbolSetCount) declared symbol sets)")
        let ambient = try parseWindow(Keyword.ambient, Syntax.windowAmbient, " (after 'window start')")
        if version == 2 {
            // Version 2's rule: a window whose set holds openat may open for writing.
            for i in sets.indices where i != ambient && sets[i].numbers.contains(SystemCallNumbers.openat) {
                sets[i].opensForWriting = true
            }
        }
        return SystemCallBinding(sets: sets, symbolSets: symbolSets, startSet: start, ambientSet: ambient)
    }

    /// `window NAME SET`, with the name `name`: the set index.
    mutating func parseWindow(_ name: [UInt8], _ syntax: String, _ context: String) throws(PolicyFormatError) -> Int {
        let line = try expect(Keyword.window, syntax, context)
        try requireFieldCount(line, 3...3, syntax)
        try requireKeyword(line, 1, name, syntax)
        return try index(line, 2, "system-call set index", syntax)
    }

    mutating func parseFunction(_ f: Int, of total: Int) throws(PolicyFormatError) -> PolicyFunction {
        let syntax = Syntax.function
        var line = try expect(Keyword.function, syntax, " (function \(f) of the \(total) declared)")
        try requireFieldCount(line, 9...10, syntax)
        try checkID(line, f, "function", syntax)
        let functionName = try name(try field(line, 2, syntax), "function name", line: line.number)
        try requireKeyword(line, 3, Keyword.states, syntax)
        let stateCount = try count(line, 4, "state", cap: PolicyLimits.maxStatesPerFunction, syntax)
        totalStates += stateCount
        if totalStates > PolicyLimits.maxTotalStates {
            throw PolicyFormatError(
                kind: .capExceeded, line: line.number,
                message: "the policy has more than \(PolicyLimits.maxTotalStates) states in total")
        }
        try requireKeyword(line, 5, Keyword.initial, syntax)
        let initial = try index(line, 6, "initial state", syntax)
        try requireKeyword(line, 7, Keyword.edges, syntax)
        let edgeCount = try count(line, 8, "edge", cap: PolicyLimits.maxEdgesPerFunction, syntax)
        totalEdges += edgeCount
        if totalEdges > PolicyLimits.maxTotalEdges {
            throw PolicyFormatError(
                kind: .capExceeded, line: line.number,
                message: "the policy has more than \(PolicyLimits.maxTotalEdges) edges in total")
        }
        var functionLocation: SourceLocation?
        if line.tokens.count == 10 {
            functionLocation = try location(try field(line, 9, syntax), line: line.number)
        }

        line = try expect(Keyword.final, Syntax.final, " (right after the line of function \(f))")
        var finals = Set<Int>()
        for i in line.tokens.indices.dropFirst() {
            let state = try index(line, i, "final state", Syntax.final)
            if !finals.insert(state).inserted {
                throw PolicyFormatError(
                    kind: .duplicate, line: line.number, message: "final state \(state) is listed twice")
            }
        }

        var edges: [Edge] = []
        edges.reserveCapacity(plausible(edgeCount))
        for e in 0..<edgeCount {
            line = try expect(Keyword.edge, Syntax.edge, " (edge \(e) of the \(edgeCount) declared for function \(f))")
            try requireFieldCount(line, 5...Int.max, Syntax.edge)
            let from = try index(line, 1, "source state", Syntax.edge)
            let to = try index(line, 2, "target state", Syntax.edge)
            let labelToken = try field(line, 3, Syntax.edge)
            let label: Label
            if equals(labelToken, Keyword.libc) {
                label = .libc(try index(line, 4, "symbol index", Syntax.edge))
            } else if equals(labelToken, Keyword.call) {
                label = .call(try index(line, 4, "call site index", Syntax.edge))
            } else {
                throw malformed(
                    line.number, "expected 'libc' or 'call' in field 4 of '\(Syntax.edge)', found '\(show(labelToken))'"
                )
            }
            var locations: [SourceLocation] = []
            for i in 5..<line.tokens.count {
                locations.append(try location(try field(line, i, Syntax.edge), line: line.number))
            }
            edges.append(Edge(from: from, label: label, to: to, locations: locations))
        }
        return PolicyFunction(
            name: functionName, location: functionLocation,
            automaton: Automaton(stateCount: stateCount, initial: initial, finals: finals, edges: edges))
    }

    mutating func parseSite(_ s: Int, of total: Int) throws(PolicyFormatError) -> CallSite {
        let syntax = Syntax.site
        let line = try expect(Keyword.site, syntax, " (call site \(s) of the \(total) declared)")
        try requireFieldCount(line, 6...Int.max, syntax)
        try checkID(line, s, "call site", syntax)
        try requireKeyword(line, 2, Keyword.caller, syntax)
        let caller = try index(line, 3, "caller function index", syntax)
        try requireKeyword(line, 4, Keyword.callees, syntax)
        var callees: [Int] = []
        var i = 5
        var indirect: Bool?
        while i < line.tokens.count {
            let token = try field(line, i, syntax)
            i += 1
            if equals(token, Keyword.direct) {
                indirect = false
                break
            }
            if equals(token, Keyword.indirect) {
                indirect = true
                break
            }
            switch number(token) {
            case .success(let callee):
                callees.append(callee)
            case .failure(.overflow):
                throw PolicyFormatError(
                    kind: .outOfRange, line: line.number,
                    message: "out-of-range callee function index \(show(token)) (too large for any table)")
            case .failure(.notDecimal):
                throw malformed(
                    line.number, "expected a callee function index or 'direct'/'indirect', found '\(show(token))'")
            }
            totalCallees += 1
            if totalCallees > PolicyLimits.maxTotalCallees {
                throw PolicyFormatError(
                    kind: .capExceeded, line: line.number,
                    message: "more than \(PolicyLimits.maxTotalCallees) callees over all call sites")
            }
        }
        guard let indirect else {
            throw malformed(line.number, "missing 'direct' or 'indirect' after the callees: expected '\(syntax)'")
        }
        var siteLocation: SourceLocation?
        if i < line.tokens.count {
            siteLocation = try location(try field(line, i, syntax), line: line.number)
            i += 1
        }
        guard i == line.tokens.count else {
            throw malformed(line.number, "malformed line (too many fields): expected '\(syntax)'")
        }
        return CallSite(caller: caller, callees: callees, indirect: indirect, location: siteLocation)
    }

    // MARK: Locating validation errors

    /// The line that holds `subject`, found by reading the (already parsed) text again:
    /// cheaper than remembering a line number for every edge of every policy.
    static func locate(_ subject: PolicySubject, in bytes: [UInt8]) -> Int? {
        if subject == .policy { return nil }
        var parser = PolicyParser(bytes: bytes)
        _ = parser.nextPhysicalLine()
        var function = -1
        var edge = 0
        var symbol = 0
        var site = 0
        var callback = 0
        var set = 0
        var symbolSet = 0
        while let line = try? parser.nextLine() {
            guard let first = line.tokens.first else { continue }
            let here: PolicySubject
            if parser.equals(first, Keyword.module) {
                here = .module
            } else if parser.equals(first, Keyword.entry) {
                here = .entry
            } else if parser.equals(first, Keyword.sym) {
                here = .symbol(symbol)
                symbol += 1
            } else if parser.equals(first, Keyword.function) {
                function += 1
                edge = 0
                here = .function(function)
            } else if parser.equals(first, Keyword.final) {
                here = .finals(function: function)
            } else if parser.equals(first, Keyword.edge) {
                here = .edge(function: function, index: edge)
                edge += 1
            } else if parser.equals(first, Keyword.site) {
                here = .site(site)
                site += 1
            } else if parser.equals(first, Keyword.callback) {
                here = .callback(callback)
                callback += 1
            } else if parser.equals(first, Keyword.syscallSets) {
                here = .systemCallSets
            } else if parser.equals(first, Keyword.set) {
                here = .systemCallSet(set)
                set += 1
            } else if parser.equals(first, Keyword.symbolSets) {
                here = .symbolSets
            } else if parser.equals(first, Keyword.symSet) {
                here = .symbolSet(symbolSet)
                symbolSet += 1
            } else if parser.equals(first, Keyword.window), line.tokens.count > 1 {
                if parser.equals(line.tokens[1], Keyword.start) {
                    here = .startWindow
                } else if parser.equals(line.tokens[1], Keyword.ambient) {
                    here = .ambientWindow
                } else {
                    continue
                }
            } else {
                continue
            }
            if here == subject { return line.number }
        }
        return nil
    }
}
