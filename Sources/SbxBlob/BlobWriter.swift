import CSbxCore
import DyckModel

/// Compiles `policy` into the kernel's binary blob (`specs/kernel-abi.md`): the
/// macro-state machine of the policy (`mode == .dyck`) or of its flattened NFA
/// (`mode == .nfa`). In both modes `policy` is the one the program was instrumented
/// for (dyck-gen's): an nfa blob keeps its site count and its callbacks' function
/// indices, so that it enforces the flattened model on the same binary. Equal inputs
/// give byte-identical blobs.
///
/// Throws the policy's first validity error, `BlobError.badStackLimit`, or
/// `BlobError.capExceeded` naming the table over its cap.
public func buildBlob(policy: Policy, mode: BlobMode, stackLimit: Int = BlobLimits.defaultStackLimit) throws -> [UInt8] {
    guard stackLimit >= 1, stackLimit <= BlobLimits.maxStackLimit else { throw BlobError.badStackLimit(stackLimit) }
    let machine = try MacroMachine(policy: policy, mode: mode)
    return try encodeBlob(machine, stackLimit: stackLimit)
}

/// The blob of a compiled machine.
public func encodeBlob(_ machine: MacroMachine, stackLimit: Int = BlobLimits.defaultStackLimit) throws -> [UInt8] {
    guard stackLimit >= 1, stackLimit <= BlobLimits.maxStackLimit else { throw BlobError.badStackLimit(stackLimit) }
    let policy = machine.policy
    let header = Int(SBX_BLOB_HEADER_SIZE)
    let mstatesOff = header
    let transOff = mstatesOff + Int(SBX_BLOB_MSTATE_SIZE) * machine.macroStateCount
    let sitesOff = transOff + Int(SBX_BLOB_TRANS_SIZE) * machine.transitionCount
    let callbacksOff = sitesOff + Int(SBX_BLOB_SITE_SIZE) * machine.siteEntries.count
    let size = callbacksOff + Int(SBX_BLOB_CALLBACK_SIZE) * machine.callbackEntries.count
    if size > BlobLimits.maxSize {
        throw BlobError.capExceeded(what: "blob bytes", count: size, cap: BlobLimits.maxSize)
    }

    var out: [UInt8] = []
    out.reserveCapacity(size)
    func put(_ value: Int) {
        let v = UInt32(truncatingIfNeeded: value)
        out.append(UInt8(v & 0xff))
        out.append(UInt8((v >> 8) & 0xff))
        out.append(UInt8((v >> 16) & 0xff))
        out.append(UInt8(v >> 24))
    }
    put(Int(SBX_BLOB_MAGIC))
    put(Int(SBX_BLOB_VERSION))
    put(header)
    put(machine.mode == .nfa ? Int(SBX_BLOB_F_NFA) : 0)
    put(size)
    put(stackLimit)
    put(policy.symbols.count)
    put(machine.functionCount)
    put(machine.siteCount)
    put(machine.callbackEntries.count)
    put(machine.macroStateCount)
    put(machine.transitionCount)
    put(machine.initial)
    put(machine.threadStart)
    put(mstatesOff)
    put(transOff)
    put(sitesOff)
    put(callbacksOff)
    put(0)
    put(0)

    var first = 0
    for m in 0..<machine.macroStateCount {
        put(first)
        put(machine.transitions[m].count)
        put(machine.finals[m] ? Int(SBX_MSTATE_F_FINAL) : 0)
        first += machine.transitions[m].count
    }
    for list in machine.transitions {
        for t in list {
            put(Int(t.key.encoded))
            put(t.target)
        }
    }
    for entered in machine.siteEntries { put(entered) }
    for cb in machine.callbackEntries {
        put(cb.function)
        put(cb.entered)
    }
    precondition(out.count == size, "blob layout")
    return out
}
