import Foundation
import CLibELF
import DyckModel
import Glibc

/// Derives, from the binaries, the system calls each function exported by the C
/// library can make. The rules are those of specs/libc-syscalls.md; the comments here
/// say where each one is applied.
public enum LibcSyscallAnalysis {
    /// The dynamic loader of x86-64 glibc systems.
    public static let defaultLoaderPath = "/lib64/ld-linux-x86-64.so.2"

    /// Exported functions of libc whose callers are dying: edges into them are not
    /// followed (specs "Fatal paths"). `__libc_fatal`'s direct callees (glibc's hidden
    /// `__libc_message`) join them.
    public static let fatalNames: Set<String> = [
        "abort", "__libc_fatal", "__fortify_fail", "__chk_fail", "__stack_chk_fail", "__assert_fail",
        "__assert_perror_fail", "__assert"
    ]

    /// Wide-stream helpers that call `_IO_fwide (fp, 1)` but are only reached with a
    /// stream already oriented wide (specs/libc-syscalls.md, "Stream orientation").
    static let orientedWideHelpers = ["__woverflow", "__wuflow", "__wunderflow", "_IO_wdefault_xsputn"]

    /// Analyses `libcPath` (libc.so.6) and `loaderPath` (ld.so) without any cache.
    public static func analyze(
        libcPath: String, loaderPath: String = defaultLoaderPath, progress: ((String) -> Void)? = nil
    ) throws(LibcSyscallsError) -> LibcSyscallTable {
        let clock = ContinuousClock()
        let started = clock.now
        func report(_ what: String) {
            let elapsed = clock.now - started
            let ms = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
            progress?("\(what) (\(ms) ms)")
        }
        let disassembler = try Disassembler()
        let libcImage = try ELFImage(path: libcPath)
        let loaderImage = try ELFImage(path: loaderPath)
        for (image, marker) in [(libcImage, "__libc_start_main"), (loaderImage, "_dl_catch_exception")] {
            guard image.symbols.contains(where: { $0.name == marker && $0.defined }) else {
                throw .notGlibc(path: image.path, reason: "it does not define \(marker)")
            }
        }
        guard libcImage.section(named: "__libc_IO_vtables") != nil else {
            throw .notGlibc(path: libcPath, reason: "no __libc_IO_vtables section")
        }
        guard loaderImage.symbols.contains(where: { $0.name == "_rtld_global_ro" && $0.defined }) else {
            throw .notGlibc(path: loaderPath, reason: "it does not define _rtld_global_ro")
        }
        let libc = try ScannedImage(image: libcImage, disassembler: disassembler)
        report("disassembled \(libcPath): \(libc.functions.count) functions, \(libc.instructionCount) instructions")
        let loader = try ScannedImage(image: loaderImage, disassembler: disassembler)
        report(
            "disassembled \(loaderPath): \(loader.functions.count) functions, \(loader.instructionCount) instructions")
        var graph = CallGraph(libc: libc, loader: loader, disassembler: disassembler)
        let table = graph.solve()
        report(
            "solved the call graph: \(table.statistics.edges) edges, \(table.unknownSites.count) unknown system-call sites"
        )
        return table
    }
}

/// A set of system-call numbers 0...510 with three flags, as 9 words.
struct Bits: Equatable {
    static let mapsExecutable = 0
    static let mayCallBack = 1
    static let reachesUnknown = 2
    static let opensForWriting = 3

    var words = [UInt64](repeating: 0, count: 9)

    mutating func insert(_ number: Int) { words[number >> 6] |= 1 << UInt64(number & 63) }
    mutating func set(flag: Int) { words[8] |= 1 << UInt64(flag) }
    mutating func clear(flag: Int) { words[8] &= ~(1 << UInt64(flag)) }
    func has(flag: Int) -> Bool { words[8] & (1 << UInt64(flag)) != 0 }

    /// Returns whether anything was added.
    mutating func formUnion(_ other: Bits) -> Bool {
        var changed = false
        for i in 0..<9 {
            let merged = words[i] | other.words[i]
            if merged != words[i] {
                words[i] = merged
                changed = true
            }
        }
        return changed
    }

    mutating func insertAll() {
        for n in 0...SystemCallSet.maximumNumber { insert(n) }
    }

    var numbers: [Int] {
        (0...SystemCallSet.maximumNumber).filter { words[$0 >> 6] & (1 << UInt64($0 & 63)) != 0 }
    }

    var systemCallSet: SystemCallSet {
        SystemCallSet(
            numbers: numbers, mapsExecutable: has(flag: Self.mapsExecutable),
            opensForWriting: has(flag: Self.opensForWriting))
    }
}

/// The call graph over the functions of libc (nodes 0..<n) and ld.so (n..<n+m).
struct CallGraph {
    private enum SlotTarget {
        case functions([Int])
        case data
        case unresolved
    }

    private let images: [ScannedImage]
    private let base: [Int]
    private var relocations: [[UInt64: ELFImage.Relocation]] = []
    private var exports: [[String: UInt64]] = []
    private var pltSlots: [[UInt64: UInt64]] = []
    private let nodeCount: Int

    init(libc: ScannedImage, loader: ScannedImage, disassembler: Disassembler) {
        images = [libc, loader]
        base = [0, libc.functions.count]
        nodeCount = libc.functions.count + loader.functions.count
        for scanned in images {
            let image = scanned.image
            var byOffset: [UInt64: ELFImage.Relocation] = [:]
            for relocation in image.relocations where relocation.type != ELFImage.relocationRelative {
                byOffset[relocation.offset] = relocation
            }
            relocations.append(byOffset)
            var names: [String: UInt64] = [:]
            for symbol in image.symbols where symbol.defined && !symbol.name.isEmpty {
                if symbol.type == STT_FUNC || symbol.type == STT_GNU_IFUNC { names[symbol.name] = symbol.value }
            }
            exports.append(names)
            // A PLT stub is entered at its start and ends in `jmp *SLOT(%rip)`: map every
            // address of the stub to the slot of the next such jump.
            var slots: [UInt64: UInt64] = [:]
            for range in scanned.pltRanges {
                guard
                    let offset = image.fileOffset(
                        ofAddress: range.lowerBound, count: range.upperBound - range.lowerBound)
                else { continue }
                let instructions = disassembler.sweep(
                    image.bytes, range: offset..<offset + Int(range.upperBound - range.lowerBound),
                    address: range.lowerBound
                ).instructions
                var nextSlot: (address: UInt64, slot: UInt64)? = nil
                for insn in instructions.reversed() {
                    if insn.kind == .jump, let operand = insn.operands.first,
                        let slot = insn.ripRelativeAddress(operand)
                    {
                        nextSlot = (insn.address, slot)
                    }
                    if let next = nextSlot, next.address - insn.address < 16 { slots[insn.address] = next.slot }
                }
            }
            pltSlots.append(slots)
        }
    }

    private func name(ofNode node: Int) -> String {
        let i = node < base[1] ? 0 : 1
        let scanned = images[i]
        let start = scanned.functions[node - base[i]].start
        let candidates = scanned.image.symbols.filter {
            $0.defined && $0.value == start && ($0.type == STT_FUNC || $0.type == STT_GNU_IFUNC)
        }
        if let exported = candidates.min(by: {
            ($0.name.hasPrefix("_") ? 1 : 0, $0.name) < ($1.name.hasPrefix("_") ? 1 : 0, $1.name)
        }) {
            return exported.name
        }
        return "\(libraryName(i))+0x\(String(start, radix: 16))"
    }

    private func libraryName(_ i: Int) -> String {
        let path = images[i].image.path
        return path.split(separator: "/").last.map(String.init) ?? path
    }

    /// The function nodes `address` of image `i` stands for: the function containing it,
    /// or, for a PLT stub, what its GOT slot resolves to.
    private func nodes(at address: UInt64, image i: Int) -> [Int] {
        let scanned = images[i]
        if scanned.isPLT(address) {
            guard let slot = pltSlots[i][address], case let .functions(targets) = resolve(slot: slot, image: i) else {
                return []
            }
            return targets
        }
        return scanned.function(containing: address).map { [base[i] + $0] } ?? []
    }

    /// The implementations an IFUNC resolver may return: the code addresses it takes
    /// with `lea`. Not the resolver's own callees (CPU feature checks, the vDSO
    /// lookup of `time` and `gettimeofday`): they run at relocation, not at the call.
    /// A vDSO entry it returns makes no system call and adds nothing.
    func ifuncCandidates(resolver: UInt64, image i: Int) -> [Int] {
        guard let f = images[i].function(containing: resolver) else { return nodes(at: resolver, image: i) }
        return images[i].functions[f].codeReferences.sorted().flatMap { nodes(at: $0, image: i) }
    }

    private func nodeForSymbol(named name: String, preferring i: Int) -> [Int]? {
        for j in [i, 1 - i] {
            if let value = exports[j][name] { return nodes(at: value, image: j) }
        }
        return nil
    }

    /// What the pointer stored at `slot` (a GOT entry, a relocated word) calls.
    private func resolve(slot: UInt64, image i: Int) -> SlotTarget {
        let image = images[i].image
        if let relocation = relocations[i][slot] {
            switch relocation.type {
            case ELFImage.relocationIRelative:
                // The IFUNC's resolver runs once, at relocation (in the start window);
                // what a call runs is one of the implementations it `lea`s.
                return .functions(ifuncCandidates(resolver: UInt64(bitPattern: relocation.addend), image: i))
            case ELFImage.relocationGlobDat, ELFImage.relocationJumpSlot, ELFImage.relocation64:
                guard relocation.symbol > 0, relocation.symbol < image.symbols.count else { return .data }
                let symbol = image.symbols[relocation.symbol]
                if symbol.defined {
                    guard symbol.type == STT_FUNC || symbol.type == STT_GNU_IFUNC else { return .data }
                    return .functions(nodes(at: symbol.value &+ UInt64(bitPattern: relocation.addend), image: i))
                }
                if let targets = nodeForSymbol(named: symbol.name, preferring: 1 - i) { return .functions(targets) }
                let other = images[1 - i].image
                if other.symbols.contains(where: { $0.defined && $0.name == symbol.name }) { return .data }
                return .unresolved
            default:
                return .data
            }
        }
        if let value = image.relativeTargets[slot] {
            return image.isCode(value) ? .functions(nodes(at: value, image: i)) : .data
        }
        return .unresolved
    }

    /// What a pointer loaded from `origin` calls. A word or field of the loader's
    /// `_rtld_global_ro` that no relocation fills is set at run time to a vDSO entry
    /// (`.data`: no edge, the calling function's own fallback system call stands for it).
    private func resolve(origin: PointerOrigin, image i: Int) -> SlotTarget {
        switch origin {
        case let .word(address):
            let result = resolve(slot: address, image: i)
            if case .unresolved = result, i == 1, isGLRO(address) { return .data }
            return result
        case let .field(slot, displacement):
            guard let relocation = relocations[i][slot], relocation.symbol > 0,
                relocation.symbol < images[i].image.symbols.count
            else { return .unresolved }
            let name = images[i].image.symbols[relocation.symbol].name
            for j in [i, 1 - i] {
                guard let object = images[j].image.symbols.first(where: { $0.defined && $0.name == name }) else {
                    continue
                }
                let field = UInt64(bitPattern: Int64(bitPattern: object.value) &+ displacement)
                let result = resolve(slot: field, image: j)
                if case .unresolved = result, j == 1, isGLRO(field) { return .data }
                return result
            }
            return .unresolved
        }
    }

    private func isGLRO(_ address: UInt64) -> Bool {
        guard let glro = images[1].image.symbols.first(where: { $0.defined && $0.name == "_rtld_global_ro" }) else {
            return false
        }
        return (glro.value..<glro.value + glro.size).contains(address)
    }

    /// The code pointers of a table at `address`: after at most two leading words that
    /// are not code pointers (a vtable's header), every consecutive relocated word that
    /// points to code. GOT entries are slots, not tables.
    private func table(at address: UInt64, image i: Int) -> [Int] {
        let image = images[i].image
        if let section = image.section(containing: address), section.name.hasPrefix(".got") { return [] }
        var result: [Int] = []
        // Only a FILE vtable starts with header words (two dummies) before its pointers.
        var leading = image.section(named: "__libc_IO_vtables")?.range.contains(address) == true ? 0 : 2
        var slot = address
        for _ in 0..<4096 {
            var targets: [Int]? = nil
            if let value = image.relativeTargets[slot], image.isCode(value) {
                targets = nodes(at: value, image: i)
            } else if let relocation = relocations[i][slot], relocation.type == ELFImage.relocation64,
                case let .functions(found) = resolve(slot: slot, image: i)
            {
                targets = found
            }
            if let targets {
                result += targets
            } else if result.isEmpty && leading < 2 {
                leading += 1
            } else {
                break
            }
            slot += 8
        }
        return result
    }

    /// Every code pointer relocated into [range].
    private func codePointers(in range: Range<UInt64>, image i: Int) -> [Int] {
        let image = images[i].image
        var result: [Int] = []
        for (slot, value) in image.relativeTargets where range.contains(slot) && image.isCode(value) {
            result += nodes(at: value, image: i)
        }
        for (slot, relocation) in relocations[i] where range.contains(slot) && relocation.type == ELFImage.relocation64
        {
            if case let .functions(found) = resolve(slot: slot, image: i) { result += found }
        }
        return Array(Set(result)).sorted()
    }

    mutating func solve() -> LibcSyscallTable {
        let libcImage = images[0].image
        let loaderImage = images[1].image
        // The FILE vtables: what an unresolved indirect call is assumed to reach.
        let vtableSection = libcImage.section(named: "__libc_IO_vtables")!
        let vtableNodes = codePointers(in: vtableSection.range, image: 0)
        // The loader's read-only function table (GLRO), behind dlopen and friends.
        let glro = loaderImage.symbols.first { $0.defined && $0.name == "_rtld_global_ro" }!
        let glroRange = glro.value..<glro.value + glro.size
        let glroNodes = codePointers(in: glroRange, image: 1)
        let glroSlotsInLibc = Set(
            relocations[0].values.filter {
                $0.symbol > 0 && $0.symbol < libcImage.symbols.count
                    && libcImage.symbols[$0.symbol].name == "_rtld_global_ro"
            }.map(\.offset))

        var fatal = Set<Int>()
        for name in LibcSyscallAnalysis.fatalNames {
            if let value = exports[0][name] { fatal.formUnion(nodes(at: value, image: 0)) }
        }
        if let value = exports[0]["__libc_fatal"], let f = images[0].function(containing: value) {
            for target in images[0].functions[f].branchTargets { fatal.formUnion(nodes(at: target, image: 0)) }
        }
        let syscallWrapper = exports[0]["syscall"].flatMap { images[0].function(containing: $0) }
        // Stream orientation (specs "Stream orientation"): `_IO_fwide (fp, mode)` loads the
        // locale's conversion (gconv, possibly dlopen) only for mode > 0 on a stream not yet
        // oriented. A caller that passes a constant mode <= 0 (narrow stdio) does not get
        // there; nor do the wide helpers below, which only run on streams already oriented
        // wide (through a wide vtable, or after their wide caller's own `_IO_fwide (fp, 1)`).
        // `_IO_fwide` is not exported: it is among what `fwide` calls directly (with a
        // lock's slow path, whose futex is ambient anyway).
        let orientation: Set<UInt64> =
            exports[0]["fwide"].flatMap { images[0].function(containing: $0) }
            .map { images[0].functions[$0].branchTargets } ?? []
        var fwide = Set<Int>()
        for target in orientation { fwide.formUnion(nodes(at: target, image: 0)) }
        var orientedWideHelpers = Set<Int>()
        for name in LibcSyscallAnalysis.orientedWideHelpers {
            if let value = exports[0][name] { orientedWideHelpers.formUnion(nodes(at: value, image: 0)) }
        }
        // Functions whose every exported name is GLIBC_PRIVATE.
        let privateStarts: [Set<UInt64>] = images.map { scanned in
            var byStart: [UInt64: Bool] = [:]
            for symbol in scanned.image.symbols
            where symbol.defined && (symbol.type == STT_FUNC || symbol.type == STT_GNU_IFUNC) {
                byStart[symbol.value] = (byStart[symbol.value] ?? true) && symbol.glibcPrivate
            }
            return Set(byStart.filter(\.value).keys)
        }
        // glibc's hidden `__pthread_unwind`, which the exported `__pthread_unwind_next`
        // calls: the unwinding of a cancelled thread (specs "Thread cancellation").
        var unwinder = Set<Int>()
        var unwindNext = Set<Int>()
        if let value = exports[0]["__pthread_unwind_next"], let f = images[0].function(containing: value) {
            unwindNext = [f]
            for target in images[0].functions[f].branchTargets { unwinder.formUnion(nodes(at: target, image: 0)) }
        }
        let unwinderLoader = Set(exports[0]["__libc_unwind_link_get"].map { nodes(at: $0, image: 0) } ?? [])
        let exportedStarts = Set(
            libcImage.symbols.filter {
                $0.defined && ($0.type == STT_FUNC || $0.type == STT_GNU_IFUNC)
                    && ($0.binding == STB_GLOBAL || $0.binding == STB_WEAK)
            }.map(\.value))

        var own = [Bits](repeating: Bits(), count: nodeCount)
        var openFlagArguments = [Set<Int>](repeating: [], count: nodeCount)
        for (i, scanned) in images.enumerated() {
            for (f, facts) in scanned.functions.enumerated() {
                openFlagArguments[base[i] + f] = facts.openFlagArguments
            }
        }
        var successors = [[Int]](repeating: [], count: nodeCount)
        var unknown: [UnknownSyscallSite] = []
        var statistics = LibcSyscallStatistics()
        for (i, scanned) in images.enumerated() {
            statistics.functions += scanned.functions.count
            statistics.functionsWithoutFDE += scanned.functionsWithoutFDE
            statistics.instructions += scanned.instructionCount
            statistics.skippedBytes += scanned.skippedBytes
            for (f, facts) in scanned.functions.enumerated() {
                let node = base[i] + f
                var bits = Bits()
                var edges = Set<Int>()
                for site in facts.syscalls {
                    statistics.syscallSites += 1
                    if let numbers = site.numbers {
                        for n in numbers { bits.insert(n) }
                    } else if i == 0 && f == syscallWrapper {
                        bits.insertAll()  // the generic wrapper: set below
                    } else {
                        bits.insertAll()
                        bits.set(flag: Bits.reachesUnknown)
                        bits.set(flag: Bits.opensForWriting)
                        unknown.append(
                            UnknownSyscallSite(
                                library: libraryName(i), address: site.address, function: name(ofNode: node)))
                    }
                }
                // Only the loader maps code (specs "Executable mappings").
                if i == 1 && !facts.executableMappingSites.isEmpty { bits.set(flag: Bits.mapsExecutable) }
                // The loader opens for writing only for LD_PROFILE and LD_DEBUG_OUTPUT
                // (specs "Opening for writing"), whose output a sandboxed process does not write.
                if facts.opensForWriting && i == 0 { bits.set(flag: Bits.opensForWriting) }
                if i == 0 && f == syscallWrapper {
                    bits.insertAll()
                    bits.set(flag: Bits.mapsExecutable)
                    bits.set(flag: Bits.opensForWriting)
                }
                for target in facts.branchTargets { edges.formUnion(nodes(at: target, image: i)) }
                for target in facts.codeReferences { edges.formUnion(nodes(at: target, image: i)) }
                var unresolved = false
                for call in facts.registerIndirect {
                    switch call.origin.map({ resolve(origin: $0, image: i) }) ?? .unresolved {
                    case let .functions(targets): edges.formUnion(targets)
                    case .data: break  // a vDSO entry (specs "Calls through the loader's table")
                    case .unresolved: unresolved = true
                    }
                }
                for slot in facts.indirectSlots {
                    switch resolve(slot: slot, image: i) {
                    case let .functions(targets): edges.formUnion(targets)
                    case .data, .unresolved: unresolved = true
                    }
                }
                var usesGLRO = false
                for address in facts.dataReferences {
                    if case let .functions(targets) = resolve(slot: address, image: i) { edges.formUnion(targets) }
                    edges.formUnion(table(at: address, image: i))
                    if i == 0 ? glroSlotsInLibc.contains(address) : glroRange.contains(address) { usesGLRO = true }
                }
                // glibc's private interface is called only by glibc, with its own functions
                // as arguments (taken by `lea` in the callers, so already edges there).
                if unresolved && privateStarts[i].contains(facts.start) { unresolved = false }
                if unresolved {
                    bits.set(flag: Bits.mayCallBack)
                    edges.formUnion(vtableNodes)
                    if usesGLRO { edges.formUnion(glroNodes) }
                }
                // A dying caller is not followed into the fatal functions.
                if !fatal.contains(node) { edges.subtract(fatal) }
                // Only exported functions load the unwinder (specs "Thread cancellation").
                if i == 0 && !exportedStarts.contains(facts.start) { edges.subtract(unwinderLoader) }
                if !unwindNext.contains(node) { edges.subtract(unwinder) }
                edges.remove(node)
                if orientedWideHelpers.contains(node) {
                    edges.subtract(fwide)
                } else if i == 0 {
                    for target in orientation {
                        guard let modes = facts.queriedArguments[target] ?? nil, modes.allSatisfy({ $0 <= 0 }),
                            !facts.codeReferences.contains(target)
                        else { continue }
                        edges.subtract(nodes(at: target, image: 0))
                    }
                }
                // A wrapper whose open flags are its caller's argument, reached other than
                // by a direct call in its own image (whose arguments the scan judged):
                // the caller may pass anything.
                var judged = Set<Int>()
                for target in facts.branchTargets {
                    if let g = scanned.function(containing: target), scanned.functions[g].start == target {
                        judged.insert(base[i] + g)
                    }
                }
                if edges.contains(where: { !judged.contains($0) && !openFlagArguments[$0].isEmpty }) {
                    bits.set(flag: Bits.opensForWriting)
                }
                own[node] = bits
                successors[node] = edges.sorted()
                statistics.edges += edges.count
            }
        }

        // Least fixpoint of closure = own ∪ closures of successors, over reverse edges.
        var predecessors = [[Int]](repeating: [], count: nodeCount)
        for (u, targets) in successors.enumerated() { for v in targets { predecessors[v].append(u) } }
        // A mode-string opener's writing is its caller's to decide (by the mode it passes).
        var blocksWrite = [Bool](repeating: false, count: nodeCount)
        for name in ScannedImage.modeStringOpeners {
            for node in exports[0][name].map({ nodes(at: $0, image: 0) }) ?? [] {
                blocksWrite[node] = true
                own[node].clear(flag: Bits.opensForWriting)
            }
        }
        var closure = own
        var work = Array(0..<nodeCount)
        var queued = [Bool](repeating: true, count: nodeCount)
        while let v = work.popLast() {
            queued[v] = false
            var masked = closure[v]
            masked.clear(flag: Bits.opensForWriting)
            for u in predecessors[v] where closure[u].formUnion(blocksWrite[u] ? masked : closure[v]) && !queued[u] {
                queued[u] = true
                work.append(u)
            }
        }

        if let request = getenv("DYCK_LIBC_EXPLAIN").map({ String(cString: $0) }) {
            explain(request, own: own, successors: successors, blocksWrite: blocksWrite)
        }

        var functions: [String: LibcFunctionSummary] = [:]
        var madeAll: [String] = []
        for symbol in libcImage.symbols where symbol.defined && !symbol.name.isEmpty {
            guard symbol.type == STT_FUNC || symbol.type == STT_GNU_IFUNC,
                symbol.binding == STB_GLOBAL || symbol.binding == STB_WEAK,
                symbol.visibility == STV_DEFAULT || symbol.visibility == STV_PROTECTED,
                functions[symbol.name] == nil
            else { continue }
            var bits = Bits()
            let entries =
                symbol.type == STT_GNU_IFUNC
                ? ifuncCandidates(resolver: symbol.value, image: 0) : nodes(at: symbol.value, image: 0)
            for node in entries {
                _ = bits.formUnion(closure[node])
                // Open flags from the program's arguments: anything.
                if !openFlagArguments[node].isEmpty { bits.set(flag: Bits.opensForWriting) }
            }
            functions[symbol.name] = LibcFunctionSummary(
                set: bits.systemCallSet, mayCallBack: bits.has(flag: Bits.mayCallBack))
            if bits.has(flag: Bits.reachesUnknown) { madeAll.append(symbol.name) }
        }
        var start = Bits()
        // The whole dynamic loader: its entry (`_start`, hand-written assembly) may have
        // no unwind information, so no function of its own whose closure could stand
        // for start-up; and at start-up any of the loader's code may run.
        for node in nodes(at: loaderImage.entry, image: 1) { _ = start.formUnion(closure[node]) }
        for f in images[1].functions.indices { _ = start.formUnion(closure[base[1] + f]) }
        if let value = exports[0]["__libc_start_main"] {
            for node in nodes(at: value, image: 0) { _ = start.formUnion(closure[node]) }
        }
        start.set(flag: Bits.mapsExecutable)
        start.set(flag: Bits.opensForWriting)
        return LibcSyscallTable(
            functions: functions, startSet: start.systemCallSet,
            unknownSites: unknown.sorted { ($0.library, $0.address) < ($1.library, $1.address) },
            functionsMadeAll: madeAll.sorted(), statistics: statistics)
    }
}

extension CallGraph {
    /// Debugging aid (`DYCK_LIBC_EXPLAIN=NAME:WHAT`, WHAT a system-call number, `exec`
    /// or `callback`): prints to stderr a shortest call path from the exported function
    /// NAME to a function that makes WHAT itself.
    fileprivate func explain(_ request: String, own: [Bits], successors: [[Int]], blocksWrite: [Bool]) {
        let parts = request.split(separator: ":").map(String.init)
        guard parts.count == 2, let value = exports[0][parts[0]] else { return }
        func matches(_ n: Int) -> Bool {
            switch parts[1] {
            case "exec": return own[n].has(flag: Bits.mapsExecutable)
            case "callback": return own[n].has(flag: Bits.mayCallBack)
            case "write": return own[n].has(flag: Bits.opensForWriting)
            default:
                guard let number = Int(parts[1]) else { return false }
                return own[n].words[number >> 6] & (1 << UInt64(number & 63)) != 0
            }
        }
        var parent: [Int: Int] = [:]
        var queue = nodes(at: value, image: 0)
        for n in queue { parent[n] = n }
        var head = 0
        while head < queue.count {
            let n = queue[head]
            head += 1
            if matches(n) {
                var path = [n]
                while let p = parent[path.last!], p != path.last! { path.append(p) }
                FileHandle.standardError.write(
                    Data(
                        ("explain \(request): " + path.reversed().map { name(ofNode: $0) }.joined(separator: " -> ")
                            + "\n").utf8))
                return
            }
            if parts[1] == "write" && blocksWrite[n] { continue }
            for m in successors[n] where parent[m] == nil {
                parent[m] = n
                queue.append(m)
            }
        }
        FileHandle.standardError.write(Data(("explain \(request): not reachable\n").utf8))
    }
}
