import CLLVM
import DyckAnalysis

/// Callback thunks: for a callback `f` (function index `i`), an internal function of
/// `f`'s type that marks `CB_ENTER(i)`, calls `f` with its own arguments, marks
/// `CB_EXIT(i)` and returns `f`'s result. libc then calls the thunk instead of `f`.
struct ThunkMaker {
    let module: LLVMModuleRef
    let context: LLVMContextRef
    let builder: Builder
    let markers: MarkerEmitter

    /// Function attributes a thunk shares with its callback. Code-generation settings
    /// (string attributes such as "target-features" and "frame-pointer", which also
    /// decide how vector arguments are passed) and the facts that stay true of a
    /// function that only adds two side-effecting system calls. Everything about
    /// inlining, optimization or memory effects is the callback's alone.
    private static let sharedFunctionAttributes = [
        "nounwind", "noreturn", "uwtable", "ssp", "sspstrong", "sspreq", "noredzone", "nocf_check"
    ]

    /// The thunk's declaration, without a body: the body's call of `callback` must be
    /// built after `redirectAddressUses`, or it would be redirected to the thunk itself.
    func declareThunk(for callback: LLVMValueRef, index: Int) -> LLVMValueRef? {
        guard let type = LLVMGlobalGetValueType(callback) else { return nil }
        let name = valueName(callback)
        let thunk: LLVMValueRef = LLVMAddFunction(
            module, (name.isEmpty ? "sbx.cb.\(index)" : name) + ".sbx_thunk", type)
        // Internal and without unnamed_addr: the thunk's address must stay unique,
        // since indirect calls compare pointers with it.
        LLVMSetLinkage(thunk, LLVMInternalLinkage)
        LLVMSetFunctionCallConv(thunk, LLVMGetFunctionCallConv(callback))
        copyFunctionAttributes(from: callback, to: thunk)
        return thunk
    }

    func buildBody(of thunk: LLVMValueRef, callback: LLVMValueRef, index: Int) {
        guard let type = LLVMGlobalGetValueType(callback) else { return }
        let entry: LLVMBasicBlockRef = LLVMAppendBasicBlockInContext(context, thunk, "entry")
        builder.positionAtEnd(entry)
        let id = UInt32(truncatingIfNeeded: index)
        markers.emit(.callbackEnter, id, builder: builder.ref, location: nil)
        let count = LLVMCountParams(thunk)
        var arguments: [LLVMValueRef?] = (0..<count).map { LLVMGetParam(thunk, $0) }
        let call = LLVMBuildCall2(builder.ref, type, callback, &arguments, count, "")
        if let call {
            LLVMSetInstructionCallConv(call, LLVMGetFunctionCallConv(callback))
            // Parameter and return attributes describe the ABI (byval, sret, zeroext,
            // ...): the thunk must receive and pass its arguments exactly as f does.
            for position in 0...count {
                for attribute in attributes(of: callback, at: LLVMAttributeIndex(position)) {
                    LLVMAddAttributeAtIndex(thunk, LLVMAttributeIndex(position), attribute)
                    LLVMAddCallSiteAttribute(call, LLVMAttributeIndex(position), attribute)
                }
            }
        }
        markers.emit(.callbackExit, id, builder: builder.ref, location: nil)
        if LLVMGetTypeKind(LLVMGetReturnType(type)) == LLVMVoidTypeKind || call == nil {
            LLVMBuildRetVoid(builder.ref)
        } else {
            LLVMBuildRet(builder.ref, call)
        }
    }

    private func copyFunctionAttributes(from source: LLVMValueRef, to target: LLVMValueRef) {
        let shared = Set(Self.sharedFunctionAttributes.map { LLVMGetEnumAttributeKindForName($0, $0.utf8.count) })
        for attribute in attributes(of: source, at: attributeFunctionIndex) {
            if LLVMIsStringAttribute(attribute) != 0 || shared.contains(LLVMGetEnumAttributeKind(attribute)) {
                LLVMAddAttributeAtIndex(target, attributeFunctionIndex, attribute)
            }
        }
    }

    private func attributes(of function: LLVMValueRef, at index: LLVMAttributeIndex) -> [LLVMAttributeRef] {
        let count = LLVMGetAttributeCountAtIndex(function, index)
        guard count > 0 else { return [] }
        var buffer = [LLVMAttributeRef?](repeating: nil, count: Int(count))
        LLVMGetAttributesAtIndex(function, index, &buffer)
        return buffer.compactMap { $0 }
    }
}

/// Makes every use of `callback`'s address use `thunk` instead: operands of
/// instructions, global initializers (tables, static structs, the ctor/dtor lists),
/// whatever the address went through. Where the address goes cannot be followed, so
/// all of them go; libc then can only receive the thunk. What stays `callback`: the
/// called operand of direct calls (the program's own calls are sites, not callbacks),
/// aliases of it (their own address uses are redirected the same way), and
/// `blockaddress` constants (they name a block of `callback`, not its address).
///
/// LLVMReplaceAllUsesWith is the only C API that rewrites uniqued constants, so
/// everything is replaced and the exceptions are put back.
func redirectAddressUses(of callback: LLVMValueRef, to thunk: LLVMValueRef) {
    redirect(callback, to: thunk, depth: 0)
}

private func redirect(_ value: LLVMValueRef, to thunk: LLVMValueRef, depth: Int) {
    // Alias and cast chains are short in valid IR; the bound only guards odd input.
    guard depth < 32 else { return }
    var calls = Set<LLVMValueRef>()
    var aliases = Set<LLVMValueRef>()
    var blockAddresses: [(constant: LLVMValueRef, block: LLVMBasicBlockRef)] = []
    collectExceptions(of: value, calls: &calls, aliases: &aliases, blockAddresses: &blockAddresses, depth: depth)

    LLVMReplaceAllUsesWith(value, pointer(thunk, as: LLVMTypeOf(value)))

    for call in calls {
        let last = UInt32(max(0, LLVMGetNumOperands(call) - 1))
        let current = LLVMGetOperand(call, last)
        LLVMSetOperand(call, last, pointer(value, as: current.map { LLVMTypeOf($0) }))
    }
    for alias in aliases {
        LLVMAliasSetAliasee(alias, pointer(value, as: LLVMTypeOf(alias)))
    }
    // The replacement edits a blockaddress in place to name the thunk; a new one for
    // the function takes over its uses.
    for (stale, block) in blockAddresses where LLVMGetBlockAddressFunction(stale) != value {
        guard let fresh = LLVMBlockAddress(value, block) else { continue }
        LLVMReplaceAllUsesWith(stale, fresh)
    }
    for alias in aliases { redirect(alias, to: thunk, depth: depth + 1) }
}

/// The uses of `value` that `redirect` puts back, looking through pointer casts.
private func collectExceptions(
    of value: LLVMValueRef, calls: inout Set<LLVMValueRef>, aliases: inout Set<LLVMValueRef>,
    blockAddresses: inout [(constant: LLVMValueRef, block: LLVMBasicBlockRef)], depth: Int
) {
    guard depth < 32 else { return }
    var use = LLVMGetFirstUse(value)
    while let u = use {
        use = LLVMGetNextUse(u)
        guard let user = LLVMGetUser(u) else { continue }
        if LLVMIsACallInst(user) != nil || LLVMIsAInvokeInst(user) != nil || LLVMIsACallBrInst(user) != nil {
            let operands = LLVMGetNumOperands(user)
            if operands > 0, LLVMGetOperandUse(user, UInt32(operands - 1)) == u { calls.insert(user) }
        } else if LLVMIsAGlobalAlias(user) != nil {
            aliases.insert(user)
        } else if LLVMIsABlockAddress(user) != nil {
            if let block = LLVMGetBlockAddressBasicBlock(user) { blockAddresses.append((user, block)) }
        } else if LLVMIsAConstantExpr(user) != nil,
            LLVMGetConstOpcode(user) == LLVMBitCast || LLVMGetConstOpcode(user) == LLVMAddrSpaceCast
        {
            collectExceptions(
                of: user, calls: &calls, aliases: &aliases, blockAddresses: &blockAddresses, depth: depth + 1)
        }
    }
}

/// `llvm.used` and `llvm.compiler.used` as they were before the redirection, which
/// must not touch them: they keep a symbol alive for uses the compiler cannot see
/// (inline asm, the linker), and those mean the function itself, not its thunk.
struct UsedLists {
    private var saved: [(global: LLVMValueRef, elements: [LLVMValueRef?])] = []

    init(module: LLVMModuleRef) {
        for name in ["llvm.used", "llvm.compiler.used"] {
            guard let global = LLVMGetNamedGlobal(module, name), let initializer = LLVMGetInitializer(global),
                LLVMIsAConstantArray(initializer) != nil
            else { continue }
            let count = UInt32(max(0, LLVMGetNumOperands(initializer)))
            // Globals survive the redirection; other constants (casts) may be destroyed
            // by it, so only globals are kept.
            let elements = (0..<count).map { e -> LLVMValueRef? in
                LLVMGetOperand(initializer, e).flatMap { LLVMIsAGlobalValue($0) }
            }
            saved.append((global, elements))
        }
    }

    func restore() {
        for (global, elements) in saved {
            guard let initializer = LLVMGetInitializer(global), LLVMIsAConstantArray(initializer) != nil,
                let elementType = LLVMGetElementType(LLVMTypeOf(initializer)),
                LLVMGetNumOperands(initializer) == Int32(elements.count)
            else { continue }
            var restored: [LLVMValueRef?] = elements.enumerated().map { e, saved in
                let current = LLVMGetOperand(initializer, UInt32(e))
                return saved.map { pointer($0, as: current.map { LLVMTypeOf($0) }) } ?? current
            }
            LLVMSetInitializer(global, LLVMConstArray2(elementType, &restored, UInt64(restored.count)))
        }
    }
}
