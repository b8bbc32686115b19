import CLLVM
import DyckModel

/// K for `dyck-gen` and `dyck-cc` when none is given: 0 (off). The measurements favour
/// 16 (docs/benchmarks.md, "Inlining small callees") and the attack suite holds at 16,
/// but at 16 the nfa machine of SQLite's shell has 89× the transitions it has at 0
/// (7,870,931: a 63 MiB blob, 5 minutes of CPU to build, 6% below the kernel's cap).
/// Turn it on with `--inline-limit 16` / `--dyck-inline=16`.
public let defaultInlineLimit = 0

/// The functions that may return twice, by name (besides any function or call with the
/// `returns_twice` attribute).
private let returnsTwiceNames: Set<String> = [
    "setjmp", "_setjmp", "__sigsetjmp", "sigsetjmp", "savectx", "vfork", "getcontext"
]

/// Inlines small callees (`Policy.inliningSmallCallees`, specs/analysis.md): the
/// `musttail` sites are the tail sites (their `TAIL` marker replaces the frame), and a
/// site is eligible when its callee calls no returns-twice function (its `SJ_SAVE`
/// records the top frame, which must be the callee's own). The policy loses the inlined sites, the remaining
/// ones are renumbered, and `analysis.calls` drops the inlined calls (direct calls, no
/// libc target), so the instrumentation places no `CALL`/`RET` there.
func inlineSmallCallees(_ analysis: inout ModuleAnalysis, limit: Int) {
    let policy = analysis.result.policy
    var siteCall = [LLVMValueRef?](repeating: nil, count: policy.sites.count)
    for events in analysis.calls.values {
        if let site = events.site, siteCall.indices.contains(site) { siteCall[site] = events.instruction }
    }
    var returnsTwice: [Int: Bool] = [:]
    let functions = analysis.functions
    let tailSites = Set(policy.sites.indices.filter { siteCall[$0].map(isMusttail) ?? false })
    let inlined = policy.inliningSmallCallees(limit: limit, tailSites: tailSites) { s in
        guard siteCall[s] != nil else { return false }
        let g = policy.sites[s].callees[0]
        if let known = returnsTwice[g] { return !known }
        let found = callsReturnsTwice(functions[g])
        returnsTwice[g] = found
        return !found
    }
    guard inlined.inlinedCount > 0 else { return }
    var calls: [CallKey: CallEvents] = [:]
    calls.reserveCapacity(analysis.calls.count)
    for (key, var events) in analysis.calls {
        if let site = events.site {
            events.site = inlined.siteMap[site]
            // An inlined site is a direct call: no libc target, nothing left to mark.
            if events.site == nil && events.libc.isEmpty && !events.indirect { continue }
        }
        calls[key] = events
    }
    analysis.calls = calls
    analysis.result.policy = inlined.policy
    analysis.inlinedSites = inlined.inlinedCount
}

private func isMusttail(_ call: LLVMValueRef) -> Bool {
    LLVMIsACallInst(call) != nil && LLVMGetTailCallKind(call) == LLVMTailCallKindMustTail
}

/// Whether `function` calls a function that may return twice.
private func callsReturnsTwice(_ function: LLVMValueRef) -> Bool {
    let kind = LLVMGetEnumAttributeKindForName("returns_twice", 13)
    let functionIndex = LLVMAttributeIndex(UInt32.max)
    var block = LLVMGetFirstBasicBlock(function)
    while let b = block {
        var instruction = LLVMGetFirstInstruction(b)
        while let inst = instruction {
            instruction = LLVMGetNextInstruction(inst)
            guard LLVMIsACallInst(inst) != nil || LLVMIsAInvokeInst(inst) != nil else { continue }
            if LLVMGetCallSiteEnumAttribute(inst, functionIndex, kind) != nil { return true }
            guard let called = LLVMGetCalledValue(inst) else { continue }
            let callee = stripCasts(called)
            guard LLVMIsAFunction(callee) != nil else { continue }
            if returnsTwiceNames.contains(valueName(callee))
                || LLVMGetEnumAttributeAtIndex(callee, functionIndex, kind) != nil
            {
                return true
            }
        }
        block = LLVMGetNextBasicBlock(b)
    }
    return false
}
