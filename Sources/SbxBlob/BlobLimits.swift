import CSbxCore
import DyckModel

/// The caps of the blob format (`kmod/core/sbx_blob.h`, `specs/kernel-abi.md`),
/// which the kernel enforces on load.
public enum BlobLimits {
    public static let version = Int(SBX_BLOB_VERSION)
    public static let maxSize = Int(SBX_BLOB_MAX_SIZE)
    public static let maxSymbols = Int(SBX_MAX_SYMBOLS)
    public static let maxFunctions = Int(SBX_MAX_FUNCTIONS)
    public static let maxSites = Int(SBX_MAX_SITES)
    public static let maxCallbacks = Int(SBX_MAX_CALLBACKS)
    public static let maxMacroStates = Int(SBX_MAX_MSTATES)
    public static let maxTransitions = Int(SBX_MAX_TRANS)
    public static let maxStackLimit = Int(SBX_STACK_LIMIT_MAX)
    /// The farthest the event buffer may lie below the thread pointer (`SBX_EVBUF_TPOFF_MAX`).
    public static let maxEventBufferOffset = Int64(SBX_EVBUF_TPOFF_MAX)
    public static let defaultStackLimit = Int(SBX_STACK_LIMIT_DEFAULT)
    public static let maxMaxDepth = Int(SBX_MAX_DEPTH_MAX)
    public static let defaultMaxDepth = Int(SBX_MAX_DEPTH_DEFAULT)
    public static let maxSets = Int(SBX_MAX_SETS)
    public static let maxPins = Int(SBX_MAX_PINS)

    static func checkCounts(_ policy: Policy) throws {
        let counts = [
            ("symbols", policy.symbols.count, maxSymbols),
            ("functions", policy.functions.count, maxFunctions),
            ("call sites", policy.sites.count, maxSites),
            ("callbacks", policy.callbacks.count, maxCallbacks)
        ]
        for (what, count, cap) in counts where count > cap {
            throw BlobError.capExceeded(what: what, count: count, cap: cap)
        }
    }
}

/// Why a blob could not be built or loaded.
public enum BlobError: CategorizedError, Equatable {
    /// A table of the compiled policy would exceed a cap of the kernel.
    case capExceeded(what: String, count: Int, cap: Int)
    /// The stack limit is outside 1...BlobLimits.maxStackLimit.
    case badStackLimit(Int)
    /// The depth bound is outside 1...BlobLimits.maxMaxDepth.
    case badMaxDepth(Int)
    /// The C validator refused a blob: -EINVAL (malformed) or -E2BIG (over a cap).
    case invalidBlob(errno: Int32)
    /// The policy's system-call binding does not fit its symbols.
    case badBinding(String)
    /// The event buffer (`.sbx_evbuf`) does not fit the policy or the kernel's rule.
    case badEventBuffer(String)

    public var category: ErrorCategory { .badInput }

    public var description: String {
        switch self {
        case let .capExceeded(what, count, cap):
            return "the policy is too large for the kernel: \(count) \(what) exceed the cap of \(cap)"
        case let .badBinding(reason):
            return "the policy's system-call binding is malformed: \(reason)"
        case let .badEventBuffer(reason):
            return "the program's event buffer does not fit the kernel: \(reason)"
        case let .badStackLimit(limit):
            return "stack limit \(limit) is outside 1...\(BlobLimits.maxStackLimit)"
        case let .badMaxDepth(depth):
            return "depth bound \(depth) is outside 1...\(BlobLimits.maxMaxDepth)"
        case let .invalidBlob(errno):
            switch errno {
            case Int32(SBX_E2BIG): return "policy blob refused: over a cap (E2BIG)"
            case Int32(SBX_EINVAL): return "policy blob refused: malformed (EINVAL)"
            default: return "policy blob refused: error \(errno)"
            }
        }
    }
}
