import CLLVM
import DyckModel
import LibcSyscalls
#if canImport(Glibc)
import Glibc
#endif

public struct AnalysisOptions: Sendable {
    /// Where the C library's files are (a `.so.6`, an `.a`, or the `libc.so` linker
    /// script); `nil` finds the system's C library.
    public var libcPath: String? = nil
    /// The function where a run starts.
    public var entry: String = "main"
    /// Which libc calls are events; by default those derived silent
    /// (`LibcSyscallTable.isSilent`) are ε.
    public var libcEvents: LibcEventSelection = .effectful
    /// The dynamic loader analysed with libc (`nil`: /lib64/ld-linux-x86-64.so.2).
    public var loaderPath: String? = nil
    /// K of "Inlining small callees" (`Inlining.swift`, specs/analysis.md): a direct
    /// call site whose callee's automaton, after its own inlining, has at most this many
    /// states and no call edge left is spliced into the caller and gets no site. 0 (the
    /// library's default) inlines nothing; `dyck-gen`/`dyck-cc` pass their own default.
    public var inlineLimit: Int = 0
    /// Progress of a cold analysis of the C library (seconds; cached afterwards).
    public var progress: (@Sendable (String) -> Void)? = nil

    public init(
        libcPath: String? = nil, entry: String = "main", libcEvents: LibcEventSelection = .effectful,
        loaderPath: String? = nil
    ) {
        self.libcPath = libcPath
        self.entry = entry
        self.libcEvents = libcEvents
        self.loaderPath = loaderPath
    }
}

public struct AnalysisResult: Sendable {
    public var policy: Policy
    /// In the order they arose.
    public var warnings: [Finding]

    public init(policy: Policy, warnings: [Finding]) {
        self.policy = policy
        self.warnings = warnings
    }
}

/// A call instruction, named so that it can be found again in the module: the index of
/// its function among the defined functions and its position among all instructions of
/// that function (blocks in layout order, counting from 0). The positions are those of
/// the module as analysed, before any instruction is inserted.
public struct CallKey: Hashable, Comparable, Sendable {
    public var function: Int
    public var instruction: Int

    public init(function: Int, instruction: Int) {
        self.function = function
        self.instruction = instruction
    }

    public static func < (a: CallKey, b: CallKey) -> Bool {
        (a.function, a.instruction) < (b.function, b.instruction)
    }
}

/// A libc function a call may run: its symbol id and its declaration in the module
/// (for an indirect call, the value the called pointer is compared with).
public struct LibcTarget {
    public var symbol: Int
    public var declaration: LLVMValueRef
}

/// The policy events of one call instruction: what the markers around it must say.
public struct CallEvents {
    public var instruction: LLVMValueRef
    /// The call-site id (label `.call(site)`) when the call is instrumented as a site.
    public var site: Int?
    /// The libc functions the call may run: exactly one for a direct libc call; for an
    /// indirect call, the address-taken libc functions of its candidate set.
    public var libc: [LibcTarget]
    public var indirect: Bool
    /// The automaton also lets the call pass without any event (an ε edge beside the
    /// others): some candidate of this indirect call makes no marker. Always false for
    /// direct calls.
    public var mayBeSilent: Bool
    /// For an indirect call: the candidates that make no marker (ε libc functions,
    /// other external functions, defined functions that cannot reach libc). When the
    /// call is also a site, the instrumentation must not wrap a call of one of these in
    /// the site's markers: the callee would enter no automaton of the site and its
    /// return would be refused.
    public var unmarked: [LLVMValueRef] = []
}

/// How the entry function's returns reach libc's `exit`: returning from the entry (the
/// function `__libc_start_main` calls) runs `exit` with its value, whose atexit
/// handlers, stdio flush and `exit_group` must run in `exit`'s window. Each `ret` in
/// `returns` is preceded in the automaton by a libc edge `exit` to a final state, and
/// the instrumentation places `LIBC(symbol)` just before it.
public struct EntryExit {
    /// The symbol id of `exit`.
    public var symbol: Int
    /// The entry's `ret` instructions that a run can reach, in module order; a `ret`
    /// right after a `musttail` call is not among them (nothing may come between).
    public var returns: [LLVMValueRef]
}

/// Everything the analysis found, with handles into the module for instrumentation.
/// The handles are valid while the `IRModule` lives.
public struct ModuleAnalysis {
    public var result: AnalysisResult
    /// The defined functions, by function index (the policy's function order).
    public var functions: [LLVMValueRef]
    /// Every call instruction that has a policy event (libc call or instrumented site).
    /// Calls that are ε (intrinsics, inline asm, pruned calls, unknown externals) are absent.
    public var calls: [CallKey: CallEvents]
    /// nil when the entry function cannot return.
    public var entryExit: EntryExit?
    /// How many sites inlining removed (`AnalysisOptions.inlineLimit`).
    public var inlinedSites = 0
}

/// Reads textual IR or bitcode from `path` and derives its Dyck policy.
public func analyzeIR(atPath path: String, options: AnalysisOptions = AnalysisOptions()) throws -> AnalysisResult {
    // The libc set is checked first: without it no input can be analysed, and its error
    // is the one the user has to fix.
    _ = try LibcSymbols.load(path: options.libcPath)
    let module = try IRModule(contentsOf: path)
    return try analyzeModule(module, options: options).result
}

/// Derives the Dyck policy of an already parsed module.
///
/// Rules, as implemented:
///
/// - **Functions.** One automaton per defined function, in module order; the function
///   index is the position among defined functions. `available_externally` bodies count
///   as declarations: they are discarded at code generation, so a call to them runs the
///   external symbol (glibc's `extern inline` wrappers at -O2, e.g. `atof`).
/// - **Automaton.** The CFG projected onto events: a state at each block entry, a new
///   state after each call with an event; terminators give ε edges to every successor
///   block; `ret` makes the current state final; `unreachable` and `resume` leave it a
///   dead end. An `invoke` is its call followed by ε to both destinations. The result
///   is `EpsilonNFA.reduced()`.
/// - **Callee resolution.** The called operand with pointer casts (`bitcast`,
///   `addrspacecast` constant expressions) and global aliases stripped. Inline asm
///   (including `callbr`) is ε. A function with an intrinsic id or a name starting with
///   `llvm.` is ε. A declared function whose name is in `LibcSymbols` gives a `.libc`
///   edge. Any other declared function gives ε and one warning per name.
/// - **Address-taken.** A function (defined or declared) is address-taken when it has a
///   use other than as the called operand of a call/invoke/callbr, looking through
///   aliases and pointer-cast constant expressions, and ignoring constants that have no
///   users (dead constants left behind by the parser).
/// - **Confined.** An address-taken function whose address only goes into confined
///   globals that do not leak, or into comparisons (`ConfinedGlobals.swift`,
///   specs/analysis.md "Confined globals"); the others are *escaping*.
/// - **Indirect calls.** The candidates of a call whose callee is loaded from a confined
///   global that does not leak are the global's functions, plus the type-based
///   candidates below unless the global is closed. The candidates of any other call
///   whose callee does not resolve to a function are the escaping functions whose
///   value type is identical
///   (`LLVMTypeRef` equality, types being uniqued per context) to the call's function
///   type (`LLVMGetCalledFunctionType`). If no escaping function at all has that
///   type, the candidates are all escaping functions and a warning is given (also
///   when there is no escaping function, then the call is ε). Among the
///   candidates: defined functions that reach libc become the site's callees; libc
///   declarations become parallel `.libc` edges from the same state; other declarations
///   (silent libc functions included) and defined functions that cannot reach libc are
///   ε (unknown declarations warned once per name). From the state before the call
///   there is thus a `.call(site)` edge if the call has a site, one `.libc` edge per
///   libc candidate, and an ε edge if some candidate makes no marker. All go to the same
///   state. This assumes the instrumentation dispatches on the called pointer at a mixed
///   call: a libc candidate's marker when it equals that declaration, no marker when it
///   equals a candidate without one (`CallEvents.unmarked`), the site's markers
///   otherwise, a callback's thunk being bypassed (the callback itself is called).
/// - **Sites.** A function *reaches libc* when it has a libc edge or a call (direct, or
///   indirect through any candidate) to a function that reaches libc; computed as a
///   least fixpoint by a backward search, so recursion terminates. A call instruction
///   gets a site id and a `.call` edge iff one of its defined callees reaches libc;
///   otherwise it is ε. Ids follow function order, then instruction order.
///   `CallSite.callees` lists the defined candidates that reach libc, sorted;
///   `indirect` marks indirect calls.
/// - **Return from the entry.** Every `ret` of the entry function that a path from its
///   first block reaches (through the CFG) goes through a `.libc` edge `exit` to a
///   final state instead of being final itself: returning from `main` runs libc's
///   `exit`. A `ret` right after a `musttail` call stays final, with a warning (no
///   marker can go between them). The rule holds for every `ret` of the entry, also
///   when the program calls the entry itself (then the return runs no `exit`, but its
///   `LIBC(exit)` marker is still placed: the automaton and the markers agree, and
///   only the window is wider than needed until the next marker). The entry then
///   reaches libc, so calls of it are sites.
/// - **Symbols.** The libc names that label some edge, sorted by name; id = index.
/// - **Callbacks.** The escaping defined functions that reach libc, other than
///   the entry; sorted by index. Where an address goes cannot be followed (static
///   initializers, wrappers, memcpy), so any escaping function may be run by libc;
///   one that cannot reach libc makes no marker and needs no thunk.
/// - **Locations.** From the instruction's debug location when it has one: on `.libc`
///   edges and on `CallSite.location`. A function's location is its subprogram's.
///
/// Time and memory are linear in the size of the module plus the size of the output
/// (an indirect site lists all its candidates).
public func analyzeModule(_ module: IRModule, options: AnalysisOptions = AnalysisOptions()) throws -> ModuleAnalysis {
    let libc = try LibcSymbols.load(path: options.libcPath)
    let syscalls = try libcSystemCalls(libc, options: options)
    var analyzer = Analyzer(module: module, libc: libc, syscalls: syscalls, options: options)
    var analysis = try analyzer.run()
    if options.inlineLimit > 0 { inlineSmallCallees(&analysis, limit: options.inlineLimit) }
    return analysis
}

// MARK: - Implementation

private struct CallRecord {
    enum Target {
        case libc(name: String, declaration: LLVMValueRef)
        case defined(Int)
        case indirect(bucket: Int)
    }

    var function: Int
    var ordinal: Int
    var instruction: LLVMValueRef
    var location: SourceLocation?
    var target: Target
}

private struct Block {
    var events: [Int] = []  // indices into `records`
    var returns = false
    /// The block's `ret`, when `returns`.
    var returnInstruction: LLVMValueRef? = nil
    /// The `ret` follows a `musttail` call.
    var returnsAfterMusttail = false
    var successors: [Int] = []
}

/// The candidates of an indirect call: the address-taken functions of one function
/// type (or of all types, for the fallback), or those a confined global holds.
private struct Bucket {
    var defined: [Int] = []
    var libc: [(name: String, declaration: LLVMValueRef)] = []
    var external: [String] = []
    /// The declarations a call needs no marker for: those of `external` and the ε libc
    /// functions (`SilentLibc`).
    var unmarked: [LLVMValueRef] = []

    /// Adds a member that is not in the bucket yet.
    mutating func add(_ member: BucketMember) {
        switch member {
        case let .defined(f): defined.append(f)
        case let .libc(name, declaration): libc.append((name, declaration))
        case let .unmarked(declaration): unmarked.append(declaration)
        case let .external(name, declaration):
            external.append(name)
            unmarked.append(declaration)
        }
    }
}

private enum BucketMember {
    case defined(Int)
    case libc(name: String, declaration: LLVMValueRef)
    /// A silent libc function.
    case unmarked(LLVMValueRef)
    /// A declaration that is not libc.
    case external(name: String, declaration: LLVMValueRef)
}

private struct GlobalBucketKey: Hashable {
    var global: LLVMValueRef
    var base: Int?
}

private struct Analyzer {
    let module: IRModule
    let libc: LibcSymbols
    let syscalls: LibcSyscallTable
    let options: AnalysisOptions
    let moduleName: String

    var functions: [LLVMValueRef] = []
    var index: [LLVMValueRef: Int] = [:]
    var records: [CallRecord] = []
    var blocks: [[Block]] = []
    var warnings: [Finding] = []
    var warnedNames = Set<String>()
    var buckets: [Bucket] = []
    var bucketOfType: [LLVMTypeRef: Int] = [:]
    var fallbackBucket: Int? = nil
    var addressTaken: [Int] = []
    var globals: [LLVMValueRef: GlobalFunctionFlow] = [:]
    /// Buckets of calls through a confined global: the global's functions, plus those of
    /// the type bucket (`base`) when the global is not closed.
    var bucketOfGlobal: [GlobalBucketKey: Int] = [:]

    init(module: IRModule, libc: LibcSymbols, syscalls: LibcSyscallTable, options: AnalysisOptions) {
        self.module = module
        self.libc = libc
        self.syscalls = syscalls
        self.options = options
        self.moduleName = module.baseName
    }

    mutating func run() throws -> ModuleAnalysis {
        let entry = try collectFunctions()
        computeAddressTaken()
        for (i, f) in functions.enumerated() { scan(f, i) }

        let exitBlocks = exitingBlocks(of: entry)
        let reach = Reach(
            entry: entry, exitBlocks: exitBlocks,
            reaches: reachability(entryExits: exitBlocks.isEmpty ? nil : entry))
        let callbacks = addressTaken.filter { reach.reaches[$0] && $0 != entry }
        let symbols = symbolTable(exits: !exitBlocks.isEmpty)
        let sites = siteTable(reaches: reach.reaches)

        var policyFunctions: [PolicyFunction] = []
        policyFunctions.reserveCapacity(functions.count)
        var calls: [CallKey: CallEvents] = [:]
        for i in functions.indices {
            policyFunctions.append(policyFunction(i, reach: reach, symbols: symbols, sites: sites, calls: &calls))
        }

        let policy = Policy(
            kind: .dyck, module: moduleName, symbols: symbols.names, functions: policyFunctions, sites: sites.sites,
            entry: entry, callbacks: callbacks, syscalls: systemCallBinding(symbols.names))
        let entryExit = symbols.id[exitSymbol].flatMap { symbol in
            exitBlocks.isEmpty
                ? nil
                : EntryExit(
                    symbol: symbol, returns: exitBlocks.sorted().compactMap { blocks[entry][$0].returnInstruction })
        }
        return ModuleAnalysis(
            result: AnalysisResult(policy: policy, warnings: warnings), functions: functions, calls: calls,
            entryExit: entryExit)
    }

    /// What reachability decided, passed from `run` to the automaton of each function.
    private struct Reach {
        var entry: Int
        /// The entry's blocks whose `ret` goes through `exit` (`exitingBlocks`).
        var exitBlocks: Set<Int>
        /// Per function, then per bucket (`functions.count + bucket`): whether it may
        /// reach a libc event (`reachability`).
        var reaches: [Bool]
    }

    /// The policy's symbols: sorted names and their ids.
    private struct SymbolTable {
        var names: [String]
        var id: [String: Int]
    }

    /// The policy's call sites and, per record, its site if it is one.
    private struct SiteTable {
        var sites: [CallSite]
        var ofRecord: [Int?]
    }

    /// What one call record contributes to its function's automaton.
    private struct RecordEvents {
        var targets: [LibcTarget] = []
        var epsilon = false
        var indirect = false
        var unmarked: [LLVMValueRef] = []
    }

    /// Numbers the defined functions in module order; returns the entry's number.
    private mutating func collectFunctions() throws -> Int {
        var function = LLVMGetFirstFunction(module.module)
        while let f = function {
            if isDefined(f) {
                index[f] = functions.count
                functions.append(f)
            }
            function = LLVMGetNextFunction(f)
        }
        guard let entry = functions.firstIndex(where: { valueName($0) == options.entry }) else {
            throw AnalysisError.entryNotDefined(path: module.path, name: options.entry)
        }
        return entry
    }

    /// Symbol ids: every libc name that labels an edge, and `exit` when the entry's
    /// returns go through it.
    private func symbolTable(exits: Bool) -> SymbolTable {
        var symbolNames = Set<String>()
        for record in records {
            switch record.target {
            case let .libc(name, _): symbolNames.insert(name)
            case let .indirect(bucket): for target in buckets[bucket].libc { symbolNames.insert(target.name) }
            case .defined: break
            }
        }
        if exits { symbolNames.insert(exitSymbol) }
        let symbols = symbolNames.sorted()
        var symbolID: [String: Int] = [:]
        for (i, name) in symbols.enumerated() { symbolID[name] = i }
        return SymbolTable(names: symbols, id: symbolID)
    }

    /// Sites, in record order (= function order, then instruction order).
    private func siteTable(reaches: [Bool]) -> SiteTable {
        let functionCount = functions.count
        var sites: [CallSite] = []
        var siteOfRecord = [Int?](repeating: nil, count: records.count)
        for (r, record) in records.enumerated() {
            switch record.target {
            case let .defined(callee) where reaches[callee]:
                siteOfRecord[r] = sites.count
                sites.append(CallSite(caller: record.function, callees: [callee], location: record.location))
            case let .indirect(bucket) where reaches[functionCount + bucket]:
                siteOfRecord[r] = sites.count
                // Only candidates that reach libc are entered through the site; a call of
                // any other is dispatched past the site's markers (an ε edge beside it).
                sites.append(
                    CallSite(
                        caller: record.function, callees: buckets[bucket].defined.filter { reaches[$0] },
                        indirect: true, location: record.location))
            default: break
            }
        }
        return SiteTable(sites: sites, ofRecord: siteOfRecord)
    }

    /// Function `i`'s automaton, one state per block and one per event; records the
    /// events of its calls in `calls`.
    private func policyFunction(
        _ i: Int, reach: Reach, symbols: SymbolTable, sites: SiteTable, calls: inout [CallKey: CallEvents]
    ) -> PolicyFunction {
        let f = functions[i]
        var nfa = EpsilonNFA()
        let blockStates = blocks[i].map { _ in nfa.addState() }
        nfa.initial = blockStates.first ?? nfa.addState()
        for (b, block) in blocks[i].enumerated() {
            var current = blockStates[b]
            for r in block.events {
                let record = records[r]
                let site = sites.ofRecord[r]
                let events = self.events(of: record, reaches: reach.reaches, symbols: symbols)
                guard site != nil || !events.targets.isEmpty else { continue }
                let next = nfa.addState()
                if let site { nfa.addEdge(current, .call(site), next) }
                for target in events.targets {
                    nfa.addEdge(current, .libc(target.symbol), next, location: record.location)
                }
                if events.epsilon { nfa.addEdge(current, nil, next) }
                current = next
                calls[CallKey(function: i, instruction: record.ordinal)] = CallEvents(
                    instruction: record.instruction, site: site, libc: events.targets, indirect: events.indirect,
                    mayBeSilent: events.epsilon, unmarked: events.unmarked)
            }
            if i == reach.entry, reach.exitBlocks.contains(b), let exit = symbols.id[exitSymbol] {
                let exited = nfa.addState()
                let location = block.returnInstruction.flatMap { instructionLocation($0) }
                nfa.addEdge(current, .libc(exit), exited, location: location)
                nfa.finals.insert(exited)
            } else if block.returns {
                nfa.finals.insert(current)
            }
            for successor in block.successors { nfa.addEdge(current, nil, blockStates[successor]) }
        }
        // LLVM allows unnamed functions (printed @0, @1, ...); a policy needs a name.
        let name = valueName(f)
        return PolicyFunction(
            name: name.isEmpty ? "<unnamed \(i)>" : name, location: functionLocation(f),
            automaton: nfa.reduced())
    }

    /// The libc targets of a call, and for an indirect call whether it may call
    /// something without a marker (ε) and which declarations those are.
    private func events(of record: CallRecord, reaches: [Bool], symbols: SymbolTable) -> RecordEvents {
        var events = RecordEvents()
        switch record.target {
        case let .libc(name, declaration):
            events.targets = symbols.id[name].map { [LibcTarget(symbol: $0, declaration: declaration)] } ?? []
        case .defined:
            break
        case let .indirect(bucket):
            events.indirect = true
            let candidates = buckets[bucket]
            events.targets = candidates.libc.compactMap { candidate in
                symbols.id[candidate.name].map { LibcTarget(symbol: $0, declaration: candidate.declaration) }
            }
            let quiet = candidates.defined.filter { !reaches[$0] }
            events.epsilon = !candidates.unmarked.isEmpty || !quiet.isEmpty
            events.unmarked = candidates.unmarked + quiet.map { functions[$0] }
        }
        return events
    }

    /// The blocks of the entry whose `ret` goes through `exit`: those a path from the
    /// first block reaches, except a `ret` after a `musttail` call (warned about).
    /// Reachability in the CFG is reachability in the automaton: events never block.
    private mutating func exitingBlocks(of entry: Int) -> Set<Int> {
        let graph = blocks[entry]
        guard !graph.isEmpty else { return [] }
        var seen: Set<Int> = [0]
        var work = [0]
        while let b = work.popLast() {
            for successor in graph[b].successors where seen.insert(successor).inserted { work.append(successor) }
        }
        var result = Set<Int>()
        for b in seen.sorted() where graph[b].returns {
            if graph[b].returnsAfterMusttail {
                let place = graph[b].returnInstruction.flatMap { instructionLocation($0) }.map { " at \($0)" } ?? ""
                warnings.append(
                    Finding(
                        .entryReturnsAfterMusttail, module: moduleName,
                        "the entry '\(valueName(functions[entry]))' returns right after a "
                            + "musttail call\(place); that return has no `exit` event (the exit path is not announced)")
                )
            } else {
                result.insert(b)
            }
        }
        return result
    }

    // MARK: Scanning

    private mutating func scan(_ f: LLVMValueRef, _ i: Int) {
        var blockIndex: [LLVMBasicBlockRef: Int] = [:]
        var blockRefs: [LLVMBasicBlockRef] = []
        var bb = LLVMGetFirstBasicBlock(f)
        while let b = bb {
            blockIndex[b] = blockRefs.count
            blockRefs.append(b)
            bb = LLVMGetNextBasicBlock(b)
        }
        var result = [Block](repeating: Block(), count: blockRefs.count)
        var ordinal = 0
        for (b, block) in blockRefs.enumerated() {
            var instruction = LLVMGetFirstInstruction(block)
            while let inst = instruction {
                defer {
                    ordinal += 1
                    instruction = LLVMGetNextInstruction(inst)
                }
                let opcode = LLVMGetInstructionOpcode(inst)
                switch opcode {
                case LLVMCall, LLVMInvoke:
                    if let r = classifyCall(inst, function: i, ordinal: ordinal) { result[b].events.append(r) }
                case LLVMRet:
                    result[b].returns = true
                    result[b].returnInstruction = inst
                    if let previous = LLVMGetPreviousInstruction(inst), LLVMIsACallInst(previous) != nil,
                        LLVMGetTailCallKind(previous) == LLVMTailCallKindMustTail
                    {
                        result[b].returnsAfterMusttail = true
                    }
                default:
                    break
                }
                if LLVMIsATerminatorInst(inst) != nil {
                    let count = LLVMGetNumSuccessors(inst)
                    for s in 0..<count {
                        if let successor = LLVMGetSuccessor(inst, s), let target = blockIndex[successor] {
                            result[b].successors.append(target)
                        }
                    }
                }
            }
        }
        blocks.append(result)
    }

    /// Records the call if it has a (potential) event and returns the record's index.
    private mutating func classifyCall(_ inst: LLVMValueRef, function: Int, ordinal: Int) -> Int? {
        guard let called = LLVMGetCalledValue(inst) else { return nil }
        if LLVMIsAInlineAsm(called) != nil { return nil }
        let callee = stripCasts(called)
        let target: CallRecord.Target
        if LLVMIsAFunction(callee) != nil {
            if let defined = index[callee] {
                target = .defined(defined)
            } else {
                let name = valueName(callee)
                if isIntrinsic(callee, name: name) || isSilentLibc(name) { return nil }
                guard libc.contains(name) else {
                    warnUncovered(name)
                    return nil
                }
                target = .libc(name: name, declaration: callee)
            }
        } else {
            guard let bucket = indirectBucket(inst, caller: function) else { return nil }
            target = .indirect(bucket: bucket)
        }
        records.append(
            CallRecord(
                function: function, ordinal: ordinal, instruction: inst, location: instructionLocation(inst),
                target: target))
        return records.count - 1
    }

    private mutating func indirectBucket(_ inst: LLVMValueRef, caller: Int) -> Int? {
        guard let global = calleeGlobal(of: inst), let flow = globals[global], !flow.leaks else {
            return typeBucket(inst, caller: caller)
        }
        let base = flow.closed ? nil : typeBucket(inst, caller: caller)
        let key = GlobalBucketKey(global: global, base: base)
        if let existing = bucketOfGlobal[key] { return existing }
        var bucket = base.map { buckets[$0] } ?? Bucket()
        // A function in the type bucket too is not confined; its address went elsewhere.
        let inBase = Set(bucket.unmarked + bucket.libc.map(\.declaration) + bucket.defined.map { functions[$0] })
        for f in flow.functions where !inBase.contains(f) {
            if let member = bucketMember(f) { bucket.add(member) }
        }
        bucket.defined.sort()
        bucketOfGlobal[key] = buckets.count
        buckets.append(bucket)
        return buckets.count - 1
    }

    /// What an address-taken function is among a bucket's candidates; nil for intrinsics.
    private func bucketMember(_ f: LLVMValueRef) -> BucketMember? {
        let name = valueName(f)
        if let defined = index[f] { return .defined(defined) }
        if isIntrinsic(f, name: name) { return nil }
        if isSilentLibc(name) { return .unmarked(f) }
        if libc.contains(name) { return .libc(name: name, declaration: f) }
        return .external(name: name, declaration: f)
    }

    private mutating func typeBucket(_ inst: LLVMValueRef, caller: Int) -> Int? {
        if let type = LLVMGetCalledFunctionType(inst), let bucket = bucketOfType[type] { return bucket }
        let place = instructionLocation(inst).map { " at \($0)" } ?? ""
        let typeText = LLVMGetCalledFunctionType(inst).map { takeMessage(LLVMPrintTypeToString($0)) } ?? "?"
        guard let fallback = fallbackBucket else {
            warnings.append(
                Finding(
                    .indirectCallWithoutTargets, module: moduleName,
                    "indirect call in '\(valueName(functions[caller]))'\(place) of type "
                        + "'\(typeText)' has no address-taken function to call; not covered by the policy"))
            return nil
        }
        warnings.append(
            Finding(
                .indirectCallAssumesAnyTarget, module: moduleName,
                "indirect call in '\(valueName(functions[caller]))'\(place): no "
                    + "address-taken function has type '\(typeText)'; assuming any address-taken function"))
        return fallback
    }

    private mutating func warnUncovered(_ name: String) {
        guard warnedNames.insert(name).inserted else { return }
        warnings.append(
            Finding(
                .uncoveredExternalCall, module: moduleName,
                "call to '\(name)' which is neither defined in the module nor exported by libc; not covered by the policy"
            ))
    }

    // MARK: Address-taken functions and indirect targets

    private mutating func computeAddressTaken() {
        globals = confinedGlobals(of: module.module)
        var all = Bucket()
        var function = LLVMGetFirstFunction(module.module)
        while let f = function {
            defer { function = LLVMGetNextFunction(f) }
            guard isAddressTaken(f, depth: 0), let type = LLVMGlobalGetValueType(f) else { continue }
            // A function whose address only goes into confined globals is a candidate
            // only of the calls through them (see `indirectBucket`), and libc never
            // gets it: no type bucket, no callback.
            if isConfinedFunction(f, globals: globals) { continue }
            let bucket: Int
            if let existing = bucketOfType[type] {
                bucket = existing
            } else {
                bucket = buckets.count
                bucketOfType[type] = bucket
                buckets.append(Bucket())
            }
            guard let member = bucketMember(f) else { continue }
            buckets[bucket].add(member)
            all.add(member)
            if case let .defined(defined) = member { addressTaken.append(defined) }
        }
        // Module order is function order, so the defined lists are already sorted.
        if !(all.defined.isEmpty && all.libc.isEmpty && all.unmarked.isEmpty) {
            fallbackBucket = buckets.count
            buckets.append(all)
        }
    }

    /// Reachability of libc over the call graph. Nodes are the defined functions and,
    /// after them, one node per bucket that stands for "any of its defined functions",
    /// so that an indirect call costs one edge, not one per candidate.
    private mutating func reachability(entryExits: Int?) -> [Bool] {
        let functionCount = functions.count
        let nodeCount = functionCount + buckets.count
        var callers = [[Int]](repeating: [], count: nodeCount)
        var reaches = [Bool](repeating: false, count: nodeCount)
        var usedBuckets = Set<Int>()
        if let entry = entryExits { reaches[entry] = true }
        for record in records {
            switch record.target {
            case .libc:
                reaches[record.function] = true
            case let .defined(callee):
                callers[callee].append(record.function)
            case let .indirect(bucket):
                callers[functionCount + bucket].append(record.function)
                if !buckets[bucket].libc.isEmpty { reaches[record.function] = true }
                usedBuckets.insert(bucket)
            }
        }
        for bucket in usedBuckets.sorted() {
            for member in buckets[bucket].defined { callers[member].append(functionCount + bucket) }
            for name in buckets[bucket].external { warnUncovered(name) }
        }
        var work = (0..<nodeCount).filter { reaches[$0] }
        while let node = work.popLast() {
            for caller in callers[node] where !reaches[caller] {
                reaches[caller] = true
                work.append(caller)
            }
        }
        return reaches
    }

    /// A libc function whose calls are ε under the selected `libcEvents`: derived
    /// silent (`LibcSyscallTable.isSilent`: ambient system calls only, no executable
    /// mapping, no call back into the program).
    private func isSilentLibc(_ name: String) -> Bool {
        options.libcEvents == .effectful && libc.contains(name) && syscalls.isSilent(name)
    }

    /// The policy's system-call sets: the empty set first (the window of program
    /// code), then each distinct set in order of first use by the symbols, the start
    /// window and the ambient set.
    private func systemCallBinding(_ symbols: [String]) -> SystemCallBinding {
        var sets: [SystemCallSet] = [.empty]
        var indexOf: [SystemCallSet: Int] = [.empty: 0]
        func index(_ set: SystemCallSet) -> Int {
            if let i = indexOf[set] { return i }
            indexOf[set] = sets.count
            sets.append(set)
            return sets.count - 1
        }
        // A name LibcSymbols knows but neither libc.so.6 nor libc_nonshared.a defines as
        // analysed cannot occur (both lists come from the same files); all numbers is
        // the sound answer should it happen.
        let everything = SystemCallSet(numbers: 0...SystemCallSet.maximumNumber, mapsExecutable: true)
        let symbolSets = symbols.map { index(syscalls[$0]?.set ?? everything) }
        let start = index(syscalls.startSet)
        let ambient = index(LibcSyscallTable.ambient)
        return SystemCallBinding(sets: sets, symbolSets: symbolSets, startSet: start, ambientSet: ambient)
    }

    // MARK: LLVM helpers

    private func isDefined(_ f: LLVMValueRef) -> Bool {
        LLVMIsDeclaration(f) == 0 && LLVMGetLinkage(f) != LLVMAvailableExternallyLinkage
    }
}

/// The libc function that runs when the entry returns.
private let exitSymbol = "exit"

private func isIntrinsic(_ f: LLVMValueRef, name: String) -> Bool {
    LLVMGetIntrinsicID(f) != 0 || name.hasPrefix("llvm.")
}

/// Whether `value` (a function or an alias of one) is used other than as the callee of
/// a call.
private func isAddressTaken(_ value: LLVMValueRef, depth: Int) -> Bool {
    // Alias and cast chains are short in valid IR; the bound only guards odd input.
    guard depth < 32 else { return true }
    var use = LLVMGetFirstUse(value)
    while let u = use {
        use = LLVMGetNextUse(u)
        guard let user = LLVMGetUser(u) else { continue }
        if isCalledOperand(u, of: user) || isDeadConstant(user) { continue }
        if LLVMIsAGlobalAlias(user) != nil || isPointerCast(user) {
            if isAddressTaken(user, depth: depth + 1) { return true }
            continue
        }
        return true
    }
    return false
}

func isPointerCast(_ value: LLVMValueRef) -> Bool {
    guard LLVMIsAConstantExpr(value) != nil else { return false }
    let opcode = LLVMGetConstOpcode(value)
    return opcode == LLVMBitCast || opcode == LLVMAddrSpaceCast
}

/// The value with pointer-cast constant expressions and aliases removed.
func stripCasts(_ value: LLVMValueRef) -> LLVMValueRef {
    var current = value
    for _ in 0..<32 {
        if LLVMIsAGlobalAlias(current) != nil, let aliasee = LLVMAliasGetAliasee(current) {
            current = aliasee
        } else if isPointerCast(current), let operand = LLVMGetOperand(current, 0) {
            current = operand
        } else {
            break
        }
    }
    return current
}

func valueName(_ value: LLVMValueRef) -> String {
    var length = 0
    guard let name = LLVMGetValueName2(value, &length), length > 0 else { return "" }
    return name.withMemoryRebound(to: UInt8.self, capacity: length) {
        String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
    }
}

private func instructionLocation(_ inst: LLVMValueRef) -> SourceLocation? {
    // Without a !dbg attachment the C API answers "" and 0; treat that as no location.
    guard LLVMInstructionGetDebugLoc(inst) != nil else { return nil }
    return debugLocation(inst)
}

private func functionLocation(_ f: LLVMValueRef) -> SourceLocation? {
    guard LLVMGetSubprogram(f) != nil else { return nil }
    return debugLocation(f)
}

/// Where the analysis runs: source paths below it are shown relative to it.
private let buildDirectory: String = {
    guard let cwd = getcwd(nil, 0) else { return "/" }
    defer { free(cwd) }
    return String(cString: cwd)
}()

private func debugLocation(_ value: LLVMValueRef) -> SourceLocation? {
    func text(_ get: (LLVMValueRef, UnsafeMutablePointer<UInt32>) -> UnsafePointer<CChar>?) -> String {
        var length: UInt32 = 0
        guard let chars = get(value, &length), length > 0 else { return "" }
        return chars.withMemoryRebound(to: UInt8.self, capacity: Int(length)) {
            String(decoding: UnsafeBufferPointer(start: $0, count: Int(length)), as: UTF8.self)
        }
    }
    let file = text(LLVMGetDebugLocFilename)
    guard !file.isEmpty else { return nil }
    let line = Int(LLVMGetDebugLocLine(value))
    guard line > 0 else { return nil }
    let path = SourceLocation.displayPath(file: file, directory: text(LLVMGetDebugLocDirectory), base: buildDirectory)
    return SourceLocation(file: path, line: line)
}
