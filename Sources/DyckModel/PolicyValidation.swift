/// Hard limits on the size of a policy. The parser checks every declared count against
/// these before it allocates anything for that table, and `Policy.validate()` checks
/// them on in-memory policies, so that every policy this library writes can be read
/// back. The kernel's blob loader may impose smaller limits of its own.
public enum PolicyLimits {
    public static let maxSymbols = 1 << 20
    public static let maxFunctions = 1 << 20
    public static let maxStatesPerFunction = 1 << 24
    public static let maxEdgesPerFunction = 1 << 24
    public static let maxSites = 1 << 22
    public static let maxTotalStates = 1 << 26
    public static let maxTotalEdges = 1 << 26
    /// Callee entries summed over all call sites.
    public static let maxTotalCallees = 1 << 26
    /// Source locations summed over functions, edges and sites.
    public static let maxTotalLocations = 1 << 26
    /// Bytes of one name (module, symbol, function, source file) as UTF-8, before
    /// percent-encoding: enough for long C++ mangled names and PATH_MAX file names.
    public static let maxNameBytes = 65535
    /// DWARF line numbers are unsigned 32-bit; 0 means "unknown line".
    public static let maxSourceLine = Int(UInt32.max)
    /// System-call sets of a policy (`SystemCallBinding.sets`). The sets are
    /// distinct, so a binding needs at most one per symbol plus the empty, start and
    /// ambient sets; the kernel's blob loader allows far fewer.
    public static let maxSystemCallSets = 1 << 21
    /// Size of a policy file `Policy.load(path:)` will read.
    public static let maxFileBytes = 1 << 30
}

/// The part of a policy a validation problem is about. The parser maps it back to the
/// line that holds that part; in-memory validation spells it out in the message.
enum PolicySubject: Equatable {
    case policy
    case module
    case entry
    case symbol(Int)
    case function(Int)
    case finals(function: Int)
    case edge(function: Int, index: Int)
    case site(Int)
    case callback(Int)
    /// The `syscall-sets` line: the binding as a whole.
    case systemCallSets
    case systemCallSet(Int)
    /// The `symbol-sets` line.
    case symbolSets
    case symbolSet(Int)
    case startWindow
    case ambientWindow
}

struct PolicyViolation {
    var subject: PolicySubject
    var kind: PolicyFormatError.Kind
    var message: String
}

private func fail(_ subject: PolicySubject, _ kind: PolicyFormatError.Kind, _ message: String) -> PolicyViolation {
    PolicyViolation(subject: subject, kind: kind, message: message)
}

/// Source locations counted over the whole policy (functions, then edges, then sites,
/// in file order) against `PolicyLimits.maxTotalLocations`; passed between the check
/// groups of `firstViolation`.
private struct LocationBudget {
    var used = 0

    /// A violation if the location is unusable or one too many; counts it.
    mutating func check(_ location: SourceLocation, of subject: PolicySubject) -> PolicyViolation? {
        used += 1
        if used > PolicyLimits.maxTotalLocations {
            return fail(
                subject, .capExceeded, "more than \(PolicyLimits.maxTotalLocations) source locations in the policy")
        }
        if location.line < 0 || location.line > PolicyLimits.maxSourceLine {
            return fail(
                subject, .outOfRange,
                "source line \(location.line) is out of range (0...\(PolicyLimits.maxSourceLine))")
        }
        if location.file.utf8.count > PolicyLimits.maxNameBytes {
            return fail(
                subject, .capExceeded,
                "source file name is \(location.file.utf8.count) bytes long; the cap is \(PolicyLimits.maxNameBytes)"
            )
        }
        return nil
    }
}

/// States and edges summed over the functions so far, against the policy-wide caps.
private struct AutomatonTotals {
    var states = 0
    var edges = 0
}

private struct EdgeKey: Hashable {
    var from: Int
    var label: Label
    var to: Int
}

/// "(functions: 0..<4)": the valid range of an index, as error messages print it.
func validRange(_ what: String, _ count: Int) -> String {
    count > 0 ? "(\(what): 0..<\(count))" : "(\(what): none)"
}

extension Policy {
    /// Checks every index, size and consistency rule of `specs/policy-format.md` and
    /// throws the first violation in file order. Errors carry no line number; the
    /// message names the offending part (e.g. "site 3: out-of-range callee index 9
    /// (functions: 0..<4)").
    public func validate() throws(PolicyFormatError) {
        if let violation = firstViolation() {
            throw PolicyFormatError(
                kind: violation.kind, line: nil,
                message: "\(describe(violation.subject)): \(violation.message)")
        }
    }

    func describe(_ subject: PolicySubject) -> String {
        func function(_ f: Int) -> String {
            guard f >= 0, f < functions.count else { return "function \(f)" }
            return "function \(f) '\(displayName(functions[f].name))'"
        }
        switch subject {
        case .policy: return "policy"
        case .module: return "module name"
        case .entry: return "entry"
        case .symbol(let i): return "symbol \(i)"
        case .function(let f): return function(f)
        case .finals(let f): return "\(function(f)), final states"
        case .edge(let f, let e):
            guard f >= 0, f < functions.count, e >= 0, e < functions[f].automaton.edges.count else {
                return "\(function(f)), edge \(e)"
            }
            let edge = functions[f].automaton.edges[e]
            return "\(function(f)), edge \(edge.from) -> \(edge.to) \(labelText(edge.label))"
        case .site(let s): return "site \(s)"
        case .callback(let i): return "callback \(i)"
        case .systemCallSets: return "system-call sets"
        case .systemCallSet(let i): return "system-call set \(i)"
        case .symbolSets: return "symbol sets"
        case .symbolSet(let i):
            guard i >= 0, i < symbols.count else { return "symbol set \(i)" }
            return "symbol set \(i) '\(displayName(symbols[i]))'"
        case .startWindow: return "start window"
        case .ambientWindow: return "ambient window"
        }
    }

    /// The first violated rule, in the order the parts appear in a policy file, so
    /// that the parser reports the earliest offending line. One method per group of
    /// checks, in file order; the location budget runs through functions, edges and
    /// sites.
    func firstViolation() -> PolicyViolation? {
        if let violation = firstViolationOfHeader() { return violation }
        if let violation = firstViolationOfSymbols() { return violation }
        var locations = LocationBudget()
        if let violation = firstViolationOfFunctions(locations: &locations) { return violation }
        if let violation = firstViolationOfSites(locations: &locations) { return violation }
        if let violation = firstViolationOfCallbacks() { return violation }
        if let binding = syscalls, let violation = firstViolation(of: binding) {
            return violation
        }
        return nil
    }

    /// Table sizes first, since every later loop is bounded by them; then the module
    /// name and the entry.
    private func firstViolationOfHeader() -> PolicyViolation? {
        if symbols.count > PolicyLimits.maxSymbols {
            return fail(.policy, .capExceeded, "\(symbols.count) symbols exceed the cap of \(PolicyLimits.maxSymbols)")
        }
        if functions.count > PolicyLimits.maxFunctions {
            return fail(
                .policy, .capExceeded, "\(functions.count) functions exceed the cap of \(PolicyLimits.maxFunctions)")
        }
        if sites.count > PolicyLimits.maxSites {
            return fail(.policy, .capExceeded, "\(sites.count) call sites exceed the cap of \(PolicyLimits.maxSites)")
        }
        if callbacks.count > PolicyLimits.maxFunctions {
            return fail(
                .policy, .capExceeded, "\(callbacks.count) callbacks exceed the cap of \(PolicyLimits.maxFunctions)")
        }

        if module.utf8.count > PolicyLimits.maxNameBytes {
            return fail(
                .module, .capExceeded,
                "name is \(module.utf8.count) bytes long; the cap is \(PolicyLimits.maxNameBytes)")
        }
        guard entry >= 0, entry < functions.count else {
            return fail(
                .entry, .outOfRange, "out-of-range entry index \(entry) \(validRange("functions", functions.count))")
        }
        return nil
    }

    /// Names compare as Swift strings (Unicode canonical equivalence), which is
    /// stricter than byte equality: two names that print alike are rejected too.
    private func firstViolationOfSymbols() -> PolicyViolation? {
        var symbolIndex: [String: Int] = [:]
        symbolIndex.reserveCapacity(symbols.count)
        for (i, name) in symbols.enumerated() {
            if name.isEmpty { return fail(.symbol(i), .malformed, "symbol name is empty") }
            if name.utf8.count > PolicyLimits.maxNameBytes {
                return fail(
                    .symbol(i), .capExceeded,
                    "symbol name is \(name.utf8.count) bytes long; the cap is \(PolicyLimits.maxNameBytes)")
            }
            if let other = symbolIndex[name] {
                return fail(
                    .symbol(i), .duplicate, "duplicate symbol name '\(displayName(name))' (also symbol \(other))")
            }
            symbolIndex[name] = i
        }
        return nil
    }

    private func firstViolationOfFunctions(locations: inout LocationBudget) -> PolicyViolation? {
        var functionIndex: [String: Int] = [:]
        functionIndex.reserveCapacity(functions.count)
        var totals = AutomatonTotals()
        // One set reused for every function's edges, to keep its storage.
        var seenEdges = Set<EdgeKey>()
        for (f, function) in functions.enumerated() {
            let name = function.name
            if name.isEmpty { return fail(.function(f), .malformed, "function name is empty") }
            if name.utf8.count > PolicyLimits.maxNameBytes {
                return fail(
                    .function(f), .capExceeded,
                    "function name is \(name.utf8.count) bytes long; the cap is \(PolicyLimits.maxNameBytes)")
            }
            if let other = functionIndex[name] {
                return fail(
                    .function(f), .duplicate, "duplicate function name '\(displayName(name))' (also function \(other))")
            }
            functionIndex[name] = f
            if let location = function.location, let problem = locations.check(location, of: .function(f)) {
                return problem
            }
            if let violation = firstViolation(ofAutomatonOf: f, totals: &totals) { return violation }
            seenEdges.removeAll(keepingCapacity: true)
            for (e, edge) in function.automaton.edges.enumerated() {
                if let violation = firstViolation(
                    ofEdge: edge, index: e, function: f, seen: &seenEdges, locations: &locations)
                {
                    return violation
                }
            }
        }
        return nil
    }

    /// Function `f`'s automaton as a whole: its sizes, counted into `totals`, its
    /// initial and final states.
    private func firstViolation(ofAutomatonOf f: Int, totals: inout AutomatonTotals) -> PolicyViolation? {
        let automaton = functions[f].automaton
        let states = automaton.stateCount
        if states < 1 {
            return fail(
                .function(f), .outOfRange,
                "state count \(states) is out of range (a function has at least one state)")
        }
        if states > PolicyLimits.maxStatesPerFunction {
            return fail(
                .function(f), .capExceeded,
                "state count \(states) exceeds the cap of \(PolicyLimits.maxStatesPerFunction)")
        }
        totals.states += states
        if totals.states > PolicyLimits.maxTotalStates {
            return fail(
                .function(f), .capExceeded,
                "the policy has more than \(PolicyLimits.maxTotalStates) states in total")
        }
        if automaton.edges.count > PolicyLimits.maxEdgesPerFunction {
            return fail(
                .function(f), .capExceeded,
                "edge count \(automaton.edges.count) exceeds the cap of \(PolicyLimits.maxEdgesPerFunction)")
        }
        totals.edges += automaton.edges.count
        if totals.edges > PolicyLimits.maxTotalEdges {
            return fail(
                .function(f), .capExceeded, "the policy has more than \(PolicyLimits.maxTotalEdges) edges in total")
        }
        if automaton.initial < 0 || automaton.initial >= states {
            return fail(
                .function(f), .outOfRange,
                "out-of-range initial state \(automaton.initial) \(validRange("states", states))")
        }
        // Sorted, so that the reported state does not depend on hashing.
        if let bad = automaton.finals.sorted().first(where: { $0 < 0 || $0 >= states }) {
            return fail(
                .finals(function: f), .outOfRange, "out-of-range final state \(bad) \(validRange("states", states))"
            )
        }
        return nil
    }

    /// Edge `e` of function `f`, whose state count is already known valid.
    private func firstViolation(
        ofEdge edge: Edge, index e: Int, function f: Int, seen seenEdges: inout Set<EdgeKey>,
        locations: inout LocationBudget
    ) -> PolicyViolation? {
        let states = functions[f].automaton.stateCount
        let subject = PolicySubject.edge(function: f, index: e)
        if edge.from < 0 || edge.from >= states {
            return fail(
                subject, .outOfRange, "out-of-range source state \(edge.from) \(validRange("states", states))")
        }
        if edge.to < 0 || edge.to >= states {
            return fail(
                subject, .outOfRange, "out-of-range target state \(edge.to) \(validRange("states", states))")
        }
        switch edge.label {
        case .libc(let symbol):
            if symbol < 0 || symbol >= symbols.count {
                return fail(
                    subject, .outOfRange,
                    "out-of-range symbol index \(symbol) \(validRange("symbols", symbols.count))")
            }
        case .call(let site):
            if kind == .nfa {
                return fail(
                    subject, .inconsistent,
                    "call edge in a policy of kind nfa (a flattened policy has no call edges)")
            }
            if site < 0 || site >= sites.count {
                return fail(
                    subject, .outOfRange,
                    "out-of-range call site index \(site) \(validRange("sites", sites.count))")
            }
        // Any function's automaton may hold a site's call edge: the caller's, and
        // those of the functions its automaton was inlined into (analysis.md,
        // "Inlining small callees").
        }
        if !seenEdges.insert(EdgeKey(from: edge.from, label: edge.label, to: edge.to)).inserted {
            return fail(
                subject, .duplicate,
                "duplicate edge \(edge.from) -> \(edge.to) \(labelText(edge.label)) (merge the two and join their locations)"
            )
        }
        for location in edge.locations {
            if let problem = locations.check(location, of: subject) { return problem }
        }
        return nil
    }

    private func firstViolationOfSites(locations: inout LocationBudget) -> PolicyViolation? {
        var totalCallees = 0
        var seenCallees = Set<Int>()
        for (s, site) in sites.enumerated() {
            if kind == .nfa {
                return fail(
                    .site(s), .inconsistent, "call site in a policy of kind nfa (a flattened policy has no call sites)")
            }
            if site.caller < 0 || site.caller >= functions.count {
                return fail(
                    .site(s), .outOfRange,
                    "out-of-range caller index \(site.caller) \(validRange("functions", functions.count))")
            }
            if site.callees.isEmpty {
                return fail(.site(s), .inconsistent, "call site has no callees")
            }
            if !site.indirect && site.callees.count != 1 {
                return fail(
                    .site(s), .inconsistent,
                    "direct call site has \(site.callees.count) callees (a direct call has exactly one)")
            }
            totalCallees += site.callees.count
            if totalCallees > PolicyLimits.maxTotalCallees {
                return fail(
                    .site(s), .capExceeded, "more than \(PolicyLimits.maxTotalCallees) callees over all call sites")
            }
            seenCallees.removeAll(keepingCapacity: true)
            for callee in site.callees {
                if callee < 0 || callee >= functions.count {
                    return fail(
                        .site(s), .outOfRange,
                        "out-of-range callee index \(callee) \(validRange("functions", functions.count))")
                }
                if !seenCallees.insert(callee).inserted {
                    return fail(.site(s), .duplicate, "callee \(callee) is listed twice")
                }
            }
            if let location = site.location, let problem = locations.check(location, of: .site(s)) {
                return problem
            }
        }
        return nil
    }

    private func firstViolationOfCallbacks() -> PolicyViolation? {
        var seenCallbacks = Set<Int>()
        for (i, callback) in callbacks.enumerated() {
            if callback < 0 || callback >= functions.count {
                return fail(
                    .callback(i), .outOfRange,
                    "out-of-range callback index \(callback) \(validRange("functions", functions.count))")
            }
            if !seenCallbacks.insert(callback).inserted {
                return fail(.callback(i), .duplicate, "function \(callback) is listed as a callback twice")
            }
        }
        return nil
    }

    /// The rules of the system-call sets (version 2), in file order. Runs after the
    /// rest of the policy is known valid, so `symbols` is within its cap.
    private func firstViolation(of binding: SystemCallBinding) -> PolicyViolation? {
        let sets = binding.sets
        if sets.count > PolicyLimits.maxSystemCallSets {
            return fail(
                .systemCallSets, .capExceeded,
                "\(sets.count) system-call sets exceed the cap of \(PolicyLimits.maxSystemCallSets)")
        }
        if sets.isEmpty {
            return fail(.systemCallSets, .inconsistent, "no system-call sets (set 0, the empty set, is required)")
        }
        var seenSets: [SystemCallSet: Int] = [:]
        seenSets.reserveCapacity(sets.count)
        for (i, set) in sets.enumerated() {
            var previous = -1
            for number in set.numbers {
                if number < 0 || number > SystemCallSet.maximumNumber {
                    return fail(
                        .systemCallSet(i), .outOfRange,
                        "system-call number \(number) is out of range (0...\(SystemCallSet.maximumNumber))")
                }
                if number == previous {
                    return fail(.systemCallSet(i), .duplicate, "system-call number \(number) is listed twice")
                }
                if number < previous {
                    return fail(
                        .systemCallSet(i), .malformed,
                        "system-call numbers are not in ascending order (\(number) after \(previous))")
                }
                previous = number
            }
            if i == 0 && set != .empty {
                return fail(
                    .systemCallSet(0), .inconsistent,
                    "set 0 must be the empty set without 'exec' or 'write' (the window of program code)")
            }
            if let other = seenSets[set] {
                return fail(.systemCallSet(i), .duplicate, "the same set as set \(other) (sets are distinct)")
            }
            seenSets[set] = i
        }
        if binding.symbolSets.count != symbols.count {
            return fail(
                .symbolSets, .inconsistent,
                "\(binding.symbolSets.count) symbol sets for \(symbols.count) symbols (one per symbol)")
        }
        for (i, set) in binding.symbolSets.enumerated() where set < 0 || set >= sets.count {
            return fail(
                .symbolSet(i), .outOfRange,
                "out-of-range system-call set index \(set) \(validRange("sets", sets.count))")
        }
        if binding.startSet < 0 || binding.startSet >= sets.count {
            return fail(
                .startWindow, .outOfRange,
                "out-of-range system-call set index \(binding.startSet) \(validRange("sets", sets.count))")
        }
        if binding.ambientSet < 0 || binding.ambientSet >= sets.count {
            return fail(
                .ambientWindow, .outOfRange,
                "out-of-range system-call set index \(binding.ambientSet) \(validRange("sets", sets.count))")
        }
        if sets[binding.ambientSet].mapsExecutable {
            return fail(
                .ambientWindow, .inconsistent,
                "the ambient set \(binding.ambientSet) has 'exec' (executable mappings are allowed only in a window's own set)"
            )
        }
        if sets[binding.ambientSet].opensForWriting {
            return fail(
                .ambientWindow, .inconsistent,
                "the ambient set \(binding.ambientSet) has 'write' (opening for writing is allowed only in a window's own set)"
            )
        }
        return nil
    }
}

func labelText(_ label: Label) -> String {
    switch label {
    case .libc(let symbol): return "libc \(symbol)"
    case .call(let site): return "call \(site)"
    }
}

/// A name as it appears in a policy file (percent-encoded) and cut short: safe to put
/// in a one-line message whatever bytes the name holds.
func displayName(_ name: String) -> String {
    let encoded = PolicyNameCoding.encode(name)
    guard encoded.utf8.count > 80 else { return encoded }
    return String(encoded.prefix(80)) + "..."
}
