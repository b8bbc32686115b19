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
}

/// Builds marker instructions: one inline-asm `syscall` per marker, with the kind and
/// id as constants, so that every marker instruction in the binary has a fixed meaning
/// (a monitor may check where a marker comes from).
struct MarkerEmitter {
    let functionType: LLVMTypeRef
    let inlineAsm: LLVMValueRef
    let int64: LLVMTypeRef
    let nounwind: LLVMAttributeRef

    init(context: LLVMContextRef) {
        int64 = LLVMInt64TypeInContext(context)
        var parameters: [LLVMTypeRef?] = [int64, int64, int64]
        functionType = LLVMFunctionType(int64, &parameters, 3, 0)
        // rax carries the number in and the result out; rcx and r11 are what `syscall`
        // itself destroys. Nothing else is touched, and errno lives in memory that only
        // libc's wrappers write, so the program cannot observe a marker. The memory
        // clobber keeps loads and stores from moving across the marker.
        let assembly = "syscall"
        let constraints = "={ax},{ax},{di},{si},~{rcx},~{r11},~{memory},~{dirflag},~{fpsr},~{flags}"
        inlineAsm = LLVMGetInlineAsm(
            functionType, assembly, assembly.utf8.count, constraints, constraints.utf8.count,
            1, 0, LLVMInlineAsmDialectATT, 0)
        let kind = LLVMGetEnumAttributeKindForName("nounwind", 8)
        nounwind = LLVMCreateEnumAttribute(context, kind, 0)
    }

    /// Emits a marker at the builder's position; `location` is the debug location of the
    /// instruction the marker is about, so that a marker maps back to its source line.
    @discardableResult
    func emit(_ kind: MarkerKind, _ id: UInt32, builder: LLVMBuilderRef, location: LLVMMetadataRef?) -> LLVMValueRef? {
        var arguments: [LLVMValueRef?] = [
            LLVMConstInt(int64, MarkerABI.systemCallNumber, 0),
            LLVMConstInt(int64, UInt64(kind.rawValue), 0),
            LLVMConstInt(int64, UInt64(id), 0),
        ]
        let call = LLVMBuildCall2(builder, functionType, inlineAsm, &arguments, 3, "")
        if let call {
            LLVMAddCallSiteAttribute(call, attributeFunctionIndex, nounwind)
            if let location { LLVMInstructionSetDebugLoc(call, location) }
        }
        return call
    }
}

/// `LLVMAttributeFunctionIndex` (~0U), which Swift imports with a signed type.
let attributeFunctionIndex = LLVMAttributeIndex(UInt32.max)
