import CLLVM

/// An instruction builder, disposed with the wrapper.
///
/// It never carries a current debug location: LLVM's builder stamps that location on
/// every instruction it inserts, including the ones we move between blocks, which
/// would overwrite their own locations; and positioning before an instruction makes
/// that instruction's location current. Locations are set per instruction instead.
final class Builder {
    let ref: LLVMBuilderRef

    init(context: LLVMContextRef) {
        ref = LLVMCreateBuilderInContext(context)
    }

    deinit {
        LLVMDisposeBuilder(ref)
    }

    func positionAtEnd(_ block: LLVMBasicBlockRef) {
        LLVMPositionBuilderAtEnd(ref, block)
        LLVMSetCurrentDebugLocation2(ref, nil)
    }

    func positionBefore(_ instruction: LLVMValueRef) {
        LLVMPositionBuilderBefore(ref, instruction)
        LLVMSetCurrentDebugLocation2(ref, nil)
    }

    @discardableResult
    func branch(to block: LLVMBasicBlockRef) -> LLVMValueRef? {
        LLVMBuildBr(ref, block)
    }

    @discardableResult
    func branch(if condition: LLVMValueRef, then yes: LLVMBasicBlockRef, else no: LLVMBasicBlockRef) -> LLVMValueRef? {
        LLVMBuildCondBr(ref, condition, yes, no)
    }
}

/// Copies an LLVM-allocated message into a String and frees it.
func takeMessage(_ message: UnsafeMutablePointer<CChar>?) -> String {
    guard let message else { return "" }
    defer { LLVMDisposeMessage(message) }
    return String(cString: message)
}

func valueName(_ value: LLVMValueRef) -> String {
    var length = 0
    guard let name = LLVMGetValueName2(value, &length), length > 0 else { return "" }
    return name.withMemoryRebound(to: UInt8.self, capacity: length) {
        String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
    }
}

func setValueName(_ value: LLVMValueRef, _ name: String) {
    LLVMSetValueName2(value, name, name.utf8.count)
}

/// The value with pointer-cast constant expressions and aliases removed: how the
/// analysis resolves a callee, so that both see the same function.
func stripCasts(_ value: LLVMValueRef) -> LLVMValueRef {
    var current = value
    // Alias and cast chains are short in valid IR; the bound only guards odd input.
    for _ in 0..<32 {
        if LLVMIsAGlobalAlias(current) != nil, let aliasee = LLVMAliasGetAliasee(current) {
            current = aliasee
        } else if LLVMIsAConstantExpr(current) != nil,
            LLVMGetConstOpcode(current) == LLVMBitCast || LLVMGetConstOpcode(current) == LLVMAddrSpaceCast,
            let operand = LLVMGetOperand(current, 0)
        {
            current = operand
        } else {
            break
        }
    }
    return current
}

/// `value` as a constant of `type` (both pointers), for replacing an operand of that type.
func pointer(_ value: LLVMValueRef, as type: LLVMTypeRef?) -> LLVMValueRef {
    guard let type, LLVMTypeOf(value) != type, let cast = LLVMConstPointerCast(value, type) else { return value }
    return cast
}

/// Control-flow edits the C API lacks: it can move single instructions and create
/// blocks, but has no block splitting and no way to retarget a PHI's incoming block.
struct CFGEditor {
    let context: LLVMContextRef
    let builder: Builder

    /// A new empty block placed right after `block` in the layout.
    func newBlock(after block: LLVMBasicBlockRef, name: String) -> LLVMBasicBlockRef {
        let function = LLVMGetBasicBlockParent(block)
        let created: LLVMBasicBlockRef = LLVMAppendBasicBlockInContext(context, function, name)
        LLVMMoveBasicBlockAfter(created, block)
        return created
    }

    /// Moves `first` and every instruction after it in its block, terminator included,
    /// to the end of `target`, and renames the moved edges in the PHIs of the
    /// successors. The source block is left without a terminator.
    func moveTail(from first: LLVMValueRef, to target: LLVMBasicBlockRef) {
        guard let source = LLVMGetInstructionParent(first) else { return }
        builder.positionAtEnd(target)
        var next: LLVMValueRef? = first
        while let instruction = next {
            next = LLVMGetNextInstruction(instruction)
            // Insertion renames the instruction; passing its own name keeps it.
            let name = valueName(instruction)
            LLVMInstructionRemoveFromParent(instruction)
            LLVMInsertIntoBuilderWithName(builder.ref, instruction, name)
        }
        if let terminator = LLVMGetBasicBlockTerminator(target) {
            for successor in successors(of: terminator) {
                replaceIncoming(in: successor, from: source, to: target)
            }
        }
    }

    /// The distinct successor blocks of a terminator.
    func successors(of terminator: LLVMValueRef) -> [LLVMBasicBlockRef] {
        var result: [LLVMBasicBlockRef] = []
        let count = LLVMGetNumSuccessors(terminator)
        for s in 0..<count {
            if let block = LLVMGetSuccessor(terminator, s), !result.contains(block) { result.append(block) }
        }
        return result
    }

    /// Makes the PHIs of `block` name `new` where they named `old` as incoming block.
    /// A PHI's incoming blocks cannot be changed through the C API, so each affected
    /// PHI is rebuilt in place and replaces the old one.
    func replaceIncoming(in block: LLVMBasicBlockRef, from old: LLVMBasicBlockRef, to new: LLVMBasicBlockRef) {
        var next = LLVMGetFirstInstruction(block)
        while let phi = next, LLVMIsAPHINode(phi) != nil {
            next = LLVMGetNextInstruction(phi)
            let count = LLVMCountIncoming(phi)
            var values: [LLVMValueRef?] = []
            var blocks: [LLVMBasicBlockRef?] = []
            var affected = false
            for i in 0..<count {
                let incoming = LLVMGetIncomingBlock(phi, i)
                affected = affected || incoming == old
                values.append(LLVMGetIncomingValue(phi, i))
                blocks.append(incoming == old ? new : incoming)
            }
            guard affected else { continue }
            builder.positionBefore(phi)
            guard let replacement = LLVMBuildPhi(builder.ref, LLVMTypeOf(phi), "") else { continue }
            LLVMAddIncoming(replacement, &values, &blocks, count)
            if LLVMCanValueUseFastMathFlags(phi) != 0 {
                LLVMSetFastMathFlags(replacement, LLVMGetFastMathFlags(phi))
            }
            if let location = LLVMInstructionGetDebugLoc(phi) { LLVMInstructionSetDebugLoc(replacement, location) }
            let name = valueName(phi)
            setValueName(phi, "")
            setValueName(replacement, name)
            LLVMReplaceAllUsesWith(phi, replacement)
            LLVMInstructionEraseFromParent(phi)
        }
    }

    /// The first instruction of `block` that is not a PHI.
    func firstNonPHI(_ block: LLVMBasicBlockRef) -> LLVMValueRef? {
        var next = LLVMGetFirstInstruction(block)
        while let instruction = next, LLVMIsAPHINode(instruction) != nil {
            next = LLVMGetNextInstruction(instruction)
        }
        return next
    }

    /// Whether `block` is entered only through `terminator` (no other branch, no
    /// `blockaddress`).
    func isOnlyEntered(_ block: LLVMBasicBlockRef, through terminator: LLVMValueRef) -> Bool {
        var use = LLVMGetFirstUse(LLVMBasicBlockAsValue(block))
        while let u = use {
            use = LLVMGetNextUse(u)
            if LLVMGetUser(u) != terminator { return false }
        }
        return true
    }
}
