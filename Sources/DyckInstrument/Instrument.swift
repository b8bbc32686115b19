import CLLVM
import DyckAnalysis
import DyckModel
import SbxABI

/// How to instrument. Every event the policy expects is placed, and the verifier
/// always runs; what can be chosen is how events reach the monitor.
public struct InstrumentOptions: Sendable {
    /// Buffered events (`dyck-cc --dyck-buffer`, `specs/marker-abi.md`, "Buffered
    /// events"): bufferable events (`BufferedEvents`) are appended to the thread's
    /// event buffer instead of being marker system calls; the module gets the buffer
    /// and the `.sbx_evbuf` section. Off: the output is what it was before the option
    /// existed, byte for byte.
    public var bufferEvents = false

    public init(bufferEvents: Bool = false) {
        self.bufferEvents = bufferEvents
    }
}

/// What the instrumentation did.
public struct InstrumentReport: Equatable, Sendable {
    /// `LIBC` marker instructions (an indirect call places one per libc candidate; each
    /// return of the entry has one for `exit`).
    public var libcMarkers = 0
    /// Call instructions instrumented as call sites (`CALL`/`RET` or `TAIL`).
    public var instrumentedSites = 0
    /// Call instructions that may enter a defined function: direct calls of one and all
    /// indirect calls. Set against `instrumentedSites`, it tells what pruning saved.
    public var programCalls = 0
    /// Indirect calls that compare the called pointer at run time.
    public var dispatchedCalls = 0
    /// Callback thunks created.
    public var thunks = 0
    /// Calls of setjmp functions followed by `SJ_SAVE`/`SJ_RESUME`.
    public var setjmpPoints = 0
    /// Marker instructions of all kinds, thunks included (appends included).
    public var markers = 0
    /// Of `markers`, the events appended to the buffer (with `bufferEvents`): each
    /// also holds the pinned marker of its full-buffer path.
    public var appends = 0
    /// In the order they arose.
    public var warnings: [Finding] = []

    public init() {}
}

/// The functions after whose return a program may come back a second time through
/// `longjmp`; the marker ABI numbers their calls.
public let setjmpFunctions: Set<String> = ["setjmp", "_setjmp", "__sigsetjmp", "sigsetjmp"]

/// Rewrites `module` in place so that the program emits the marker system calls of
/// `specs/marker-abi.md` for the policy in `analysis`, which must be the analysis of
/// this very module (its handles and ids are used). On success the module passes
/// LLVM's verifier. On a thrown error the module may be partly rewritten: discard it.
///
/// - **libc calls** get `LIBC(symbol)` just before the call.
/// - **Sites** get `CALL(site)` before and `RET(site)` after the call (a `tail` hint is
///   dropped, since the call no longer ends the function). After an `invoke`, `RET` is
///   at the start of the normal destination, or on a new block on that edge when the
///   destination has other predecessors. A `musttail` site gets `TAIL(site)` before and
///   nothing after.
/// - **Indirect calls** whose candidates include libc functions, or, at a site,
///   callbacks with thunks, compare the called pointer before the call: each libc
///   candidate branches to its own `LIBC` marker, anything else to the site's `CALL`
///   (or nothing when the call is no site). On that path a pointer equal to a callee's
///   thunk is replaced by the callee itself: the program's own call stays a site call
///   and does not pass through `CB_ENTER`/`CB_EXIT`. All paths join in a block holding
///   the original call (its called operand a PHI when a thunk can be bypassed), so it
///   runs once; at a site a PHI remembers whether `CALL` was made and `RET` follows
///   only then.
/// - **Callbacks**: every non-variadic callback gets a thunk (see `ThunkMaker`), which
///   replaces every use of its address except as the callee of a direct call (see
///   `redirectAddressUses`). Variadic callbacks cannot forward their arguments; they
///   are left alone, with a warning.
/// - **setjmp**: the value returned is tested right after the call: `SJ_SAVE(n)` for 0,
///   `SJ_RESUME(n)` otherwise, `n` counting setjmp calls in module order.
/// - **Returns of the entry** (`ModuleAnalysis.entryExit`): `LIBC(exit)` just before
///   each `ret` the analysis lists, after any `RET` of a call right before it: returning
///   from `main` runs libc's `exit`, and the system calls of that path (atexit
///   handlers, the stdio flush, `exit_group`) are checked against `exit`'s window.
/// - **The skip flag**: `CALL`, `RET` and `TAIL` markers test the byte
///   `MarkerABI.skipFlagSymbol` around their pinned pair and set it when the monitor
///   answers that it ignores them (nfa mode); the module gets that byte's definition
///   (`specs/marker-abi.md`, "Answers").
public func instrument(
    _ module: IRModule, analysis: ModuleAnalysis, options: InstrumentOptions = InstrumentOptions()
) throws -> InstrumentReport {
    if LLVMGetNamedFunction(module.module, MarkerABI.skipFlagSymbol) != nil
        || LLVMGetNamedGlobalAlias(module.module, MarkerABI.skipFlagSymbol, MarkerABI.skipFlagSymbol.utf8.count) != nil
    {
        throw InstrumentError.reservedName(path: module.path, name: MarkerABI.skipFlagSymbol)
    }
    if options.bufferEvents {
        let name = BufferedEvents.bufferSymbol
        if LLVMGetNamedFunction(module.module, name) != nil
            || LLVMGetNamedGlobalAlias(module.module, name, name.utf8.count) != nil
        {
            throw InstrumentError.reservedName(path: module.path, name: name)
        }
    }
    let rewriter = try Rewriter(module: module, analysis: analysis, options: options)
    try rewriter.run()
    rewriter.report.appends = rewriter.markers.appends
    defineSkipFlag(module)
    if options.bufferEvents { defineEventBuffer(module) }
    embedPolicyDigest(
        module, contents: PolicyDigest.sectionContents(policyBytes: Array(analysis.result.policy.serialized().utf8)))
    var message: UnsafeMutablePointer<CChar>?
    let broken = LLVMVerifyModule(module.module, LLVMReturnStatusAction, &message) != 0
    let text = takeMessage(message)
    if broken {
        let first = text.split(separator: "\n").first.map(String.init) ?? "verifier failed"
        throw InstrumentError.verifierFailed(path: module.path, message: first)
    }
    return rewriter.report
}

// MARK: - Implementation

/// One call instruction to rewrite, found before anything is inserted.
private struct Point {
    var call: LLVMValueRef
    var events: CallEvents?
    /// The setjmp call number, for calls of a setjmp function.
    var setjmp: Int?
}

private final class Rewriter {
    let module: IRModule
    let analysis: ModuleAnalysis
    let policy: Policy
    let builder: Builder
    let editor: CFGEditor
    let markers: MarkerEmitter
    let moduleName: String
    /// Per function index, in instruction order.
    var points: [[Point]] = []
    var thunks: [Int: LLVMValueRef] = [:]
    var report = InstrumentReport()

    init(module: IRModule, analysis: ModuleAnalysis, options: InstrumentOptions) throws {
        self.module = module
        self.analysis = analysis
        self.policy = analysis.result.policy
        self.builder = Builder(context: module.context)
        self.editor = CFGEditor(context: module.context, builder: builder)
        self.markers = MarkerEmitter(
            context: module.context,
            bufferableSymbols: options.bufferEvents ? BufferedEvents.bufferableSymbols(of: analysis.result.policy) : nil
        )
        self.moduleName = module.baseName
        try check()
        try collect()
    }

    // MARK: Before rewriting

    /// Rejects an analysis of another module before anything is touched: its handles
    /// would point into the wrong module (or freed memory, which cannot be detected).
    private func check() throws {
        let path = module.path
        guard analysis.functions.count == policy.functions.count else {
            throw InstrumentError.analysisMismatch(path: path, message: "function lists differ in length")
        }
        for f in analysis.functions where LLVMGetGlobalParent(f) != module.module {
            throw InstrumentError.analysisMismatch(
                path: path, message: "function '\(valueName(f))' is not in the module")
        }
        for (key, events) in analysis.calls {
            guard analysis.functions.indices.contains(key.function),
                LLVMIsACallInst(events.instruction) != nil || LLVMIsAInvokeInst(events.instruction) != nil,
                let block = LLVMGetInstructionParent(events.instruction),
                LLVMGetBasicBlockParent(block) == analysis.functions[key.function]
            else {
                throw InstrumentError.analysisMismatch(
                    path: path, message: "call \(key.instruction) of function \(key.function) is not where it was")
            }
            if let site = events.site {
                guard policy.sites.indices.contains(site) else {
                    throw InstrumentError.analysisMismatch(path: path, message: "site \(site) is not in the policy")
                }
                try checkID(site, "call-site id")
            }
            for target in events.libc { try checkID(target.symbol, "symbol id") }
        }
        if let exit = analysis.entryExit {
            guard policy.symbols.indices.contains(exit.symbol), policy.symbols[exit.symbol] == "exit" else {
                throw InstrumentError.analysisMismatch(path: path, message: "symbol \(exit.symbol) is not exit")
            }
            try checkID(exit.symbol, "symbol id")
            let entry = policy.functions.indices.contains(policy.entry) ? analysis.functions[policy.entry] : nil
            for ret in exit.returns {
                guard LLVMGetInstructionOpcode(ret) == LLVMRet, let block = LLVMGetInstructionParent(ret),
                    LLVMGetBasicBlockParent(block) == entry
                else {
                    throw InstrumentError.analysisMismatch(
                        path: path, message: "a return of the entry is not where it was")
                }
            }
        }
        for index in policy.callbacks {
            guard analysis.functions.indices.contains(index) else {
                throw InstrumentError.analysisMismatch(path: path, message: "callback \(index) is not a function")
            }
            try checkID(index, "function index")
        }
    }

    private func checkID(_ value: Int, _ what: String) throws {
        guard value >= 0, UInt64(value) <= MarkerABI.maximumID else {
            throw InstrumentError.idOutOfRange(path: module.path, what: what, value: value)
        }
    }

    /// Finds the calls to rewrite by walking the module in order (the same order that
    /// numbers setjmp calls) and counts the calls into the program.
    private func collect() throws {
        var byInstruction: [LLVMValueRef: CallEvents] = [:]
        byInstruction.reserveCapacity(analysis.calls.count)
        for events in analysis.calls.values { byInstruction[events.instruction] = events }
        var defined = Set(analysis.functions)
        defined.reserveCapacity(analysis.functions.count)
        var found = 0
        var setjmpCount = 0
        points = []
        for f in analysis.functions {
            var list: [Point] = []
            var block = LLVMGetFirstBasicBlock(f)
            while let b = block {
                block = LLVMGetNextBasicBlock(b)
                var next = LLVMGetFirstInstruction(b)
                while let instruction = next {
                    next = LLVMGetNextInstruction(instruction)
                    guard LLVMIsACallInst(instruction) != nil || LLVMIsAInvokeInst(instruction) != nil,
                        let called = LLVMGetCalledValue(instruction), LLVMIsAInlineAsm(called) == nil
                    else { continue }
                    let callee = stripCasts(called)
                    var setjmp: Int? = nil
                    if LLVMIsAFunction(callee) != nil {
                        if defined.contains(callee) {
                            report.programCalls += 1
                        } else if setjmpFunctions.contains(valueName(callee)) {
                            setjmp = setjmpCount
                            setjmpCount += 1
                        }
                    } else {
                        report.programCalls += 1
                    }
                    let events = byInstruction[instruction]
                    if events != nil { found += 1 }
                    if let number = setjmp, !canMarkAfter(instruction, setjmp: number) { setjmp = nil }
                    if events != nil || setjmp != nil {
                        list.append(Point(call: instruction, events: events, setjmp: setjmp))
                    }
                }
            }
            points.append(list)
        }
        guard found == analysis.calls.count else {
            throw InstrumentError.analysisMismatch(
                path: module.path, message: "\(analysis.calls.count - found) analysed calls are not in the module")
        }
    }

    /// Whether setjmp's result can be tested after the call; warns when not.
    private func canMarkAfter(_ call: LLVMValueRef, setjmp number: Int) -> Bool {
        let function = valueName(LLVMGetBasicBlockParent(LLVMGetInstructionParent(call)))
        if LLVMIsACallInst(call) != nil && LLVMGetTailCallKind(call) == LLVMTailCallKindMustTail {
            report.warnings.append(
                Finding(
                    .setjmpNotMarked, module: moduleName,
                    "setjmp call \(number) in '\(function)' is a musttail call; "
                        + "no SJ_SAVE/SJ_RESUME marker (a longjmp to it is not covered)"))
            return false
        }
        if LLVMGetTypeKind(LLVMTypeOf(call)) != LLVMIntegerTypeKind {
            report.warnings.append(
                Finding(
                    .setjmpNotMarked, module: moduleName,
                    "setjmp call \(number) in '\(function)' does not return an integer; "
                        + "no SJ_SAVE/SJ_RESUME marker (a longjmp to it is not covered)"))
            return false
        }
        return true
    }

    // MARK: Rewriting

    func run() throws {
        // Debug records (LLVM 19's default) stay behind when the C API moves an
        // instruction to another block; debug intrinsics are instructions and move along.
        let newDebugFormat = LLVMIsNewDbgInfoFormat(module.module) != 0
        if newDebugFormat { LLVMSetIsNewDbgInfoFormat(module.module, 0) }
        defer { if newDebugFormat { LLVMSetIsNewDbgInfoFormat(module.module, 1) } }

        makeThunks()
        for list in points {
            // Later calls first: a split moves the rest of a block, and what lies after
            // a call processed later would be moved again.
            for point in list.reversed() { try rewrite(point) }
        }
        // After the calls: a RET of a call right before the return comes first, as
        // in the automaton (the site's return, then exit).
        if let exit = analysis.entryExit {
            for ret in exit.returns {
                if let previous = LLVMGetPreviousInstruction(ret), LLVMIsACallInst(previous) != nil {
                    dropTailHint(previous)
                }
                builder.positionBefore(ret)
                emit(.libc, UInt32(truncatingIfNeeded: exit.symbol), LLVMInstructionGetDebugLoc(ret))
            }
        }
    }

    private func makeThunks() {
        let maker = ThunkMaker(module: module.module, context: module.context, builder: builder, markers: markers)
        let used = UsedLists(module: module.module)
        for index in policy.callbacks where analysis.functions.indices.contains(index) {
            let f = analysis.functions[index]
            if let type = LLVMGlobalGetValueType(f), LLVMIsFunctionVarArg(type) != 0 {
                report.warnings.append(
                    Finding(
                        .variadicCallbackWithoutThunk, module: moduleName,
                        "callback '\(valueName(f))' is variadic and gets no thunk; "
                            + "libc's calls of it are not marked as callbacks"))
                continue
            }
            guard let thunk = maker.declareThunk(for: f, index: index) else { continue }
            redirectAddressUses(of: f, to: thunk)
            maker.buildBody(of: thunk, callback: f, index: index)
            thunks[index] = thunk
            report.thunks += 1
            report.markers += 2
        }
        used.restore()
    }

    private func rewrite(_ point: Point) throws {
        let call = point.call
        let location = LLVMInstructionGetDebugLoc(call)
        let musttail = LLVMIsACallInst(call) != nil && LLVMGetTailCallKind(call) == LLVMTailCallKindMustTail
        if let events = point.events {
            let site = events.site.map { UInt32(truncatingIfNeeded: $0) }
            let bypasses: [(thunk: LLVMValueRef, callback: LLVMValueRef)] =
                events.indirect
                ? (events.site.map { site in
                    policy.sites[site].callees.compactMap { callee in
                        thunks[callee].map { ($0, analysis.functions[callee]) }
                    }
                } ?? []) : []
            let unmarkedAtSite = site != nil && !events.unmarked.isEmpty
            if events.indirect && (!events.libc.isEmpty || !bypasses.isEmpty || unmarkedAtSite) {
                try dispatch(
                    call, events: events, site: site, bypasses: bypasses, musttail: musttail, location: location)
            } else {
                builder.positionBefore(call)
                for target in events.libc {
                    emit(.libc, UInt32(truncatingIfNeeded: target.symbol), location)
                }
                if let site {
                    report.instrumentedSites += 1
                    if musttail {
                        emit(.tail, site, location)
                    } else {
                        emit(.call, site, location)
                        markAfter(call, .ret, site, location)
                    }
                }
            }
        }
        if let number = point.setjmp {
            report.setjmpPoints += 1
            let id = UInt32(truncatingIfNeeded: number)
            guard let (x, resume) = openAfter(call) else {
                throw setjmpFailed(call, number, "the call has no block or no instruction after it")
            }
            builder.positionAtEnd(x)
            let zero = LLVMConstNull(LLVMTypeOf(call))
            guard let direct = LLVMBuildICmp(builder.ref, LLVMIntEQ, call, zero, "") else {
                throw setjmpFailed(call, number, "LLVM refused the comparison of its result with 0")
            }
            let save = editor.newBlock(after: x, name: "sbx.sjsave")
            let resumed = editor.newBlock(after: save, name: "sbx.sjresume")
            builder.branch(if: direct, then: save, else: resumed)
            builder.positionAtEnd(save)
            emit(.setjmpSave, id, location)
            builder.branch(to: resume)
            builder.positionAtEnd(resumed)
            emit(.setjmpResume, id, location)
            builder.branch(to: resume)
        }
    }

    private func emit(_ kind: MarkerKind, _ id: UInt32, _ location: LLVMMetadataRef?) {
        markers.emit(kind, id, builder: builder.ref, location: location)
        report.markers += 1
        if kind == .libc { report.libcMarkers += 1 }
    }

    /// Places an unconditional marker where the call has returned normally.
    private func markAfter(_ call: LLVMValueRef, _ kind: MarkerKind, _ id: UInt32, _ location: LLVMMetadataRef?) {
        if LLVMIsAInvokeInst(call) != nil, let source = LLVMGetInstructionParent(call),
            let destination = LLVMGetNormalDest(call)
        {
            if editor.isOnlyEntered(destination, through: call), let first = editor.firstNonPHI(destination) {
                builder.positionBefore(first)
                emit(kind, id, location)
            } else {
                let edge = editor.newBlock(after: source, name: "sbx.ret")
                LLVMSetNormalDest(call, edge)
                builder.positionAtEnd(edge)
                emit(kind, id, location)
                builder.branch(to: destination)
                editor.replaceIncoming(in: destination, from: source, to: edge)
            }
        } else if let next = LLVMGetNextInstruction(call) {
            dropTailHint(call)
            builder.positionBefore(next)
            emit(kind, id, location)
        }
    }

    /// A block `x` that runs right after the call returns normally, left without a
    /// terminator, and the block `resume` where the program continues: the caller ends
    /// `x` with branches that reach `resume`.
    private func openAfter(_ call: LLVMValueRef) -> (x: LLVMBasicBlockRef, resume: LLVMBasicBlockRef)? {
        guard let source = LLVMGetInstructionParent(call) else { return nil }
        if LLVMIsAInvokeInst(call) != nil {
            guard let destination = LLVMGetNormalDest(call) else { return nil }
            let x = editor.newBlock(after: source, name: "sbx.after")
            let resume = editor.newBlock(after: x, name: "sbx.cont")
            LLVMSetNormalDest(call, x)
            builder.positionAtEnd(resume)
            builder.branch(to: destination)
            editor.replaceIncoming(in: destination, from: source, to: resume)
            return (x, resume)
        } else {
            guard let next = LLVMGetNextInstruction(call) else { return nil }
            dropTailHint(call)
            let resume = editor.newBlock(after: source, name: "sbx.cont")
            editor.moveTail(from: next, to: resume)
            return (source, resume)
        }
    }

    /// A `tail` call followed by a marker is no longer in tail position; the hint would
    /// be harmless but misleading.
    private func dropTailHint(_ call: LLVMValueRef) {
        if LLVMIsACallInst(call) != nil && LLVMGetTailCallKind(call) == LLVMTailCallKindTail {
            LLVMSetTailCallKind(call, LLVMTailCallKindNone)
        }
    }

    /// The run-time comparison of the called pointer at an indirect call:
    ///
    ///     source:  %l0 = icmp eq ptr %p, @libc0     ; one test per libc candidate
    ///              br %l0, mark0, test1             ;   mark0: LIBC(s0); br call
    ///              (at a site, one test per unmarked candidate: equal -> br call, no marker)
    ///     test1:   %t0 = icmp eq ptr %p, @f.thunk   ; one select per thunk
    ///              %q0 = select %t0, @f, %p
    ///              CALL(site) (or TAIL, or nothing); br call
    ///     call:    %callee = phi ptr [%p, mark0], [%q0, test1]
    ///              %site = phi i1 [...]             ; true only from test1
    ///              <the original call of %callee>   ; then RET(site) if %site
    ///
    /// Built in phases, in this order: the split, the libc tests, the unmarked tests,
    /// the site's path, the callee PHI, the RET after the call. Throws
    /// `InstrumentError.rewriteFailed` when LLVM does not build a piece; the module is
    /// then partly rewritten, which `instrument` documents.
    private func dispatch(
        _ call: LLVMValueRef, events: CallEvents, site: UInt32?,
        bypasses: [(thunk: LLVMValueRef, callback: LLVMValueRef)], musttail: Bool, location: LLVMMetadataRef?
    ) throws {
        var chain = try splitForDispatch(call)
        report.dispatchedCalls += 1
        for target in events.libc {
            try testLibc(target, in: &chain, location: location)
        }
        // A candidate without a marker is called as is: outside the site's markers,
        // since it enters no automaton of the site.
        if site != nil {
            for declaration in events.unmarked {
                try testUnmarked(declaration, in: &chain)
            }
        }
        try enterSite(site, bypasses: bypasses, musttail: musttail, in: &chain, location: location)
        try setCallee(of: call, from: chain)
        guard let site, !musttail else { return }
        try markReturn(of: call, site: site, from: chain, location: location)
    }

    /// The chain of tests being built before an indirect call, passed between the
    /// phases of `dispatch`.
    private struct DispatchChain {
        var call: LLVMValueRef
        /// The original call's index of its called operand, and that operand.
        var calledIndex: UInt32
        var called: LLVMValueRef
        var pointerType: LLVMTypeRef?
        /// The block that holds the original call, where every path joins.
        var callBlock: LLVMBasicBlockRef
        /// The block the next test goes at the end of.
        var current: LLVMBasicBlockRef
        /// The block new blocks are placed after.
        var last: LLVMBasicBlockRef
        /// One per path into `callBlock`: whether it made the site's `CALL`, and the
        /// callee it calls.
        var incoming: [(block: LLVMBasicBlockRef, siteMarked: Bool, callee: LLVMValueRef)] = []
        /// The callee on the site's path (`called`, or selects of it past thunks).
        var siteCallee: LLVMValueRef
    }

    private func setjmpFailed(_ call: LLVMValueRef, _ number: Int, _ step: String) -> InstrumentError {
        let function = valueName(LLVMGetBasicBlockParent(LLVMGetInstructionParent(call)))
        return .setjmpRewriteFailed(path: module.path, function: function, number: number, step: step)
    }

    private func rewriteFailed(_ call: LLVMValueRef, _ step: String) -> InstrumentError {
        let function = valueName(LLVMGetBasicBlockParent(LLVMGetInstructionParent(call)))
        return .rewriteFailed(path: module.path, function: function, step: step)
    }

    /// Phase 1: moves the call and what follows it to a block of their own.
    private func splitForDispatch(_ call: LLVMValueRef) throws -> DispatchChain {
        let calledIndex = UInt32(max(0, LLVMGetNumOperands(call) - 1))
        guard let source = LLVMGetInstructionParent(call), let called = LLVMGetOperand(call, calledIndex) else {
            throw rewriteFailed(call, "the call has no block or no called operand")
        }
        let callBlock = editor.newBlock(after: source, name: "sbx.call")
        editor.moveTail(from: call, to: callBlock)
        return DispatchChain(
            call: call, calledIndex: calledIndex, called: called, pointerType: LLVMTypeOf(called), callBlock: callBlock,
            current: source, last: source, siteCallee: called)
    }

    /// Phase 2, per libc candidate: equal pointer -> `LIBC(symbol)` -> the call.
    private func testLibc(_ target: LibcTarget, in chain: inout DispatchChain, location: LLVMMetadataRef?) throws {
        builder.positionAtEnd(chain.current)
        guard
            let equal = LLVMBuildICmp(
                builder.ref, LLVMIntEQ, chain.called, pointer(target.declaration, as: chain.pointerType), "")
        else { throw rewriteFailed(chain.call, "comparing with a libc candidate") }
        let mark = editor.newBlock(after: chain.last, name: "sbx.libc")
        let next = editor.newBlock(after: mark, name: "sbx.test")
        builder.branch(if: equal, then: mark, else: next)
        builder.positionAtEnd(mark)
        emit(.libc, UInt32(truncatingIfNeeded: target.symbol), location)
        builder.branch(to: chain.callBlock)
        chain.incoming.append((mark, false, chain.called))
        chain.current = next
        chain.last = next
    }

    /// Phase 3, at a site, per candidate without a marker: equal pointer -> the call.
    private func testUnmarked(_ declaration: LLVMValueRef, in chain: inout DispatchChain) throws {
        builder.positionAtEnd(chain.current)
        guard
            let equal = LLVMBuildICmp(
                builder.ref, LLVMIntEQ, chain.called, pointer(declaration, as: chain.pointerType), "")
        else { throw rewriteFailed(chain.call, "comparing with an unmarked candidate") }
        let next = editor.newBlock(after: chain.last, name: "sbx.test")
        builder.branch(if: equal, then: chain.callBlock, else: next)
        chain.incoming.append((chain.current, false, chain.called))
        chain.current = next
        chain.last = next
    }

    /// Phase 4, the remaining path: a thunk's pointer becomes its callback's, then
    /// `CALL(site)` or `TAIL(site)` (nothing when the call is no site), then the call.
    private func enterSite(
        _ site: UInt32?, bypasses: [(thunk: LLVMValueRef, callback: LLVMValueRef)], musttail: Bool,
        in chain: inout DispatchChain, location: LLVMMetadataRef?
    ) throws {
        builder.positionAtEnd(chain.current)
        for bypass in bypasses {
            guard
                let equal = LLVMBuildICmp(
                    builder.ref, LLVMIntEQ, chain.called, pointer(bypass.thunk, as: chain.pointerType), ""),
                let chosen = LLVMBuildSelect(
                    builder.ref, equal, pointer(bypass.callback, as: chain.pointerType), chain.siteCallee, "")
            else { throw rewriteFailed(chain.call, "selecting a callback past its thunk") }
            chain.siteCallee = chosen
        }
        if let site {
            report.instrumentedSites += 1
            emit(musttail ? .tail : .call, site, location)
        }
        builder.branch(to: chain.callBlock)
        chain.incoming.append((chain.current, site != nil, chain.siteCallee))
    }

    /// Phase 5: when a thunk can be bypassed, the call calls a PHI of the paths' callees.
    private func setCallee(of call: LLVMValueRef, from chain: DispatchChain) throws {
        guard chain.siteCallee != chain.called else { return }
        builder.positionBefore(call)
        guard let phi = LLVMBuildPhi(builder.ref, chain.pointerType, "sbx.callee") else {
            throw rewriteFailed(call, "the callee PHI")
        }
        var values: [LLVMValueRef?] = chain.incoming.map { $0.callee }
        var blocks: [LLVMBasicBlockRef?] = chain.incoming.map { $0.block }
        LLVMAddIncoming(phi, &values, &blocks, UInt32(chain.incoming.count))
        LLVMSetOperand(call, chain.calledIndex, phi)
    }

    /// Phase 6, at a site that is not `musttail`: `RET(site)` after the call, only on
    /// the path that made `CALL`.
    private func markReturn(
        of call: LLVMValueRef, site: UInt32, from chain: DispatchChain, location: LLVMMetadataRef?
    ) throws {
        builder.positionBefore(call)
        let boolType = LLVMInt1TypeInContext(module.context)
        guard let siteMarked = LLVMBuildPhi(builder.ref, boolType, "sbx.site") else {
            throw rewriteFailed(call, "the site PHI")
        }
        var values: [LLVMValueRef?] = chain.incoming.map { LLVMConstInt(boolType, $0.siteMarked ? 1 : 0, 0) }
        var blocks: [LLVMBasicBlockRef?] = chain.incoming.map { $0.block }
        LLVMAddIncoming(siteMarked, &values, &blocks, UInt32(chain.incoming.count))
        guard let (x, resume) = openAfter(call) else {
            throw rewriteFailed(call, "the call has no successor to place RET before")
        }
        builder.positionAtEnd(x)
        let mark = editor.newBlock(after: x, name: "sbx.ret")
        builder.branch(if: siteMarked, then: mark, else: resume)
        builder.positionAtEnd(mark)
        emit(.ret, site, location)
        builder.branch(to: resume)
    }
}

/// Defines the skip flag that the site markers' asm reads and writes by name
/// (`MarkerABI.assembly`): one zero byte per process image, internal, kept by
/// `llvm.used` (no IR refers to it, only asm text). A variable of that name that
/// the program declares or defines (a test that corrupts the flag) becomes this
/// definition, zero-initialised whatever the program said: the flag starts clear
/// at every exec.
private func defineSkipFlag(_ module: IRModule) {
    let name = MarkerABI.skipFlagSymbol
    guard
        let global = LLVMGetNamedGlobal(module.module, name)
            ?? LLVMAddGlobal(module.module, LLVMInt8TypeInContext(module.context), name)
    else { return }
    LLVMSetInitializer(global, LLVMConstNull(LLVMGlobalGetValueType(global)))
    LLVMSetGlobalConstant(global, 0)
    LLVMSetLinkage(global, LLVMInternalLinkage)
    LLVMSetVisibility(global, LLVMDefaultVisibility)
    LLVMSetThreadLocal(global, 0)
    LLVMSetSection(global, "")
    appendToUsed(module, global)
}

/// Defines the thread's event buffer that the appends' asm names
/// (`BufferedEvents.bufferSymbol`, `struct sbx_evbuf`: two 32-bit words and
/// `SBX_EVBUF_CAP` 64-bit slots, zero-initialised, local-exec TLS so that its address
/// is `%fs` plus a link-time constant) and the `.sbx_evbuf` section that gives the
/// tools that constant: version, capacity, and `__sbx_evbuf@tpoff`, which the static
/// linker resolves in an executable (PIE or not; the section needs no relocation at
/// run time and stays read-only). Internal linkage: nothing outside the program's
/// own module refers to it. A global of that name that the program declares or
/// defines becomes this definition, as the skip flag does.
private func defineEventBuffer(_ module: IRModule) {
    let name = BufferedEvents.bufferSymbol
    let context = module.context
    let int32 = LLVMInt32TypeInContext(context)
    let slots = LLVMArrayType2(LLVMInt64TypeInContext(context), UInt64(BufferedEvents.capacity))
    var fields: [LLVMTypeRef?] = [int32, int32, slots]
    let type = LLVMStructTypeInContext(context, &fields, 3, 0)
    if let old = LLVMGetNamedGlobal(module.module, name) {
        // Another type cannot be given to an existing global: rename it away and
        // point its uses at the new definition.
        LLVMSetValueName2(old, "", 0)
        let global = LLVMAddGlobal(module.module, type, name)
        LLVMReplaceAllUsesWith(old, global)
        LLVMDeleteGlobal(old)
    }
    guard let global = LLVMGetNamedGlobal(module.module, name) ?? LLVMAddGlobal(module.module, type, name) else {
        return
    }
    LLVMSetInitializer(global, LLVMConstNull(type))
    LLVMSetGlobalConstant(global, 0)
    LLVMSetLinkage(global, LLVMInternalLinkage)
    LLVMSetVisibility(global, LLVMDefaultVisibility)
    LLVMSetThreadLocal(global, 1)
    LLVMSetThreadLocalMode(global, LLVMLocalExecTLSModel)
    LLVMSetAlignment(global, 8)
    LLVMSetSection(global, "")
    appendToUsed(module, global)
    let section = """
        .pushsection \(BufferedEvents.sectionName),"aR",@progbits
        .balign 8
        .long \(BufferedEvents.sectionVersion)
        .long \(BufferedEvents.capacity)
        .quad \(name)@tpoff
        .popsection

        """
    LLVMAppendModuleInlineAsm(module.module, section, section.utf8.count)
}

/// Adds `global` to `llvm.used`, keeping what is there.
private func appendToUsed(_ module: IRModule, _ global: LLVMValueRef) {
    let pointerType = LLVMPointerTypeInContext(module.context, 0)
    var elements: [LLVMValueRef?] = []
    if let used = LLVMGetNamedGlobal(module.module, "llvm.used") {
        if let initializer = LLVMGetInitializer(used), LLVMIsAConstantArray(initializer) != nil {
            for e in 0..<UInt32(max(0, LLVMGetNumOperands(initializer))) {
                elements.append(LLVMGetOperand(initializer, e))
            }
        }
        LLVMDeleteGlobal(used)
    }
    elements.append(global)
    let array = LLVMConstArray2(pointerType, &elements, UInt64(elements.count))
    let used = LLVMAddGlobal(module.module, LLVMTypeOf(array), "llvm.used")
    LLVMSetInitializer(used, array)
    LLVMSetLinkage(used, LLVMAppendingLinkage)
    LLVMSetSection(used, "llvm.metadata")
}

/// Records the policy's digest in the executable: a constant in its own section,
/// kept by `llvm.used` so that neither code generation nor the linker drops it.
/// `sbx run` and `sbx policy install` compare it with the policy file they are given.
private func embedPolicyDigest(_ module: IRModule, contents: [UInt8]) {
    let name = "__sbx_policy_digest"
    if let old = LLVMGetNamedGlobal(module.module, name) { LLVMDeleteGlobal(old) }
    let context = module.context
    let bytes = contents.map { CChar(bitPattern: $0) }
    let initializer = bytes.withUnsafeBufferPointer {
        LLVMConstStringInContext(context, $0.baseAddress, UInt32(contents.count), 1)
    }
    let global = LLVMAddGlobal(module.module, LLVMTypeOf(initializer), name)
    LLVMSetInitializer(global, initializer)
    LLVMSetGlobalConstant(global, 1)
    LLVMSetLinkage(global, LLVMInternalLinkage)
    LLVMSetSection(global, PolicyDigest.sectionName)
    LLVMSetAlignment(global, 1)
    if let global { appendToUsed(module, global) }
}
