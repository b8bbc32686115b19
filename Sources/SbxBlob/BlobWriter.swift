import CSbxCore
import DyckModel

/// Compiles `policy` into the kernel's binary blob (`specs/kernel-abi.md`): the
/// macro-state machine of the policy (`mode == .dyck`) or of its flattened NFA
/// (`mode == .nfa`). In both modes `policy` is the one the program was instrumented
/// for (dyck-gen's): an nfa blob keeps its site count and its callbacks' function
/// indices, so that it enforces the flattened model on the same binary. Equal inputs
/// give byte-identical blobs.
///
/// The policy's system-call binding (`Policy.syscalls`), when it has one, makes the
/// blob `SBX_BLOB_F_BOUND`; `pins` (the executable's `.sbx_sites` table) makes it
/// `SBX_BLOB_F_PINNED`.
///
/// `stackLimit` is the slots of a thread's store (frame entries and setjmp records),
/// `maxDepth` the bound on its logical stack depth. With `names` (the default) the
/// blob carries the names section, so that the kernel log names the libc function
/// and the function of the top frame of a violation (`BlobNames`).
///
/// Throws the policy's first validity error, `BlobError.badStackLimit`,
/// `BlobError.badMaxDepth`, or `BlobError.capExceeded` naming the table over its cap.
public func buildBlob(
    policy: Policy, mode: BlobMode, stackLimit: Int = BlobLimits.defaultStackLimit,
    maxDepth: Int = BlobLimits.defaultMaxDepth, pins: BlobPins? = nil, eventBuffer: BlobEventBuffer? = nil,
    names: Bool = true
) throws -> [UInt8] {
    try checkBounds(stackLimit: stackLimit, maxDepth: maxDepth)
    let machine = try MacroMachine(policy: policy, mode: mode)
    return try encodeBlob(
        machine, stackLimit: stackLimit, maxDepth: maxDepth, pins: pins, eventBuffer: eventBuffer, names: names)
}

/// The per-thread event buffer of a program built with `dyck-cc --dyck-buffer`
/// (specs/kernel-abi.md, "Buffered events"): where it is, and which `LIBC` events
/// may come from it.
public struct BlobEventBuffer: Hashable, Sendable {
    /// The buffer's local-exec TLS offset from the thread pointer (`.sbx_evbuf`):
    /// negative, a multiple of 8, at least `sizeof(struct sbx_evbuf)` below it.
    public var tpoff: Int64
    /// Per symbol id of the policy: may its `LIBC` events come from the buffer?
    public var bufferable: [Bool]

    public init(tpoff: Int64, bufferable: [Bool]) {
        self.tpoff = tpoff
        self.bufferable = bufferable
    }

    /// The bytes of the blob's section (`struct sbx_blob_evbuf` and the bit words).
    func encoded() -> [UInt8] {
        var out: [UInt8] = []
        func put(_ v: UInt32) { for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) } }
        let tp = UInt64(bitPattern: tpoff)
        put(UInt32(truncatingIfNeeded: tp))
        put(UInt32(truncatingIfNeeded: tp >> 32))
        put(UInt32(SBX_EVBUF_CAP))
        let words = (bufferable.count + 31) / 32
        put(UInt32(words))
        for w in 0..<words {
            var bits: UInt32 = 0
            for b in 0..<32 where 32 * w + b < bufferable.count && bufferable[32 * w + b] { bits |= 1 << UInt32(b) }
            put(bits)
        }
        return out
    }

    /// Throws `BlobError.badEventBuffer` unless the kernel would accept it for a
    /// policy of `symbols` symbols.
    func check(symbols: Int) throws {
        guard bufferable.count == symbols else {
            throw BlobError.badEventBuffer("\(bufferable.count) bufferable flags for \(symbols) symbols")
        }
        let size = Int64(MemoryLayout<sbx_evbuf>.size)
        let bound = BlobLimits.maxEventBufferOffset
        guard tpoff <= -size, tpoff >= -bound, tpoff % 8 == 0 else {
            throw BlobError.badEventBuffer(
                "thread-pointer offset \(tpoff) is not a multiple of 8 in -\(bound)...-\(size)")
        }
    }
}

/// The two bounds of a thread's monitor stack that a blob carries.
public struct StackBounds: Sendable, Equatable {
    public var stackLimit: Int
    public var maxDepth: Int
    public init(stackLimit: Int = BlobLimits.defaultStackLimit, maxDepth: Int = BlobLimits.defaultMaxDepth) {
        self.stackLimit = stackLimit
        self.maxDepth = maxDepth
    }
}

func checkBounds(stackLimit: Int, maxDepth: Int) throws {
    guard stackLimit >= 1, stackLimit <= BlobLimits.maxStackLimit else { throw BlobError.badStackLimit(stackLimit) }
    guard maxDepth >= 1, maxDepth <= BlobLimits.maxMaxDepth else { throw BlobError.badMaxDepth(maxDepth) }
}

/// The pinned marker sites of an executable (specs/marker-abi.md, "Pinned sites"),
/// as the kernel checks them: entry `i` of the table is at `tableVaddr + 16 * i`.
public struct BlobPins: Hashable, Sendable {
    public struct Site: Hashable, Sendable {
        /// Link-time address of the marker's `syscall` instruction.
        public var vaddr: UInt64
        public var kind: UInt32
        public var id: UInt32

        public init(vaddr: UInt64, kind: UInt32, id: UInt32) {
            self.vaddr = vaddr
            self.kind = kind
            self.id = id
        }
    }

    /// Link-time address of the `.sbx_sites` section.
    public var tableVaddr: UInt64
    /// The lowest link-time address of the executable's code segments.
    public var textVaddr: UInt64
    /// In table order.
    public var sites: [Site]

    public init(tableVaddr: UInt64, textVaddr: UInt64, sites: [Site]) {
        self.tableVaddr = tableVaddr
        self.textVaddr = textVaddr
        self.sites = sites
    }

    /// The bytes the table holds in the kernel, for cache keys.
    public var encoded: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(16 + 16 * sites.count)
        func put64(_ v: UInt64) { for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) } }
        put64(tableVaddr)
        put64(textVaddr)
        for s in sites {
            put64(s.vaddr)
            put64(UInt64(s.kind) | UInt64(s.id) << 32)
        }
        return out
    }
}

/// The 64-byte map of a system-call set (`SBX_SET_SIZE`): bit n for call n, bit 510 for
/// `opensForWriting`, bit 511 for `mapsExecutable`.
func encodeSystemCallSet(_ set: SystemCallSet) -> [UInt8] {
    var map = [UInt8](repeating: 0, count: Int(SBX_SET_SIZE))
    for n in set.numbers where n >= 0 && n <= Int(SBX_SET_NR_MAX) {
        map[n / 8] |= UInt8(1) << UInt8(n % 8)
    }
    if set.mapsExecutable {
        let bit = Int(SBX_SET_BIT_EXEC_MAP)
        map[bit / 8] |= UInt8(1) << UInt8(bit % 8)
    }
    if set.opensForWriting {
        let bit = Int(SBX_SET_BIT_OPEN_WRITE)
        map[bit / 8] |= UInt8(1) << UInt8(bit % 8)
    }
    return map
}

/// The names section of a blob (`struct sbx_blob_names`, specs/kernel-abi.md,
/// "Names"): for the kernel log only. Names are the original policy's symbols and
/// functions, each made what the kernel accepts: bytes outside printable ASCII
/// (0x21...0x7e) become `?`, a name is cut to `SBX_NAME_LEN_MAX` bytes, and an empty
/// one is `?`.
public enum BlobNames {
    public static let maxLength = Int(SBX_NAME_LEN_MAX)

    /// The bytes the kernel accepts for `name`.
    public static func sanitized(_ name: String) -> [UInt8] {
        var bytes = name.utf8.prefix(maxLength).map { (0x21...0x7e).contains($0) ? $0 : UInt8(ascii: "?") }
        if bytes.isEmpty { bytes = [UInt8(ascii: "?")] }
        return bytes
    }

    /// The section of `machine`: the root's function, each site's only callee (dyck
    /// mode; an nfa blob has no site frames), the names.
    static func encode(_ machine: MacroMachine) -> [UInt8] {
        let policy = machine.original
        let none = Int(SBX_NAME_NONE)
        let callees =
            machine.mode == .nfa
            ? [] : policy.sites.map { $0.callees.count == 1 ? $0.callees[0] : none }
        let names = policy.symbols.map(sanitized) + policy.functions.map { sanitized($0.name) }
        var out: [UInt8] = []
        func put(_ value: Int) {
            let v = UInt32(truncatingIfNeeded: value)
            for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8((v >> UInt32(shift)) & 0xff)) }
        }
        put(names.count)
        put(policy.functions.indices.contains(policy.entry) ? policy.entry : none)
        put(callees.count)
        for callee in callees { put(callee) }
        var offset = 0
        for name in names {
            put(offset)
            offset += name.count + 1
        }
        for name in names {
            out.append(contentsOf: name)
            out.append(0)
        }
        return out
    }
}

/// The blob of a compiled machine; the binding is the original policy's.
public func encodeBlob(
    _ machine: MacroMachine, stackLimit: Int = BlobLimits.defaultStackLimit,
    maxDepth: Int = BlobLimits.defaultMaxDepth, pins: BlobPins? = nil, eventBuffer: BlobEventBuffer? = nil,
    names: Bool = true
) throws -> [UInt8] {
    try checkBounds(stackLimit: stackLimit, maxDepth: maxDepth)
    // The flattening keeps the symbol table: the original policy's serves both modes.
    let policy = machine.original
    let binding = machine.original.syscalls
    if let binding {
        guard binding.symbolSets.count == policy.symbols.count else {
            throw BlobError.badBinding("\(binding.symbolSets.count) symbol sets for \(policy.symbols.count) symbols")
        }
        guard binding.sets.first == SystemCallSet.empty else { throw BlobError.badBinding("set 0 is not empty") }
        guard binding.sets.count <= BlobLimits.maxSets else {
            throw BlobError.capExceeded(what: "system-call sets", count: binding.sets.count, cap: BlobLimits.maxSets)
        }
    }
    if let pins, pins.sites.count > BlobLimits.maxPins {
        throw BlobError.capExceeded(what: "pinned marker sites", count: pins.sites.count, cap: BlobLimits.maxPins)
    }
    let header = Int(SBX_BLOB_HEADER_SIZE)
    let mstatesOff = header
    let transOff = mstatesOff + Int(SBX_BLOB_MSTATE_SIZE) * machine.macroStateCount
    let sitesOff = transOff + Int(SBX_BLOB_TRANS_SIZE) * machine.transitionCount
    let callbacksOff = sitesOff + Int(SBX_BLOB_SITE_SIZE) * machine.siteEntries.count
    let setsOff = callbacksOff + Int(SBX_BLOB_CALLBACK_SIZE) * machine.callbackEntries.count
    let symsetsOff = setsOff + Int(SBX_SET_SIZE) * (binding?.sets.count ?? 0)
    let pinsOff = symsetsOff + 4 * (binding == nil ? 0 : policy.symbols.count)
    let resyncOff = pinsOff + Int(SBX_BLOB_PIN_SIZE) * (pins?.sites.count ?? 0)
    try eventBuffer?.check(symbols: policy.symbols.count)
    let evbufSection = eventBuffer?.encoded() ?? []
    let namesSection = names ? BlobNames.encode(machine) : []
    let size =
        resyncOff + Int(SBX_BLOB_RESYNC_SIZE) * machine.macroStateCount + evbufSection.count + namesSection.count
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
    func put64(_ value: UInt64) {
        put(Int(value & 0xffff_ffff))
        put(Int(value >> 32))
    }
    var flags = machine.mode == .nfa ? Int(SBX_BLOB_F_NFA) : 0
    if binding != nil { flags |= Int(SBX_BLOB_F_BOUND) }
    if pins != nil { flags |= Int(SBX_BLOB_F_PINNED) }
    if eventBuffer != nil { flags |= Int(SBX_BLOB_F_BUFFERED) }
    put(Int(SBX_BLOB_MAGIC))
    put(Int(SBX_BLOB_VERSION))
    put(header)
    put(flags)
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
    put(binding?.sets.count ?? 0)
    put(setsOff)
    put(symsetsOff)
    put(binding?.startSet ?? 0)
    put(binding?.ambientSet ?? 0)
    put(pins?.sites.count ?? 0)
    put(pinsOff)
    put(maxDepth)
    put64(pins?.tableVaddr ?? 0)
    put64(pins?.textVaddr ?? 0)
    put(resyncOff)
    put(namesSection.count)

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
    if let binding {
        for set in binding.sets { out.append(contentsOf: encodeSystemCallSet(set)) }
        for index in binding.symbolSets { put(index) }
    }
    for site in pins?.sites ?? [] {
        put64(site.vaddr)
        put(Int(site.kind))
        put(Int(site.id))
    }
    for any in machine.resync { put(any ?? Int(SBX_RESYNC_NONE)) }
    out.append(contentsOf: evbufSection)
    out.append(contentsOf: namesSection)
    precondition(out.count == size, "blob layout")
    return out
}
