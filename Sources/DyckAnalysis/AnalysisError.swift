import DyckModel

/// Why an analysis could not produce a policy. Every case names the file it is about,
/// so that a message printed on its own still tells the user what to fix.
public enum AnalysisError: CategorizedError, Equatable, Sendable {
    /// The file could not be opened or read; `reason` is the system's error text.
    case unreadableFile(path: String, reason: String)
    /// The file looks like LLVM IR (bitcode magic or textual IR) but LLVM rejected it.
    /// `message` is LLVM's first diagnostic line.
    case irDoesNotParse(path: String, message: String)
    /// The file is neither bitcode nor textual IR (a C source, an ELF object, ...).
    case notLLVMIR(path: String, reason: String)
    /// The module parsed but does not pass LLVM's verifier.
    case invalidIR(path: String, message: String)
    /// The entry function (normally `main`) is not defined in the module.
    case entryNotDefined(path: String, name: String)
    /// The C library's exported function names could not be read.
    case libcSymbolsUnavailable(path: String, reason: String)
    /// The system calls of the C library's functions could not be derived (the file is
    /// unreadable, not a shared object, or not glibc).
    case libcSystemCallsUnavailable(path: String, reason: String)

    public var category: ErrorCategory {
        switch self {
        case .libcSymbolsUnavailable, .libcSystemCallsUnavailable: return .environment
        default: return .badInput
        }
    }

    public var description: String {
        switch self {
        case let .unreadableFile(path, reason):
            return "\(path): cannot read file: \(reason)"
        case let .irDoesNotParse(path, message):
            return "\(path): LLVM IR does not parse: \(message)"
        case let .notLLVMIR(path, reason):
            return "\(path): not LLVM IR (\(reason)); expected textual IR (.ll) or bitcode (.bc)"
        case let .invalidIR(path, message):
            return "\(path): LLVM IR is invalid: \(message)"
        case let .entryNotDefined(path, name):
            return "\(path): entry function '\(name)' is not defined in the module"
        case let .libcSymbolsUnavailable(path, reason):
            return "\(path): cannot read the C library's exported functions: \(reason)"
        case let .libcSystemCallsUnavailable(path, reason):
            return "\(path): cannot derive the system calls of the C library's functions: \(reason)"
        }
    }
}
