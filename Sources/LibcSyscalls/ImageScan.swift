import Foundation
import CCapstone
import DyckModel
import CLibELF

/// A `syscall` instruction and the numbers `eax` may hold there (nil: unknown).
struct SyscallSite {
    var address: UInt64
    var numbers: [Int]?
}

/// Where an indirectly called pointer came from.
enum PointerOrigin {
    /// Loaded from the word at this address (`mov reg, [rip+X]`, or `[lea'd base + disp]`).
    case word(UInt64)
    /// Loaded from `[P + displacement]`, where P was loaded from the word at `slot` (a
    /// GOT entry): a field of the object the GOT entry points to.
    case field(slot: UInt64, displacement: Int64)
}

/// What one function's code says about its system calls and its successors in the
/// call graph, before any address is resolved to a function.
struct FunctionFacts {
    var start: UInt64
    var end: UInt64
    var syscalls: [SyscallSite] = []
    /// Direct call/jmp/jcc targets outside the function.
    var branchTargets = Set<UInt64>()
    /// rip-relative `lea` of a code address outside the function: a function pointer
    /// taken here (a thread's or a clone child's start, an internal callback).
    var codeReferences = Set<UInt64>()
    /// rip-relative data addresses the function reads or takes (GOT slots, tables).
    var dataReferences = Set<UInt64>()
    /// `call`/`jmp *X(%rip)`: calls through the pointer stored at X.
    var indirectSlots = Set<UInt64>()
    /// Addresses of calls/jmps through a register or non-rip memory that are not
    /// switch-table jumps, and where the called pointer was loaded from when a short
    /// backward scan finds it.
    var registerIndirect: [(address: UInt64, origin: PointerOrigin?)] = []
    /// `syscall` sites of mmap, mprotect or pkey_mprotect whose protection (`edx`) may
    /// include PROT_EXEC (not a known constant without it).
    var executableMappingSites: [UInt64] = []
    /// The function may open a file for writing by itself: an `openat` (or `open`,
    /// `creat`, `openat2`) whose flags may hold a write flag, or a direct call that
    /// passes such flags (or flags not known) to a callee's flags argument. Flags that
    /// come from the function's own arguments are `openFlagArguments` instead.
    var opensForWriting = false
    /// The argument registers (`RegisterFamily`) whose value on entry reaches the flags
    /// of an open, here or in a direct callee: a wrapper such as `__open64_nocancel`.
    /// Its callers decide, by what they pass.
    var openFlagArguments = Set<Int>()
    /// Direct calls and jumps to code outside the function: target → instruction indices.
    var directCallSites: [UInt64: [Int]] = [:]
    /// For the direct calls to a function named in `ScannedImage.argumentQueries`: the
    /// constants its queried argument register holds over all such calls (nil: not all known).
    var queriedArguments: [UInt64: [Int]?] = [:]
}

/// Where the flags of an open come from, as far as write flags go.
struct FlagSource {
    /// A constant (or an `or`'d constant) with a write flag.
    var mayWrite = false
    /// Argument registers whose entry value flows into the flags unchanged, or with
    /// flags `or`'d or `and`'ed in.
    var arguments = Set<Int>()
}

/// The functions of one shared object with their facts, sorted by start address.
final class ScannedImage {
    let image: ELFImage
    let functions: [FunctionFacts]
    /// The `.plt`, `.plt.got` and `.plt.sec` sections: stubs, resolved through their GOT slot.
    let pltRanges: [Range<UInt64>]
    let instructionCount: Int
    let skippedBytes: Int
    /// Functions found between FDEs from a dynamic symbol (code without unwind information).
    let functionsWithoutFDE: Int
    /// Executable bytes outside every function (padding between functions, mostly).
    let uncoveredBytes: UInt64

    init(image: ELFImage, disassembler: Disassembler) throws(LibcSyscallsError) {
        self.image = image
        let pltNames: Set<String> = [".plt", ".plt.got", ".plt.sec"]
        let plts = image.sections.filter { pltNames.contains($0.name) }.map(\.range)
        pltRanges = plts
        let code = image.sections.filter {
            $0.isExecutable && $0.flags & UInt64(SHF_ALLOC) != 0 && !pltNames.contains($0.name)
        }

        // Function boundaries: FDE ranges, then dynamic symbols in code no FDE covers.
        var fdeRanges = try ehFrameRanges(image).filter { range in
            !plts.contains { $0.contains(range.lowerBound) } && code.contains { $0.range.contains(range.lowerBound) }
        }
        fdeRanges.sort { $0.lowerBound < $1.lowerBound }
        var disjoint: [Range<UInt64>] = []
        for range in fdeRanges {
            if let last = disjoint.last, range.lowerBound < last.upperBound {
                // Overlapping FDEs do not occur in glibc; keep the first, clip the second.
                if range.upperBound > last.upperBound { disjoint.append(last.upperBound..<range.upperBound) }
            } else {
                disjoint.append(range)
            }
        }
        let symbolStarts = Set(
            image.symbols.filter { $0.defined && ($0.type == STT_FUNC || $0.type == STT_GNU_IFUNC) }.map(\.value))
        var extra: [Range<UInt64>] = []
        var uncovered: UInt64 = 0
        for section in code {
            var gaps: [Range<UInt64>] = []
            var cursor = section.address
            for range in disjoint
            where range.lowerBound < section.range.upperBound && range.upperBound > section.address {
                if range.lowerBound > cursor { gaps.append(cursor..<range.lowerBound) }
                cursor = max(cursor, range.upperBound)
            }
            if cursor < section.range.upperBound { gaps.append(cursor..<section.range.upperBound) }
            for gap in gaps {
                let starts = symbolStarts.filter { gap.contains($0) }.sorted()
                uncovered += (starts.first ?? gap.upperBound) - gap.lowerBound
                for (i, start) in starts.enumerated() {
                    extra.append(start..<(i + 1 < starts.count ? starts[i + 1] : gap.upperBound))
                }
            }
        }
        functionsWithoutFDE = extra.count
        uncoveredBytes = uncovered
        // A function runs on into code that no FDE covers up to the next function:
        // hand-written assembly ends its FDE early on purpose, e.g. clone and clone3
        // before their `syscall`, so that the child's unwinder stops there.
        var all = (disjoint + extra).sorted { $0.lowerBound < $1.lowerBound }
        for i in all.indices {
            guard let section = code.first(where: { $0.range.contains(all[i].lowerBound) }) else { continue }
            let next =
                i + 1 < all.count && section.range.contains(all[i + 1].lowerBound)
                ? all[i + 1].lowerBound : section.range.upperBound
            if next > all[i].upperBound { all[i] = all[i].lowerBound..<next }
        }

        // Pass 1: sweep every function.
        var sweeps: [[Instruction]] = []
        var ranges: [Range<UInt64>] = []
        var instructions = 0
        var skipped = 0
        for range in all {
            guard let offset = image.fileOffset(ofAddress: range.lowerBound, count: range.upperBound - range.lowerBound)
            else {
                continue
            }
            let sweep = disassembler.sweep(
                image.bytes, range: offset..<offset + Int(range.upperBound - range.lowerBound),
                address: range.lowerBound)
            skipped += sweep.skipped
            sweeps.append(sweep.instructions)
            ranges.append(range)
        }
        // An entry taken by `lea` inside a function, off the sweep's instruction
        // boundaries, starts a second sweep there: glibc's signal-return trampoline
        // (`__restore_rt`) starts one byte after its FDE, which covers the byte before it
        // for unwinders.
        var codeTargets = Set<UInt64>()
        for sweep in sweeps {
            for insn in sweep {
                for operand in insn.operands {
                    if let address = insn.ripRelativeAddress(operand), image.isCode(address) {
                        codeTargets.insert(address)
                    }
                }
            }
        }
        for (f, range) in ranges.enumerated() {
            let boundaries = Set(sweeps[f].map(\.address))
            for target in codeTargets.sorted() where range.contains(target) && !boundaries.contains(target) {
                guard let offset = image.fileOffset(ofAddress: target, count: range.upperBound - target) else {
                    continue
                }
                let tail = disassembler.sweep(
                    image.bytes, range: offset..<offset + Int(range.upperBound - target), address: target)
                sweeps[f] = sweeps[f].filter { $0.address < target } + tail.instructions
            }
            instructions += sweeps[f].count
        }
        // A function returns if it has a `ret`, or a jump that leaves it (a tail call);
        // after a call of one that never returns, the next instruction is not reached
        // from the call (it is padding, or the target of another jump).
        var returns = [Bool](repeating: false, count: ranges.count)
        for (f, sweep) in sweeps.enumerated() {
            returns[f] = sweep.contains { insn in
                if insn.id == X86_INS_RET.rawValue || insn.id == X86_INS_RETF.rawValue { return true }
                guard insn.kind == .jump || insn.kind == .conditionalJump, let operand = insn.operands.first else {
                    return false
                }
                if case let .immediate(target) = operand { return !ranges[f].contains(UInt64(bitPattern: target)) }
                return true
            }
        }
        var starts: [UInt64: Int] = [:]
        for (f, range) in ranges.enumerated() { starts[range.lowerBound] = f }
        func callReturns(_ insn: Instruction) -> Bool {
            guard case let .immediate(target)? = insn.operands.first, let f = starts[UInt64(bitPattern: target)] else {
                return true
            }
            return returns[f]
        }
        var facts: [FunctionFacts] = []
        facts.reserveCapacity(ranges.count)
        for (f, range) in ranges.enumerated() {
            facts.append(Self.facts(of: sweeps[f], range: range, image: image, callReturns: callReturns))
        }
        Self.propagateOpenFlags(&facts, image: image, sweeps: sweeps, starts: starts, callReturns: callReturns)
        for (name, family) in Self.argumentQueries {
            // The functions the named one calls directly (a hidden internal function, such
            // as `_IO_fwide`, is found through the exported one that calls it).
            guard let exported = image.symbols.first(where: { $0.defined && $0.name == name })?.value,
                let caller = starts[exported]
            else { continue }
            for target in facts[caller].branchTargets where starts[target] != nil {
                for f in facts.indices {
                    guard let sites = facts[f].directCallSites[target] else { continue }
                    let (sources, deadCodeIsDead) = Self.jumpSources(of: sweeps[f], range: ranges[f])
                    var all: [Int]? = []
                    for site in sites {
                        guard
                            let found = Self.values(
                                of: family, at: site, in: sweeps[f], jumpSources: sources,
                                deadCodeIsDead: deadCodeIsDead,
                                callReturns: callReturns)
                        else {
                            all = nil
                            break
                        }
                        all! += found
                    }
                    facts[f].queriedArguments[target] = all
                }
            }
        }
        functions = facts
        instructionCount = instructions
        skippedBytes = skipped
    }

    /// The index of the function whose range holds `address`.
    func function(containing address: UInt64) -> Int? {
        var lo = 0, hi = functions.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if functions[mid].end <= address { lo = mid + 1 } else { hi = mid }
        }
        guard lo < functions.count, functions[lo].start <= address else { return nil }
        return lo
    }

    func isPLT(_ address: UInt64) -> Bool { pltRanges.contains { $0.contains(address) } }

    /// Functions that open the file named by their first argument with the flags that
    /// their mode string (second argument) gives: a caller passing a constant mode
    /// without "w", "a" or "+" only reads (specs/libc-syscalls.md, "Opening for writing").
    static let modeStringOpeners = ["fopen", "fopen64"]

    /// Functions whose direct callees' constant arguments the call graph looks at:
    /// `fwide`'s, whose callee `_IO_fwide` (not exported) takes the mode in `esi`
    /// (specs/libc-syscalls.md, "Stream orientation").
    static let argumentQueries: [(name: String, family: Int)] = [("fwide", RegisterFamily.rsi)]

    private static func facts(
        of instructions: [Instruction], range: Range<UInt64>, image: ELFImage, callReturns: (Instruction) -> Bool
    ) -> FunctionFacts {
        var facts = FunctionFacts(start: range.lowerBound, end: range.upperBound)
        var jumpSources: [UInt64: [Int]] = [:]
        for (i, insn) in instructions.enumerated() {
            switch insn.kind {
            case .call, .jump, .conditionalJump:
                guard let operand = insn.operands.first else { break }
                if case let .immediate(target) = operand {
                    let address = UInt64(bitPattern: target)
                    if range.contains(address) {
                        if insn.kind != .call { jumpSources[address, default: []].append(i) }
                    } else {
                        facts.branchTargets.insert(address)
                        facts.directCallSites[address, default: []].append(i)
                    }
                } else if let slot = insn.ripRelativeAddress(operand) {
                    facts.indirectSlots.insert(slot)
                } else if !(insn.kind == .jump && isSwitchJump(instructions, at: i, range: range)) {
                    facts.registerIndirect.append((insn.address, pointerOrigin(instructions, at: i)))
                }
            default:
                for operand in insn.operands {
                    guard let address = insn.ripRelativeAddress(operand) else { continue }
                    if image.isCode(address) {
                        if !range.contains(address) { facts.codeReferences.insert(address) }
                    } else {
                        facts.dataReferences.insert(address)
                    }
                }
            }
        }
        // Without a jump through a register, an instruction no other one reaches (after
        // a jmp or ret, and no jump targets it) is padding or dead code.
        let hasComputedJumps = instructions.contains {
            $0.kind == .jump
                && $0.operands.first.map { op in
                    if case .immediate = op { return false } else { return true }
                } ?? false
        }
        for (i, insn) in instructions.enumerated() where insn.kind == .syscall {
            let numbers = values(
                of: RegisterFamily.rax, at: i, in: instructions, jumpSources: jumpSources,
                deadCodeIsDead: !hasComputedJumps, callReturns: callReturns
            )?.filter { (0...510).contains($0) }
            facts.syscalls.append(SyscallSite(address: insn.address, numbers: numbers))
            if numbers?.contains(where: { [9, 10, 329].contains($0) }) ?? true {
                let protections = values(
                    of: RegisterFamily.rdx, at: i, in: instructions, jumpSources: jumpSources,
                    deadCodeIsDead: !hasComputedJumps, callReturns: callReturns)
                if protections?.contains(where: { $0 & 4 != 0 }) ?? true {
                    facts.executableMappingSites.append(insn.address)
                }
            }
            // open's flags are its second argument, openat's its third; creat and
            // openat2 (flags in a structure) are taken as writing.
            guard let numbers else {
                facts.opensForWriting = true
                continue
            }
            if numbers.contains(where: { [85, 437].contains($0) }) { facts.opensForWriting = true }
            for (number, family) in [(2, RegisterFamily.rsi), (SystemCallNumbers.openat, RegisterFamily.rdx)]
            where numbers.contains(number) {
                if let source = flagSource(
                    of: family, at: i, in: instructions, jumpSources: jumpSources,
                    deadCodeIsDead: !hasComputedJumps, callReturns: callReturns)
                {
                    if source.mayWrite { facts.opensForWriting = true }
                    facts.openFlagArguments.formUnion(source.arguments)
                } else {
                    facts.opensForWriting = true
                }
            }
        }
        return facts
    }

    /// The open-flag facts of every function after its direct calls: a call to a function
    /// with `openFlagArguments` passes, in those registers, write flags (the caller opens
    /// for writing), read-only constants (nothing), or its own arguments (the caller is a
    /// wrapper too). Least fixpoint over the image's direct calls; calls to another image
    /// (PLT) and indirect calls are the call graph's to judge (`CallGraph.solve`).
    private static func propagateOpenFlags(
        _ facts: inout [FunctionFacts], image: ELFImage, sweeps: [[Instruction]], starts: [UInt64: Int],
        callReturns: (Instruction) -> Bool
    ) {
        // fopen's flags come from its mode string (rsi), which its internals parse.
        for name in modeStringOpeners {
            guard let value = image.symbols.first(where: { $0.defined && $0.name == name })?.value,
                let f = starts[value]
            else { continue }
            facts[f].opensForWriting = false
            facts[f].openFlagArguments = [RegisterFamily.rsi + modeStringFamily]
        }
        var callers = [[Int]](repeating: [], count: facts.count)
        for (f, fact) in facts.enumerated() {
            for target in fact.directCallSites.keys { if let g = starts[target] { callers[g].append(f) } }
        }
        var jumpSourceCache: [Int: (sources: [UInt64: [Int]], deadCodeIsDead: Bool)] = [:]
        var evaluated = Set<[Int]>()  // (caller, site, family)
        var work = facts.indices.filter { !facts[$0].openFlagArguments.isEmpty }
        var queued = Set(work)
        while let g = work.popLast() {
            queued.remove(g)
            for f in Set(callers[g]) {
                let before = (facts[f].opensForWriting, facts[f].openFlagArguments)
                if jumpSourceCache[f] == nil {
                    jumpSourceCache[f] = jumpSources(of: sweeps[f], range: facts[f].start..<facts[f].end)
                }
                let (sources, deadCodeIsDead) = jumpSourceCache[f]!
                for (target, sites) in facts[f].directCallSites where starts[target] == g {
                    for site in sites {
                        for family in facts[g].openFlagArguments where evaluated.insert([f, site, family]).inserted {
                            let mode = family >= modeStringFamily
                            if let source = flagSource(
                                of: mode ? family - modeStringFamily : family, at: site, in: sweeps[f],
                                jumpSources: sources,
                                deadCodeIsDead: deadCodeIsDead, callReturns: callReturns, modeString: (image, mode))
                            {
                                if source.mayWrite { facts[f].opensForWriting = true }
                                facts[f].openFlagArguments.formUnion(source.arguments)
                            } else {
                                facts[f].opensForWriting = true
                            }
                        }
                    }
                }
                if before != (facts[f].opensForWriting, facts[f].openFlagArguments), queued.insert(f).inserted {
                    work.append(f)
                }
            }
        }
    }

    /// Jump targets inside the function → the indices of the jumps to them, and whether
    /// code no instruction reaches is dead (no jump through a register).
    private static func jumpSources(of instructions: [Instruction], range: Range<UInt64>) -> ([UInt64: [Int]], Bool) {
        var sources: [UInt64: [Int]] = [:]
        for (i, insn) in instructions.enumerated() where insn.kind == .jump || insn.kind == .conditionalJump {
            if case let .immediate(target)? = insn.operands.first, range.contains(UInt64(bitPattern: target)) {
                sources[UInt64(bitPattern: target), default: []].append(i)
            }
        }
        let hasComputedJumps = instructions.contains {
            $0.kind == .jump
                && $0.operands.first.map { op in
                    if case .immediate = op { return false } else { return true }
                } ?? false
        }
        return (sources, !hasComputedJumps)
    }

    /// An argument family + modeStringFamily: the register holds an `fopen` mode string.
    static let modeStringFamily = 100

    /// `flagSource`'s pseudo-register for the stack slot at `disp(%rsp)`: family
    /// stackSlotFamily + disp.
    private static let stackSlotFamily = 1 << 20
    private static func stackSlot(_ family: Int) -> Int64? {
        family >= stackSlotFamily ? Int64(family - stackSlotFamily) : nil
    }

    /// Where the value of `family` at instruction `site` comes from, for open flags:
    /// constants (with or without a write flag), the function's argument registers on
    /// entry, through moves, spills to the stack frame and back, and `or`/`and` with
    /// constants; nil when it is not known.
    private static func flagSource(
        of family: Int, at site: Int, in instructions: [Instruction], jumpSources: [UInt64: [Int]],
        deadCodeIsDead: Bool, callReturns: (Instruction) -> Bool, modeString: (image: ELFImage, mode: Bool)? = nil
    ) -> FlagSource? {
        struct State: Hashable {
            var index: Int
            var family: Int
        }
        let argumentFamilies: Set<Int> = [7, 6, 2, 1, 8, 9]  // rdi rsi rdx rcx r8 r9
        let writeFlags = Int64(SystemCallNumbers.openatWriteFlags)
        var result = FlagSource()
        var visited = Set<State>()
        var work = [State(index: site, family: family)]
        var steps = 0
        while let state = work.popLast() {
            var predecessors = jumpSources[instructions[state.index].address] ?? []
            if state.index > 0 {
                let previous = instructions[state.index - 1]
                if previous.kind != .jump && previous.kind != .stop
                    && !(previous.kind == .call && !callReturns(previous))
                {
                    predecessors.append(state.index - 1)
                }
            } else {
                // The function's entry: the caller's value.
                guard argumentFamilies.contains(state.family) else { return nil }
                result.arguments.insert(state.family + (modeString?.mode == true ? modeStringFamily : 0))
            }
            if predecessors.isEmpty {
                if state.index > 0 && !deadCodeIsDead { return nil }
                continue
            }
            for p in predecessors {
                let next = State(index: p, family: state.family)
                guard visited.insert(next).inserted else { continue }
                steps += 1
                if steps > 4096 { return nil }
                let insn = instructions[p]
                if let slot = stackSlot(state.family) {
                    // A spilled value: the store to the same slot of the same frame.
                    if case let .memory(base, index, displacement)? = insn.operands.first, base == X86_REG_RSP.rawValue,
                        index == 0, displacement == slot, insn.kind == .other
                    {
                        guard insn.id == X86_INS_MOV.rawValue, insn.operands.count == 2 else { return nil }
                        switch insn.operands[1] {
                        case let .immediate(value):
                            if value & writeFlags != 0 { result.mayWrite = true }
                        case let .register(source):
                            guard let from = RegisterFamily.of(source) else { return nil }
                            work.append(State(index: p, family: from.family))
                        default:
                            return nil
                        }
                        continue
                    }
                    // rsp moved
                    if insn.kind != .call && insn.writes.contains(where: { $0.family == 4 }) { return nil }
                    work.append(next)
                    continue
                }
                guard let write = insn.writes.first(where: { $0.family == state.family }) else {
                    if insn.kind == .call && RegisterFamily.callerSaved.contains(state.family) { return nil }
                    if insn.kind == .syscall
                        && [RegisterFamily.rax, RegisterFamily.rcx, RegisterFamily.r11].contains(state.family)
                    {
                        return nil
                    }
                    work.append(next)
                    continue
                }
                guard write.whole, insn.operands.count == 2, case let .register(destination) = insn.operands[0],
                    RegisterFamily.of(destination)?.family == state.family
                else { return nil }
                switch (insn.id, insn.operands[1]) {
                case (X86_INS_MOV.rawValue, .immediate(let value)):
                    if value & writeFlags != 0 { result.mayWrite = true }
                case (X86_INS_XOR.rawValue, .register(let source)) where source == destination:
                    break
                case (X86_INS_MOV.rawValue, .register(let source)):
                    guard let from = RegisterFamily.of(source), from.whole else { return nil }
                    work.append(State(index: p, family: from.family))
                case (X86_INS_OR.rawValue, .immediate(let value)):
                    if value & writeFlags != 0 { result.mayWrite = true }
                    work.append(next)
                case (X86_INS_AND.rawValue, .immediate):
                    work.append(next)
                case (X86_INS_LEA.rawValue, .memory):
                    // A mode string: "r" reads, "w", "a" or "+" write.
                    guard let modeString, modeString.mode, let address = insn.ripRelativeAddress(insn.operands[1]),
                        let text = modeString.image.cString(at: address)
                    else { return nil }
                    if text.contains(where: { "wa+".utf8.contains($0) }) { result.mayWrite = true }
                case (X86_INS_MOV.rawValue, .memory(let base, let index, let displacement))
                where base == X86_REG_RSP.rawValue && index == 0 && (0..<65536).contains(displacement):
                    work.append(State(index: p, family: stackSlotFamily + Int(displacement)))
                case (X86_INS_OR.rawValue, .register(let source)):
                    guard let from = RegisterFamily.of(source), from.whole else { return nil }
                    work.append(next)
                    work.append(State(index: p, family: from.family))
                default:
                    return nil
                }
            }
        }
        return result
    }

    /// The origin of the pointer an indirect call at index `i` calls, from the last
    /// writes of its registers within the 12 instructions before it.
    private static func pointerOrigin(_ instructions: [Instruction], at i: Int) -> PointerOrigin? {
        func definition(of family: Int, before index: Int) -> Instruction? {
            for j in stride(from: index - 1, through: max(0, i - 12), by: -1) {
                let insn = instructions[j]
                if insn.kind != .other && insn.kind != .conditionalJump { return nil }
                if insn.writes.contains(where: { $0.family == family }) { return insn }
            }
            return nil
        }
        /// What `[base + displacement]` reads, given the definition of base.
        func load(base: UInt32, displacement: Int64, before index: Int) -> PointerOrigin? {
            guard let family = RegisterFamily.of(base)?.family, let def = definition(of: family, before: index),
                def.operands.count == 2, let address = def.ripRelativeAddress(def.operands[1])
            else { return nil }
            if def.id == X86_INS_LEA.rawValue {
                return .word(UInt64(bitPattern: Int64(bitPattern: address) &+ displacement))
            }
            if def.id == X86_INS_MOV.rawValue { return .field(slot: address, displacement: displacement) }
            return nil
        }
        let call = instructions[i]
        switch call.operands.first {
        case let .memory(base, index, displacement)? where index == 0:
            return load(base: base, displacement: displacement, before: i)
        case let .register(register)?:
            guard let family = RegisterFamily.of(register)?.family, let def = definition(of: family, before: i),
                def.id == X86_INS_MOV.rawValue, def.operands.count == 2
            else { return nil }
            if let address = def.ripRelativeAddress(def.operands[1]) { return .word(address) }
            if case let .memory(base, index, displacement) = def.operands[1], index == 0 {
                guard let position = instructions.firstIndex(where: { $0.address == def.address }) else { return nil }
                return load(base: base, displacement: displacement, before: position)
            }
            return nil
        default:
            return nil
        }
    }

    /// A jump through a register that compilers emit for a `switch`: CET's `notrack`
    /// prefix, or the PIC table idiom (`movslq (table,idx,4),reg; add base,reg; jmp *reg`);
    /// or the hand-written string functions' computed jump into their own body (`lea
    /// L(%rip),base` of an address inside the function within the 6 instructions before).
    /// Its targets lie inside the function, which the linear sweep covers anyway.
    private static func isSwitchJump(_ instructions: [Instruction], at i: Int, range: Range<UInt64>) -> Bool {
        let jump = instructions[i]
        if jump.notrack { return true }
        for j in stride(from: i - 1, through: max(0, i - 6), by: -1) {
            let insn = instructions[j]
            if insn.kind != .other && insn.kind != .conditionalJump { break }
            if insn.id == X86_INS_LEA.rawValue, insn.operands.count == 2,
                let target = insn.ripRelativeAddress(insn.operands[1]), range.contains(target)
            {
                return true
            }
        }
        guard case let .register(register)? = jump.operands.first, let family = RegisterFamily.of(register)?.family
        else {
            return false
        }
        var sawAdd = false
        for j in stride(from: i - 1, through: max(0, i - 4), by: -1) {
            let insn = instructions[j]
            if insn.id == X86_INS_ADD.rawValue || insn.id == X86_INS_LEA.rawValue,
                insn.writes.contains(where: { $0.family == family })
            {
                sawAdd = true
            }
            if sawAdd && insn.id == X86_INS_MOVSXD.rawValue { return true }
        }
        return false
    }

    /// The values register `family` may hold at the instruction at index `site` (`eax`
    /// for a system call's number, `edx` for mmap's and mprotect's protection): a
    /// backward walk over the function's control flow (fall-through, direct jumps; not
    /// through a call of a function that never returns) to the last writes of the
    /// register. `mov $imm` gives imm, `xor %r,%r` gives 0, a `mov` from another register
    /// continues with that register; any other write, a call that clobbers the register,
    /// or reaching the function's entry (an argument) makes the value unknown (nil).
    private static func values(
        of family: Int, at site: Int, in instructions: [Instruction], jumpSources: [UInt64: [Int]],
        deadCodeIsDead: Bool, callReturns: (Instruction) -> Bool
    ) -> [Int]? {
        struct State: Hashable {
            var index: Int
            var family: Int
        }
        var found = Set<Int>()
        var visited = Set<State>()
        var work = [State(index: site, family: family)]
        var steps = 0
        while let state = work.popLast() {
            var predecessors = jumpSources[instructions[state.index].address] ?? []
            if state.index > 0 {
                let previous = instructions[state.index - 1]
                if previous.kind != .jump && previous.kind != .stop
                    && !(previous.kind == .call && !callReturns(previous))
                {
                    predecessors.append(state.index - 1)
                }
            }
            if predecessors.isEmpty {
                if state.index > 0 && deadCodeIsDead { continue }
                debugUnknown(
                    "no predecessor at 0x\(String(instructions[state.index].address, radix: 16)) family \(state.family)"
                )
                return nil
            }
            for p in predecessors {
                let next = State(index: p, family: state.family)
                guard visited.insert(next).inserted else { continue }
                steps += 1
                if steps > 4096 { return nil }
                let insn = instructions[p]
                guard let write = insn.writes.first(where: { $0.family == state.family }) else {
                    if insn.kind == .call && RegisterFamily.callerSaved.contains(state.family) {
                        debugUnknown("call at 0x\(String(insn.address, radix: 16)) family \(state.family)")
                        return nil
                    }
                    if insn.kind == .syscall
                        && [RegisterFamily.rax, RegisterFamily.rcx, RegisterFamily.r11].contains(state.family)
                    {
                        return nil
                    }
                    work.append(next)
                    continue
                }
                guard write.whole, insn.operands.count == 2, case let .register(destination) = insn.operands[0],
                    RegisterFamily.of(destination)?.family == state.family
                else {
                    debugUnknown("write at 0x\(String(insn.address, radix: 16)) family \(state.family)")
                    return nil
                }
                switch (insn.id, insn.operands[1]) {
                case (X86_INS_MOV.rawValue, .immediate(let value)):
                    found.insert(Int(Int32(truncatingIfNeeded: value)))
                case (X86_INS_XOR.rawValue, .register(let source)) where source == destination:
                    found.insert(0)
                case (X86_INS_MOV.rawValue, .register(let source)):
                    guard let from = RegisterFamily.of(source), from.whole else { return nil }
                    work.append(State(index: p, family: from.family))
                default:
                    return nil
                }
            }
        }
        return found.sorted()
    }
}

import Glibc
private func debugUnknown(_ message: String) {
    if getenv("DYCK_LIBC_DEBUG") != nil { FileHandle.standardError.write(Data(("unknown: \(message)\n").utf8)) }
}
