import CLLVM
import DyckModel

/// The numbers of `kmod/uapi/sbx_marker.h` that are not marker kinds (those are
/// `DyckModel.MarkerKind`). A test reads the header and compares, so the two cannot
/// drift apart silently.
public enum MarkerABI {
    /// `SBX_MARKER_NR`: no kernel assigns it, so without a monitor it fails with -ENOSYS.
    public static let systemCallNumber: UInt64 = 999
    /// `SBX_MARK_ID_MAX`: ids travel in the lower half of `rsi`.
    public static let maximumID: UInt64 = 0xffff_ffff
    /// `SBX_SITES_SECTION`: the table of pinned marker sites.
    public static let sitesSection = ".sbx_sites"
    /// `SBX_SITE_ENTRY_SIZE`: one entry (offset to the `syscall`, kind, id, reserved 0),
    /// each 32 bits; entries are aligned to their size.
    public static let siteEntrySize = 16

    /// The pinned site's entry in `sitesSection` for the `syscall` at local label 1,
    /// itself at local label 2 (`specs/marker-abi.md`, "Pinned sites").
    private static func siteEntry(kind: MarkerKind, id: UInt32) -> String {
        """
        .pushsection \(sitesSection),"aR",@progbits
        .balign \(siteEntrySize)
        2: .long 1b - .
        .long \(kind.rawValue)
        .long \(id)
        .long 0
        .popsection
        """
    }

    /// The assembly of one marker (AT&T syntax, `specs/marker-abi.md`). `rdx` gets the
    /// run-time address of the marker's entry in `.sbx_sites`; the entry records where
    /// the `syscall` is and the kind and id it must carry, so a monitor can refuse a
    /// marker issued from anywhere else or with other numbers. Numeric local labels
    /// keep this right when the optimizer duplicates the asm: every copy assembles to
    /// its own `syscall` and its own entry. The entry is written by the assembler (a
    /// PC-relative difference resolved at link time), so it needs no relocation at
    /// run time and the section stays read-only; "R" (SHF_GNU_RETAIN) keeps
    /// `--gc-sections` from dropping a section that no code refers to by symbol.
    ///
    /// The site markers (`CALL`, `RET`, `TAIL`, see `skips`) are wrapped in the test
    /// of the process's skip flag (`specs/marker-abi.md`, "Answers"): while the byte
    /// `skipFlagSymbol` is non-zero the `lea` and `syscall` are jumped over; after the
    /// `syscall`, the answer `noSitesAnswer` sets the byte. The test is inside the asm,
    /// around the pinned pair, so the `lea` still immediately precedes its `syscall`
    /// and no block is split. `$$` is a literal `$` in LLVM's inline-asm text.
    public static func assembly(kind: MarkerKind, id: UInt32) -> String {
        let pinned = """
            lea 2f(%rip), %rdx
            1: syscall
            """
        let entry = siteEntry(kind: kind, id: id)
        guard skips(kind) else { return pinned + "\n" + entry }
        return """
            cmpb $$0, \(skipFlagSymbol)(%rip)
            jne 3f
            \(pinned)
            cmpq $$\(noSitesAnswer), %rax
            jne 3f
            movb $$1, \(skipFlagSymbol)(%rip)
            \(entry)
            3:
            """
    }

    /// The assembly of an *append* (`specs/marker-abi.md`, "Buffered events"): the
    /// event word `kind << 32 | id` goes into the first free slot of the thread's
    /// buffer `BufferedEvents.bufferSymbol` at or after its `count` hint, by one
    /// `cmpxchg` per slot tried (a signal handler that appends in between takes the
    /// slot first, and this append retries on the next one: nothing is lost or
    /// reordered). The `cmpxchg` has no `lock` prefix: only the owning thread appends,
    /// and an instruction is never split by a signal on its own thread. Then `count`
    /// becomes 1 + the slot. A full buffer takes the pinned marker of `assembly`
    /// instead, which the monitor handles after it has drained the buffer, so order
    /// is kept. Site kinds test the skip flag first, as their markers do.
    ///
    /// Registers: rcx (slot index), rdx (word, then the entry's address) and rax (0
    /// for the `cmpxchg`, then the number) are clobbered, and rdi and rsi are loaded
    /// only on the full-buffer path (`bufferedConstraints`).
    public static func bufferedAssembly(kind: MarkerKind, id: UInt32) -> String {
        let buffer = BufferedEvents.bufferSymbol
        let word = BufferedEvents.word(kind: kind, id: id)
        let marker = """
            movl $$\(systemCallNumber), %eax
            movl $$\(kind.rawValue), %edi
            movl $$\(id), %esi
            lea 2f(%rip), %rdx
            1: syscall
            """
        let entry = siteEntry(kind: kind, id: id)
        let answer = """
            cmpq $$\(noSitesAnswer), %rax
            jne 3f
            movb $$1, \(skipFlagSymbol)(%rip)
            """
        let skip = """
            cmpb $$0, \(skipFlagSymbol)(%rip)
            jne 3f

            """
        return (skips(kind) ? skip : "") + """
            movl %fs:\(buffer)@tpoff, %ecx
            movabsq $$\(word), %rdx
            4: cmpl $$\(BufferedEvents.capacity), %ecx
            jae 5f
            xorl %eax, %eax
            cmpxchgq %rdx, %fs:\(buffer)@tpoff+8(,%rcx,8)
            leal 1(%rcx), %ecx
            jne 4b
            movl %ecx, %fs:\(buffer)@tpoff
            jmp 3f
            5:
            \(marker)
            \(skips(kind) ? answer : "")
            \(entry)
            3:
            """
    }

    /// The constraints of an append: no inputs (the full-buffer path loads the
    /// marker's registers itself), rax, rcx, rdx, rdi, rsi and r11 clobbered (what the
    /// append and the `syscall` of its marker overwrite), memory and flags as for a
    /// marker.
    public static let bufferedConstraints =
        "~{rax},~{rcx},~{rdx},~{rdi},~{rsi},~{r11},~{memory},~{dirflag},~{fpsr},~{flags}"

    /// `SBX_SKIP_SITES_SYMBOL`: the byte, one per process image, that makes the site
    /// markers skip once the monitor has answered that it does not need them.
    public static let skipFlagSymbol = "__sbx_skip_sites"
    /// `SBX_MARKER_NO_SITES`: the monitor's answer to a site marker that it ignores
    /// (nfa mode). Every other value, -ENOSYS above all, means keep every marker.
    public static let noSitesAnswer: UInt64 = 0x5342_5801

    /// The kinds that the skip flag skips: those that change nothing in nfa mode.
    /// `CB_ENTER`/`CB_EXIT` push and pop callback frames and the setjmp markers keep
    /// records in both modes, and `LIBC` is the event itself: those are always made.
    public static func skips(_ kind: MarkerKind) -> Bool {
        kind == .call || kind == .ret || kind == .tail
    }

    /// The inline-asm constraints of every marker: rax carries the number in and the
    /// result out; rdi and rsi the kind and id (also in the text: the monitor compares
    /// the registers with the pinned entry); rdx is overwritten with the entry's
    /// address; rcx and r11 are what `syscall` itself destroys. Nothing else is touched,
    /// and errno lives in memory that only libc's wrappers write, so the program cannot
    /// observe a marker. The memory clobber keeps loads and stores from moving across
    /// the marker.
    public static let constraints =
        "={ax},{ax},{di},{si},~{rdx},~{rcx},~{r11},~{memory},~{dirflag},~{fpsr},~{flags}"
}

/// Builds marker instructions: one inline asm per marker, with the kind and id baked
/// into its text (`MarkerABI.assembly`), so that every marker instruction in the
/// binary has a fixed meaning that the `.sbx_sites` table pins.
final class MarkerEmitter {
    let context: LLVMContextRef
    let functionType: LLVMTypeRef
    let int64: LLVMTypeRef
    let nounwind: LLVMAttributeRef
    /// One inline-asm value per (kind, id): LLVM uniques them anyway; this only saves
    /// building the text again.
    private var inlineAsms: [Int: LLVMValueRef] = [:]
    /// With buffering (`InstrumentOptions.bufferEvents`): per symbol id, whether its
    /// `LIBC` events are appended (`BufferedEvents.bufferableSymbols`); nil: every
    /// event is a marker, as without the option.
    let bufferableSymbols: [Bool]?
    /// `void ()`: the type of an append's inline asm.
    let appendType: LLVMTypeRef
    private var appendAsms: [Int: LLVMValueRef] = [:]
    /// Events emitted as appends.
    private(set) var appends = 0

    init(context: LLVMContextRef, bufferableSymbols: [Bool]? = nil) {
        self.context = context
        self.bufferableSymbols = bufferableSymbols
        int64 = LLVMInt64TypeInContext(context)
        var parameters: [LLVMTypeRef?] = [int64, int64, int64]
        functionType = LLVMFunctionType(int64, &parameters, 3, 0)
        appendType = LLVMFunctionType(LLVMVoidTypeInContext(context), nil, 0, 0)
        let kind = LLVMGetEnumAttributeKindForName("nounwind", 8)
        nounwind = LLVMCreateEnumAttribute(context, kind, 0)
    }

    private func inlineAsm(_ kind: MarkerKind, _ id: UInt32) -> LLVMValueRef {
        let key = kind.rawValue << 32 | Int(id)
        if let cached = inlineAsms[key] { return cached }
        let assembly = MarkerABI.assembly(kind: kind, id: id)
        let constraints = MarkerABI.constraints
        let value: LLVMValueRef = LLVMGetInlineAsm(
            functionType, assembly, assembly.utf8.count, constraints, constraints.utf8.count,
            1, 0, LLVMInlineAsmDialectATT, 0)
        inlineAsms[key] = value
        return value
    }

    /// Whether event (kind, id) is appended to the buffer rather than issued.
    func appends(_ kind: MarkerKind, _ id: UInt32) -> Bool {
        guard let bufferableSymbols, BufferedEvents.mayBuffer(kind) else { return false }
        guard kind == .libc else { return true }
        return bufferableSymbols.indices.contains(Int(id)) && bufferableSymbols[Int(id)]
    }

    private func appendAsm(_ kind: MarkerKind, _ id: UInt32) -> LLVMValueRef {
        let key = kind.rawValue << 32 | Int(id)
        if let cached = appendAsms[key] { return cached }
        let assembly = MarkerABI.bufferedAssembly(kind: kind, id: id)
        let constraints = MarkerABI.bufferedConstraints
        let value: LLVMValueRef = LLVMGetInlineAsm(
            appendType, assembly, assembly.utf8.count, constraints, constraints.utf8.count,
            1, 0, LLVMInlineAsmDialectATT, 0)
        appendAsms[key] = value
        return value
    }

    /// Emits a marker, or with buffering the append of a bufferable event, at the
    /// builder's position; `location` is the debug location of the instruction the
    /// marker is about, so that a marker maps back to its source line.
    @discardableResult
    func emit(_ kind: MarkerKind, _ id: UInt32, builder: LLVMBuilderRef, location: LLVMMetadataRef?) -> LLVMValueRef? {
        if appends(kind, id) {
            appends += 1
            let call = LLVMBuildCall2(builder, appendType, appendAsm(kind, id), nil, 0, "")
            if let call {
                LLVMAddCallSiteAttribute(call, attributeFunctionIndex, nounwind)
                if let location { LLVMInstructionSetDebugLoc(call, location) }
            }
            return call
        }
        var arguments: [LLVMValueRef?] = [
            LLVMConstInt(int64, MarkerABI.systemCallNumber, 0),
            LLVMConstInt(int64, UInt64(kind.rawValue), 0),
            LLVMConstInt(int64, UInt64(id), 0)
        ]
        let call = LLVMBuildCall2(builder, functionType, inlineAsm(kind, id), &arguments, 3, "")
        if let call {
            LLVMAddCallSiteAttribute(call, attributeFunctionIndex, nounwind)
            if let location { LLVMInstructionSetDebugLoc(call, location) }
        }
        return call
    }
}

/// `LLVMAttributeFunctionIndex` (~0U), which Swift imports with a signed type.
let attributeFunctionIndex = LLVMAttributeIndex(UInt32.max)
