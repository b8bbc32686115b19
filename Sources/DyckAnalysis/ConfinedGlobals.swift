import CLLVM

/// Function pointers that live in one global variable and go nowhere else.
///
/// Type-based candidates lump together all functions of one type, and with opaque
/// pointers `int f(struct a *)` and `int g(struct b *)` have the same type. A global
/// variable whose address is never taken (every use is a load from it or a store into
/// it, by name) is memory that only those loads can read. When, in addition, every
/// load's value is only called or compared, a function whose address only ever goes
/// into such globals (or is compared) can be called at those calls and nowhere else.
/// This is def-use tracking, not types, so it holds whatever casts the source made.
/// It assumes, like the rest of the analysis, that the module is the whole program
/// apart from libc (no other code names the global).
struct GlobalFunctionFlow {
    /// The function constants stored into the global or initializing it, in the order
    /// first seen.
    var functions: [LLVMValueRef] = []
    /// Every value the global ever holds is one of `functions`, null or undefined: a
    /// load from it calls one of `functions` or crashes.
    var closed = true
    /// Some load's value is used other than as the called operand of a call or in a
    /// comparison: the functions can flow anywhere from there.
    var leaks = false

    fileprivate mutating func note(_ value: LLVMValueRef) {
        let stripped = stripCasts(value)
        if LLVMIsAFunction(stripped) != nil {
            if !functions.contains(stripped) { functions.append(stripped) }
        } else if !(LLVMIsAConstant(value) != nil
            && (LLVMIsNull(value) != 0 || LLVMIsUndef(value) != 0 || LLVMIsPoison(value) != 0))
        {
            closed = false
        }
    }
}

/// The defined global variables whose address is never taken, with what they hold.
func confinedGlobals(of module: LLVMModuleRef) -> [LLVMValueRef: GlobalFunctionFlow] {
    var result: [LLVMValueRef: GlobalFunctionFlow] = [:]
    var next = LLVMGetFirstGlobal(module)
    while let global = next {
        next = LLVMGetNextGlobal(global)
        guard LLVMIsDeclaration(global) == 0, LLVMIsExternallyInitialized(global) == 0,
            let initializer = LLVMGetInitializer(global)
        else { continue }
        var flow = GlobalFunctionFlow()
        flow.note(initializer)
        var loads: [LLVMValueRef] = []
        var confined = true
        var use = LLVMGetFirstUse(global)
        while confined, let u = use {
            use = LLVMGetNextUse(u)
            guard let user = LLVMGetUser(u) else { continue }
            if LLVMIsALoadInst(user) != nil {
                loads.append(user)
            } else if LLVMIsAStoreInst(user) != nil, LLVMGetOperand(user, 1) == global,
                let stored = LLVMGetOperand(user, 0), stored != global
            {
                flow.note(stored)
            } else if !isDeadConstant(user) {
                confined = false
            }
        }
        guard confined else { continue }
        flow.leaks = loads.contains { !isOnlyCalledOrCompared($0) }
        result[global] = flow
    }
    return result
}

/// Whether the address of `f` (already known to be taken) only goes into globals of
/// `globals` that do not leak, or into comparisons.
func isConfinedFunction(_ f: LLVMValueRef, globals: [LLVMValueRef: GlobalFunctionFlow]) -> Bool {
    var use = LLVMGetFirstUse(f)
    while let u = use {
        use = LLVMGetNextUse(u)
        guard let user = LLVMGetUser(u) else { continue }
        if isCalledOperand(u, of: user) || LLVMIsAICmpInst(user) != nil || isDeadConstant(user) { continue }
        if LLVMIsAGlobalVariable(user) != nil, globals[user]?.leaks == false, LLVMGetInitializer(user) == f {
            continue
        }
        if LLVMIsAStoreInst(user) != nil, LLVMGetOperand(user, 0) == f, let target = LLVMGetOperand(user, 1),
            globals[target]?.leaks == false
        {
            continue
        }
        return false
    }
    return true
}

/// The global a call's callee is loaded from, when the called operand is a plain load
/// of a global variable.
func calleeGlobal(of call: LLVMValueRef) -> LLVMValueRef? {
    guard let called = LLVMGetCalledValue(call), LLVMIsALoadInst(called) != nil,
        let source = LLVMGetOperand(called, 0), LLVMIsAGlobalVariable(source) != nil
    else { return nil }
    return source
}

private func isOnlyCalledOrCompared(_ value: LLVMValueRef) -> Bool {
    var use = LLVMGetFirstUse(value)
    while let u = use {
        use = LLVMGetNextUse(u)
        guard let user = LLVMGetUser(u) else { continue }
        if LLVMIsAICmpInst(user) != nil { continue }
        if LLVMIsACallBrInst(user) == nil, isCalledOperand(u, of: user) { continue }
        return false
    }
    return true
}

/// Whether `use` is the called operand of the call, invoke or callbr `user`.
func isCalledOperand(_ use: LLVMUseRef, of user: LLVMValueRef) -> Bool {
    guard LLVMIsACallInst(user) != nil || LLVMIsAInvokeInst(user) != nil || LLVMIsACallBrInst(user) != nil
    else { return false }
    let operands = LLVMGetNumOperands(user)
    return operands > 0 && LLVMGetOperandUse(user, UInt32(operands - 1)) == use
}

/// A constant expression with no users (left behind by the parser): no real use.
func isDeadConstant(_ value: LLVMValueRef) -> Bool {
    LLVMIsAConstant(value) != nil && LLVMIsAGlobalValue(value) == nil && LLVMGetFirstUse(value) == nil
}
