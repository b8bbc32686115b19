import DyckModel

/// Why a module could not be instrumented or written. Every case names the file.
public enum InstrumentError: CategorizedError, Equatable, Sendable {
    /// The analysis does not describe this module (it was made from another module, or
    /// the module changed since): its handles cannot be trusted.
    case analysisMismatch(path: String, message: String)
    /// An id does not fit in the 32 bits a marker carries.
    case idOutOfRange(path: String, what: String, value: Int)
    /// The rewritten module fails LLVM's verifier. The input passed it, so this is a
    /// bug of the instrumentation or a construct it does not support.
    case verifierFailed(path: String, message: String)
    /// The instrumented module could not be written.
    case cannotWrite(path: String, reason: String)
    /// The module defines something other than a variable under a name the
    /// instrumentation defines (`MarkerABI.skipFlagSymbol`).
    case reservedName(path: String, name: String)
    /// LLVM refused to build an instruction, or the call had no block or successor,
    /// while an indirect call's dispatch was being built (`step` says which part). The
    /// module is partly rewritten and must be discarded; like `verifierFailed`, a bug of
    /// the instrumentation or a construct it does not support.
    case rewriteFailed(path: String, function: String, step: String)
    /// The markers after setjmp call `number` could not be placed (`step` says why):
    /// its result cannot be tested where the call returns. The module is partly
    /// rewritten and must be discarded (a SJ_SAVE missing would make every later
    /// longjmp to it a violation).
    case setjmpRewriteFailed(path: String, function: String, number: Int, step: String)

    public var category: ErrorCategory {
        switch self {
        case .cannotWrite: return .outputFailed
        default: return .badInput
        }
    }

    public var description: String {
        switch self {
        case let .analysisMismatch(path, message):
            return "\(path): the analysis does not match the module: \(message)"
        case let .idOutOfRange(path, what, value):
            return "\(path): \(what) \(value) does not fit in a 32-bit marker id"
        case let .verifierFailed(path, message):
            return "\(path): instrumented IR fails LLVM's verifier (please report this): \(message)"
        case let .cannotWrite(path, reason):
            return "\(path): cannot write: \(reason)"
        case let .reservedName(path, name):
            return
                "\(path): '\(name)' is reserved for the markers' skip flag (specs/marker-abi.md) and is not a variable here"
        case let .rewriteFailed(path, function, step):
            return
                "\(path): cannot instrument an indirect call in '\(function)' (\(step)); the module is partly rewritten (please report this)"
        case let .setjmpRewriteFailed(path, function, number, step):
            return
                "\(path): cannot mark setjmp call \(number) in '\(function)' (\(step)); the module is partly rewritten (please report this)"
        }
    }
}
