import CSbxTrace
import DyckModel
import SbxSystem

/// The trace text format, version 2. `specs/trace-format.md` is the definition; this
/// file and that document must agree.
public enum TraceFormat {
    /// The first word of every trace file.
    public static let magic = "sbx-trace"
    /// The version this library writes (version 2 added the system-call lines).
    public static let version = 2
    /// The versions this library reads: 1 (markers only) and 2.
    public static let readableVersions: ClosedRange<Int> = 1...2
    /// The marker system call (`SBX_MARKER_NR`): through the 64-bit ABI it is a
    /// marker line, never a system-call line.
    static let markerNumber = UInt64(SBX_MARKER_NR)
    /// Signals are 1...64 on Linux (`_NSIG` is 65).
    static let signals: ClosedRange<Int32> = 1...64
    static let exitCodes: ClosedRange<Int32> = 0...255
}

extension TraceFormat: RecordFileFormat {
    public static var documentNoun: String { "trace" }
}

/// Trace text that breaks a rule of the format, or an in-memory trace that could not
/// be written as valid text. `line` is the 1-based line of the file (nil for an
/// in-memory trace, whose message then names the event). The type is `SbxSystem`'s,
/// shared with the policy format; the kinds are `RecordErrorKind`'s (a trace
/// uses truncated, unsupported version, malformed, out of range, inconsistent).
public typealias TraceFormatError = RecordFormatError<TraceFormat>

// MARK: - Paths

/// Percent-encoding of paths: the rule of the policy format's names
/// (`specs/policy-format.md`, "Names", `PercentCoding`), applied to bytes, which a
/// path need not hold as UTF-8.
enum TracePathCoding {
    static func append(_ path: TracePath, to out: inout [UInt8]) {
        PercentCoding.append(path.bytes, to: &out)
    }
}

// MARK: - Writing

extension TraceEvent {
    /// Appends the event's line, with its LF.
    func appendLine(to out: inout [UInt8]) {
        func word(_ text: StaticString) {
            text.withUTF8Buffer { out.append(contentsOf: $0) }
        }
        func digits(_ value: UInt64) {
            // Without String formatting: this runs once per marker.
            var rest = value
            let start = out.count
            repeat {
                out.append(UInt8(ascii: "0") + UInt8(rest % 10))
                rest /= 10
            } while rest != 0
            out[start...].reverse()
        }
        func number(_ value: UInt64) {
            out.append(UInt8(ascii: " "))
            digits(value)
        }
        func number(_ value: Int32) {
            out.append(UInt8(ascii: " "))
            // Only an invalid in-memory trace has a negative id or code: it gets a
            // sign, which no reader accepts, rather than a trap.
            if value < 0 { out.append(UInt8(ascii: "-")) }
            digits(UInt64(value.magnitude))
        }
        func path(_ path: TracePath) {
            out.append(UInt8(ascii: " "))
            TracePathCoding.append(path, to: &out)
        }

        switch self {
        case .start(let pid, let p):
            word("start")
            number(pid)
            path(p)
        case .marker(let pid, let tid, let kind, let id):
            word("m")
            number(pid)
            number(tid)
            out.append(UInt8(ascii: " "))
            if case .unknown(let value) = kind {
                word("kind-")
                digits(value)
            } else {
                out.append(contentsOf: kind.name.utf8)
            }
            number(id)
        case .systemCall(let pid, let tid, let abi, let nr, let argument):
            if abi == .ia32 { word("s32") } else { word("s") }
            number(pid)
            number(tid)
            number(nr)
            number(argument)
        case .fork(let parentPID, let parentTID, let childPID):
            word("fork")
            number(parentPID)
            number(parentTID)
            number(childPID)
        case .thread(let pid, let parentTID, let newTID):
            word("thread")
            number(pid)
            number(parentTID)
            number(newTID)
        case .exec(let pid, let tid, let p):
            word("exec")
            number(pid)
            number(tid)
            path(p)
        case .exit(let pid, let tid, let status):
            word("exit")
            number(pid)
            number(tid)
            switch status {
            case .exited(let code):
                word(" exited")
                number(code)
            case .killed(let signal):
                word(" killed")
                number(signal)
            }
        }
        out.append(UInt8(ascii: "\n"))
    }

    /// The event's line without its LF.
    public var line: String {
        var bytes: [UInt8] = []
        appendLine(to: &bytes)
        bytes.removeLast()
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension Trace {
    static func headerLine(version: Int = TraceFormat.version) -> [UInt8] {
        Array("\(TraceFormat.magic) \(version)\n".utf8)
    }
    static var endLine: [UInt8] { Array("end\n".utf8) }

    /// The trace as text of its `version`, `end` included. Deterministic. Readable
    /// back only if `validate()` passes.
    public func serializedBytes() -> [UInt8] {
        var out = Self.headerLine(version: version)
        out.reserveCapacity(events.count * 24 + 32)
        for event in events { event.appendLine(to: &out) }
        out += Self.endLine
        return out
    }

    public func serialized() -> String {
        String(decoding: serializedBytes(), as: UTF8.self)
    }

    /// Checks every rule of the format that an in-memory trace can break: ranges,
    /// paths, and the consistency rules (`specs/trace-format.md`, "Consistency").
    public func validate() throws(TraceFormatError) {
        guard TraceFormat.readableVersions.contains(version) else {
            throw TraceFormatError(
                kind: .unsupportedVersion, line: nil,
                message: "trace version \(version) is not one this tool writes (\(TraceFormat.readableVersions))")
        }
        var checker = TraceConsistency(version: version)
        for (index, event) in events.enumerated() {
            if let problem = checker.rangeProblem(event) ?? checker.apply(event) {
                throw TraceFormatError(
                    kind: problem.kind, line: nil, message: "event \(index + 1) ('\(event.line)'): \(problem.message)")
            }
        }
        if let problem = checker.finish() {
            throw TraceFormatError(kind: problem.kind, line: nil, message: problem.message)
        }
    }
}

// MARK: - Consistency

/// The rules that tie lines together, shared by the reader (which knows line
/// numbers) and `validate()` (which knows event indices).
struct TraceConsistency {
    struct Problem {
        var kind: TraceFormatError.Kind
        var message: String
    }

    /// Live threads: tid -> pid.
    var live: [Int32: Int32] = [:]
    /// Live threads per process.
    var threadCount: [Int32: Int] = [:]
    var started = false
    /// The trace's format version: version 1 has no system-call lines.
    var version = TraceFormat.version

    func inconsistent(_ message: String) -> Problem {
        Problem(kind: .inconsistent, message: message)
    }

    /// Ranges the type system does not enforce (the reader checks them while parsing).
    func rangeProblem(_ event: TraceEvent) -> Problem? {
        func badID(_ value: Int32, _ what: String) -> Problem? {
            value > 0
                ? nil : Problem(kind: .outOfRange, message: "\(what) \(value) is not a positive process or thread id")
        }
        func badPath(_ path: TracePath) -> Problem? {
            if path.bytes.isEmpty { return Problem(kind: .malformed, message: "the path is empty") }
            if path.bytes.contains(0) { return Problem(kind: .malformed, message: "the path contains a NUL byte") }
            return nil
        }
        switch event {
        case .start(let pid, let path):
            return badID(pid, "pid") ?? badPath(path)
        case .marker(let pid, let tid, let kind, _):
            if case .unknown(let value) = kind, TraceMarkerKind(rawValue: value).isKnown {
                return Problem(
                    kind: .malformed, message: "marker kind \(value) is known and must be written by its name")
            }
            return badID(pid, "pid") ?? badID(tid, "tid")
        case .systemCall(let pid, let tid, let abi, let nr, _):
            if let problem = systemCallProblem(abi: abi, number: nr) { return problem }
            return badID(pid, "pid") ?? badID(tid, "tid")
        case .fork(let a, let b, let c), .thread(let a, let b, let c):
            return badID(a, "pid") ?? badID(b, "tid") ?? badID(c, "new id")
        case .exec(let pid, let tid, let path):
            return badID(pid, "pid") ?? badID(tid, "tid") ?? badPath(path)
        case .exit(let pid, let tid, let status):
            if let problem = badID(pid, "pid") ?? badID(tid, "tid") { return problem }
            switch status {
            case .exited(let code) where !TraceFormat.exitCodes.contains(code):
                return Problem(kind: .outOfRange, message: "exit code \(code) is out of range (0...255)")
            case .killed(let signal) where !TraceFormat.signals.contains(signal):
                return Problem(kind: .outOfRange, message: "signal \(signal) is out of range (1...64)")
            default:
                return nil
            }
        }
    }

    mutating func add(_ tid: Int32, to pid: Int32) {
        live[tid] = pid
        threadCount[pid, default: 0] += 1
    }

    mutating func remove(_ tid: Int32) {
        guard let pid = live.removeValue(forKey: tid) else { return }
        threadCount[pid, default: 1] -= 1
        if threadCount[pid] == 0 { threadCount[pid] = nil }
    }

    /// A system-call line in a version-1 trace, or a 64-bit call 999, which is a marker.
    func systemCallProblem(abi: SystemCallABI, number: UInt64) -> Problem? {
        if version < 2 {
            return Problem(
                kind: .malformed,
                message: "system-call lines ('s', 's32') need trace version 2; this trace is version \(version)")
        }
        if abi == .x86_64, number == TraceFormat.markerNumber {
            return Problem(
                kind: .malformed,
                message: "system call \(number) of the 64-bit ABI is a marker: it is written as an 'm' line")
        }
        return nil
    }

    func requireLive(_ tid: Int32, in pid: Int32) -> Problem? {
        guard let owner = live[tid] else {
            return inconsistent("thread \(tid) does not exist here (it has not started, or has ended)")
        }
        guard owner == pid else {
            return inconsistent("thread \(tid) belongs to process \(owner), not \(pid)")
        }
        return nil
    }

    /// A new id must not name a live thread, nor a process that still has threads
    /// (the kernel keeps a process's id while any of its threads lives).
    func requireFree(_ id: Int32) -> Problem? {
        if let owner = live[id] { return inconsistent("id \(id) is in use by a live thread of process \(owner)") }
        if threadCount[id] != nil {
            return inconsistent("id \(id) is in use by process \(id), which still has threads")
        }
        return nil
    }

    mutating func apply(_ event: TraceEvent) -> Problem? {
        if case .start = event {
        } else if !started {
            return inconsistent("the first event must be 'start'")
        }
        switch event {
        case .start(let pid, _):
            if started { return inconsistent("a second 'start' (a trace has exactly one)") }
            started = true
            add(pid, to: pid)
        case .marker(let pid, let tid, _, _), .systemCall(let pid, let tid, _, _, _):
            return requireLive(tid, in: pid)
        case .fork(let parentPID, let parentTID, let childPID):
            if let problem = requireLive(parentTID, in: parentPID) ?? requireFree(childPID) { return problem }
            add(childPID, to: childPID)
        case .thread(let pid, let parentTID, let newTID):
            if let problem = requireLive(parentTID, in: pid) ?? requireFree(newTID) { return problem }
            add(newTID, to: pid)
        case .exec(let pid, let tid, _):
            if let problem = requireLive(tid, in: pid) { return problem }
            if threadCount[pid] != 1 {
                return inconsistent("process \(pid) still has other threads at its exec (each must have ended before)")
            }
            if tid != pid, live[pid] != nil {
                return inconsistent("thread \(pid) is live, but thread \(tid) takes its id at the exec")
            }
            remove(tid)
            add(pid, to: pid)
        case .exit(let pid, let tid, _):
            if let problem = requireLive(tid, in: pid) { return problem }
            remove(tid)
        }
        return nil
    }

    /// At `end`: every thread must have ended.
    func finish() -> Problem? {
        if !started { return inconsistent("the trace has no 'start' line") }
        guard !live.isEmpty else { return nil }
        let shown = live.keys.sorted().prefix(5).map { "\($0) (process \(live[$0] ?? 0))" }.joined(separator: ", ")
        return inconsistent("threads have not ended at 'end': \(shown)\(live.count > 5 ? ", ..." : "")")
    }
}

// MARK: - Reading

extension Trace {
    /// Parses trace text of version 1 or 2; a returned trace satisfies every rule,
    /// including the consistency rules, and has the file's version. Errors name the
    /// offending line.
    public static func parse(_ text: String) throws(TraceFormatError) -> Trace {
        try parse(bytes: Array(text.utf8))
    }

    public static func parse(bytes: [UInt8]) throws(TraceFormatError) -> Trace {
        var parser = TraceParser(bytes: bytes)
        return try parser.parseTrace()
    }
}

/// A single-pass reader over the bytes of a trace.
struct TraceParser {
    enum Syntax {
        static let header = "\(TraceFormat.magic) \(TraceFormat.version)"
        static let start = "start PID PATH"
        static let marker = "m PID TID KIND ID"
        static let systemCall = "s PID TID NR ARG"
        static let compatSystemCall = "s32 PID TID NR ARG"
        static let fork = "fork PARENT_PID PARENT_TID CHILD_PID"
        static let thread = "thread PID PARENT_TID NEW_TID"
        static let exec = "exec PID TID PATH"
        static let exit = "exit PID TID exited CODE|killed SIGNAL"
        static let end = "end"
    }

    var lexer: RecordLexer
    var bytes: [UInt8] { lexer.bytes }
    var lineNumber: Int { lexer.lineNumber }
    /// The header's version, once read.
    var version = TraceFormat.version

    init(bytes: [UInt8]) {
        lexer = RecordLexer(bytes: bytes)
    }

    func error(_ kind: TraceFormatError.Kind, _ line: Int, _ message: String) -> TraceFormatError {
        TraceFormatError(kind: kind, line: line, message: message)
    }

    /// The next record (not blank, not a comment) split into fields. The recorder
    /// writes whole lines, so a line without LF is a cut file, unless it is the
    /// complete `end` line.
    mutating func nextRecord() throws(TraceFormatError) -> (line: Int, fields: [Range<Int>])? {
        do throws(RecordLexError) {
            guard let record = try lexer.nextRecord(unterminatedAllowed: Array("end".utf8)) else { return nil }
            return (record.number, record.fields)
        } catch {
            throw lexError(error)
        }
    }

    func tokenize(_ range: Range<Int>) throws(TraceFormatError) -> [Range<Int>] {
        do throws(RecordLexError) {
            return try lexer.fields(range)
        } catch {
            throw lexError(error)
        }
    }

    /// The trace format's words for what the lexer found.
    func lexError(_ problem: RecordLexError) -> TraceFormatError {
        error(
            problem.problem == .unterminatedLine ? .truncated : .malformed, problem.line,
            problem.message(cut: "the trace", files: "traces", escaped: "paths"))
    }

    static func hex(_ byte: UInt8) -> String {
        RecordLexer.hex(byte)
    }

    /// A field as it may be quoted in a message: printable, cut short.
    func show(_ range: Range<Int>) -> String {
        lexer.show(range)
    }

    func equals(_ range: Range<Int>, _ word: String) -> Bool {
        lexer.equals(range, word)
    }

    /// Every number of a trace fits in 64 bits unsigned; fields narrow it by range.
    func number(_ range: Range<Int>) -> Result<UInt64, RecordNumberError> {
        lexer.decimal(range)
    }

    func ranged(_ range: Range<Int>, _ what: String, _ bounds: ClosedRange<UInt64>, line: Int) throws(TraceFormatError)
        -> UInt64
    {
        switch number(range) {
        case .success(let value) where bounds.contains(value):
            return value
        case .success, .failure(.overflow):
            throw error(
                .outOfRange, line,
                "\(what) \(show(range)) is out of range (\(bounds.lowerBound)...\(bounds.upperBound))")
        case .failure(.notDecimal):
            throw error(
                .malformed, line,
                "expected \(what) as a decimal number (digits only, no sign or leading zeros), found '\(show(range))'")
        }
    }

    func id(_ range: Range<Int>, _ what: String, line: Int) throws(TraceFormatError) -> Int32 {
        Int32(try ranged(range, what, 1...UInt64(Int32.max), line: line))
    }

    func kind(_ range: Range<Int>, line: Int) throws(TraceFormatError) -> TraceMarkerKind {
        for kind in MarkerKind.allCases where equals(range, kind.name) {
            return .known(kind)
        }
        let prefix = "kind-".utf8
        if bytes[range].starts(with: prefix) {
            let digits = range.lowerBound + prefix.count..<range.upperBound
            let value = try ranged(digits, "marker kind number", 0...UInt64.max, line: line)
            let kind = TraceMarkerKind(rawValue: value)
            if kind.isKnown {
                throw error(.malformed, line, "marker kind \(value) must be written by its name, '\(kind.name)'")
            }
            return kind
        }
        let names = MarkerKind.allCases.map(\.name).joined(separator: ", ")
        throw error(.malformed, line, "unknown marker kind '\(show(range))' (expected \(names) or kind-N)")
    }

    func path(_ range: Range<Int>, line: Int) throws(TraceFormatError) -> TracePath {
        do throws(PercentDecodingError) {
            return TracePath(bytes: try lexer.percentDecoded(range, rejectingNUL: true))
        } catch {
            switch error {
            case .invalidEscape(let escape):
                throw self.error(
                    .malformed, line, "invalid percent escape '\(show(escape))' in the path (a '%' is written %25)")
            case .unescaped(let i):
                throw self.error(
                    .malformed, line,
                    "'\(show(i..<i + 1))' in the path must be percent-encoded (as %\(Self.hex(bytes[i]).dropFirst(2)))")
            case .escapedNUL:
                throw self.error(.malformed, line, "the path contains a NUL byte (%00)")
            }
        }
    }

    func requireCount(_ fields: [Range<Int>], _ count: Int, _ syntax: String, line: Int) throws(TraceFormatError) {
        guard fields.count == count else {
            let problem = fields.count < count ? "too few fields" : "too many fields"
            throw error(.malformed, line, "malformed line (\(problem)): expected '\(syntax)'")
        }
    }

    mutating func parseHeader() throws(TraceFormatError) {
        guard let header = lexer.header(magic: TraceFormat.magic) else {
            throw error(.truncated, 1, "the file is empty (a trace starts with '\(Syntax.header)')")
        }
        let range = header.range
        if !header.terminated && lexer.isNonEmptyPrefix(range, of: Syntax.header) {
            throw error(.truncated, 1, "the trace is truncated: it ends in the middle of line 1")
        }
        guard header.hasMagic else {
            throw error(.malformed, 1, "not an sbx trace: line 1 must be '\(Syntax.header)', found '\(show(range))'")
        }
        // The version is judged first: a later version may change the rest.
        let versionStart = header.version.lowerBound
        let versionEnd = header.version.upperBound
        let readable = TraceFormat.readableVersions
        switch number(versionStart..<versionEnd) {
        case .success(let value) where value >= UInt64(readable.lowerBound) && value <= UInt64(readable.upperBound):
            version = Int(value)
        case .success, .failure(.overflow):
            throw error(
                .unsupportedVersion, 1,
                "unsupported trace version \(show(versionStart..<versionEnd)); this tool reads versions \(readable.lowerBound) to \(readable.upperBound)"
            )
        case .failure(.notDecimal):
            throw error(
                .malformed, 1, "the trace version must be a decimal number, found '\(show(versionStart..<versionEnd))'")
        }
        if !header.terminated {
            throw error(.truncated, 1, "the trace is truncated: it ends after line 1")
        }
        guard try tokenize(range).count == 2 else {
            throw error(.malformed, 1, "unexpected text after the version: expected '\(Syntax.header)'")
        }
    }

    mutating func parseTrace() throws(TraceFormatError) -> Trace {
        try parseHeader()
        var events: [TraceEvent] = []
        var checker = TraceConsistency(version: version)
        while true {
            guard let (line, fields) = try nextRecord() else {
                throw error(
                    .truncated, lineNumber + 1,
                    "the trace is incomplete: it has no 'end' line (the recorder was killed, or the file was cut)")
            }
            if equals(fields[0], "end") {
                try requireCount(fields, 1, Syntax.end, line: line)
                if let problem = checker.finish() { throw error(problem.kind, line, problem.message) }
                if let (extra, _) = try nextRecord() {
                    throw error(
                        .malformed, extra, "unexpected line after 'end' (only blank lines and comments may follow it)")
                }
                return Trace(events: events, version: version)
            }
            let event = try parseEvent(fields, line: line)
            if case .systemCall(_, _, let abi, let nr, _) = event,
                let problem = checker.systemCallProblem(abi: abi, number: nr)
            {
                throw error(problem.kind, line, problem.message)
            }
            if let problem = checker.apply(event) { throw error(problem.kind, line, problem.message) }
            events.append(event)
        }
    }

    func parseEvent(_ fields: [Range<Int>], line: Int) throws(TraceFormatError) -> TraceEvent {
        let keyword = fields[0]
        if equals(keyword, "m") {
            try requireCount(fields, 5, Syntax.marker, line: line)
            return .marker(
                pid: try id(fields[1], "pid", line: line), tid: try id(fields[2], "tid", line: line),
                kind: try kind(fields[3], line: line),
                id: try ranged(fields[4], "marker id", 0...UInt64.max, line: line))
        }
        let isCompat = equals(keyword, "s32")
        if isCompat || equals(keyword, "s") {
            try requireCount(fields, 5, isCompat ? Syntax.compatSystemCall : Syntax.systemCall, line: line)
            return .systemCall(
                pid: try id(fields[1], "pid", line: line), tid: try id(fields[2], "tid", line: line),
                abi: isCompat ? .ia32 : .x86_64,
                number: try ranged(fields[3], "system call number", 0...UInt64.max, line: line),
                argument: try ranged(fields[4], "system call argument", 0...UInt64.max, line: line))
        }
        if equals(keyword, "start") {
            try requireCount(fields, 3, Syntax.start, line: line)
            return .start(pid: try id(fields[1], "pid", line: line), path: try path(fields[2], line: line))
        }
        if equals(keyword, "fork") {
            try requireCount(fields, 4, Syntax.fork, line: line)
            return .fork(
                parentPID: try id(fields[1], "parent pid", line: line),
                parentTID: try id(fields[2], "parent tid", line: line),
                childPID: try id(fields[3], "child pid", line: line))
        }
        if equals(keyword, "thread") {
            try requireCount(fields, 4, Syntax.thread, line: line)
            return .thread(
                pid: try id(fields[1], "pid", line: line), parentTID: try id(fields[2], "parent tid", line: line),
                newTID: try id(fields[3], "new tid", line: line))
        }
        if equals(keyword, "exec") {
            try requireCount(fields, 4, Syntax.exec, line: line)
            return .exec(
                pid: try id(fields[1], "pid", line: line), tid: try id(fields[2], "tid", line: line),
                path: try path(fields[3], line: line))
        }
        if equals(keyword, "exit") {
            try requireCount(fields, 5, Syntax.exit, line: line)
            let pid = try id(fields[1], "pid", line: line)
            let tid = try id(fields[2], "tid", line: line)
            let status: Termination
            if equals(fields[3], "exited") {
                status = .exited(Int32(try ranged(fields[4], "exit code", 0...255, line: line)))
            } else if equals(fields[3], "killed") {
                status = .killed(signal: Int32(try ranged(fields[4], "signal", 1...64, line: line)))
            } else {
                throw error(
                    .malformed, line,
                    "expected 'exited' or 'killed' in field 4 of '\(Syntax.exit)', found '\(show(fields[3]))'")
            }
            return .exit(pid: pid, tid: tid, status: status)
        }
        throw error(
            .malformed, line,
            "unknown record '\(show(keyword))' (expected m, s, s32, start, fork, thread, exec, exit or end)")
    }
}
