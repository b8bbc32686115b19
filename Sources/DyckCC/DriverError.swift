import DyckModel

/// Why `dyck-cc` could not do its job. Failures of the compilers and tools it runs are
/// separate (`ToolFailed`): their diagnostics have already been shown and the driver
/// ends with their exit status, as `cc` would.
public enum DriverError: CategorizedError, Equatable, Sendable {
    /// A program the driver needs (clang-19, llvm-link-19, llvm-objcopy-19) is not
    /// installed or not executable.
    case toolMissing(name: String, hint: String)
    /// A child process could not be started at all.
    case cannotRun(tool: String, reason: String)
    /// A temporary directory or file could not be created.
    case temporary(path: String, reason: String)
    /// An input could not be read or is malformed in a way the linker would not accept.
    case badInput(path: String, reason: String)
    /// An output could not be written or moved into place.
    case output(path: String, reason: String)
    /// The linked program has bitcode but no definition of the entry function, so no
    /// policy can be derived.
    case entryWithoutBitcode(output: String, entry: String)
    /// A `--dyck-...` option is unknown or lacks its value.
    case usage(String)
    /// A step that already succeeded once (the same compile, for the object) failed
    /// when repeated for the bitcode: a bug or a changed input.
    case bitcodeCompileFailed(source: String, message: String)
    /// Linking the bitcode failed because more than one input defines `symbol`.
    case duplicateSymbol(symbol: String, definedIn: [String])

    public var category: ErrorCategory {
        switch self {
        case .toolMissing, .cannotRun, .temporary: return .environment
        case .badInput, .entryWithoutBitcode, .usage, .bitcodeCompileFailed, .duplicateSymbol: return .badInput
        case .output: return .outputFailed
        }
    }

    public var description: String {
        switch self {
        case let .toolMissing(name, hint):
            return "\(name) not found (\(hint))"
        case let .cannotRun(tool, reason):
            return "cannot run \(tool): \(reason)"
        case let .temporary(path, reason):
            return "\(path): cannot create temporary file: \(reason)"
        case let .badInput(path, reason):
            return "\(path): \(reason)"
        case let .output(path, reason):
            return "\(path): cannot write: \(reason)"
        case let .entryWithoutBitcode(output, entry):
            return "\(output): no policy can be derived: the entry function '\(entry)' has no bitcode "
                + "(compile the file defining it with dyck-cc, or name another entry with --dyck-entry=NAME)"
        case let .usage(message):
            return message
        case let .bitcodeCompileFailed(source, message):
            return "\(source): compiling to bitcode failed although the same compile succeeded: \(message)"
        case let .duplicateSymbol(symbol, files):
            return "'\(symbol)' is defined in more than one input: \(files.joined(separator: ", "))"
        }
    }
}

/// A child process (clang, the linker, an LLVM tool) failed and has printed its own
/// diagnostics. The driver exits with `status`, like `cc` does when a stage fails.
public struct ToolFailed: Error, Equatable, Sendable {
    public let tool: String
    public let status: Int32
    public init(tool: String, status: Int32) {
        self.tool = tool
        self.status = status
    }
}
