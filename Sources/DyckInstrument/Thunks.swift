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
        "nounwind", "noreturn", "uwtable", "ssp", "sspstrong", "sspreq", "noredzone", "nocf_check",
    ]

    func makeThunk(for callback: LLVMValueRef, index: Int) -> LLVMValueRef? {
        guard let type = LLVMGlobalGetValueType(callback) else { return nil }
        let name = valueName(callback)
        let thunk: LLVMValueRef = LLVMAddFunction(module, (name.isEmpty ? "sbx.cb.\(index)" : name) + ".sbx_thunk", type)
        // Internal and without unnamed_addr: the thunk's address must stay unique,
        // since indirect calls compare pointers with it.
        LLVMSetLinkage(thunk, LLVMInternalLinkage)
        let convention = LLVMGetFunctionCallConv(callback)
        LLVMSetFunctionCallConv(thunk, convention)
        copyFunctionAttributes(from: callback, to: thunk)

        let entry: LLVMBasicBlockRef = LLVMAppendBasicBlockInContext(context, thunk, "entry")
        builder.positionAtEnd(entry)
        let id = UInt32(truncatingIfNeeded: index)
        markers.emit(.callbackEnter, id, builder: builder.ref, location: nil)
        let count = LLVMCountParams(thunk)
        var arguments: [LLVMValueRef?] = (0..<count).map { LLVMGetParam(thunk, $0) }
        let call = LLVMBuildCall2(builder.ref, type, callback, &arguments, count, "")
        if let call {
            LLVMSetInstructionCallConv(call, convention)
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
        return thunk
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

/// Replaces the callback-making uses of each thunked function's address (the uses the
/// analysis found, see `CallbackUse`) with its thunk.
func replaceCallbackUses(
    _ uses: [CallbackUse], thunks: [Int: LLVMValueRef], context: LLVMContextRef
) {
    var structors: [LLVMValueRef: [UInt32: LLVMValueRef]] = [:]
    var structorOrder: [LLVMValueRef] = []
    for use in uses {
        guard let thunk = thunks[use.function] else { continue }
        switch use.place {
        case let .argument(call, operand):
            let old = LLVMGetOperand(call, operand)
            LLVMSetOperand(call, operand, pointer(thunk, as: old.flatMap { LLVMTypeOf($0) }))
        case let .stored(store):
            let old = LLVMGetOperand(store, 0)
            LLVMSetOperand(store, 0, pointer(thunk, as: old.flatMap { LLVMTypeOf($0) }))
        case let .structor(global, element):
            if structors[global] == nil { structorOrder.append(global) }
            structors[global, default: [:]][element] = thunk
        }
    }
    for global in structorOrder {
        guard let replacements = structors[global] else { continue }
        replaceStructorEntries(of: global, replacements, context: context)
    }
}

/// Rebuilds the initializer of `llvm.global_ctors`/`dtors` with the function of the
/// given elements replaced (constants are uniqued and cannot be edited in place).
private func replaceStructorEntries(
    of global: LLVMValueRef, _ replacements: [UInt32: LLVMValueRef], context: LLVMContextRef
) {
    guard let initializer = LLVMGetInitializer(global), let elementType = LLVMGetElementType(LLVMTypeOf(initializer))
    else { return }
    let count = UInt32(max(0, LLVMGetNumOperands(initializer)))
    var elements: [LLVMValueRef?] = []
    for e in 0..<count {
        guard let element = LLVMGetOperand(initializer, e) else { return }
        guard let thunk = replacements[e] else {
            elements.append(element)
            continue
        }
        let fieldCount = UInt32(max(0, LLVMGetNumOperands(element)))
        var fields: [LLVMValueRef?] = (0..<fieldCount).map { LLVMGetOperand(element, $0) }
        guard fields.count >= 2, let old = fields[1] else { return }
        fields[1] = pointer(thunk, as: LLVMTypeOf(old))
        if LLVMIsLiteralStruct(elementType) != 0 {
            elements.append(
                LLVMConstStructInContext(context, &fields, fieldCount, LLVMIsPackedStruct(elementType)))
        } else {
            elements.append(LLVMConstNamedStruct(elementType, &fields, fieldCount))
        }
    }
    LLVMSetInitializer(global, LLVMConstArray2(elementType, &elements, UInt64(count)))
}
