/// How an error should be reported to whoever ran the tool. Libraries classify their
/// own errors; the executables map the class to an exit status in one place
/// (`SbxCLI.ExitStatus`), so scripts can rely on the numbers.
public enum ErrorCategory: Sendable {
    /// The input (a file, an argument, an event name) is unreadable or malformed.
    case badInput
    /// An output file could not be written.
    case outputFailed
    /// Something the tool runs or reads from the system is missing or failed
    /// (graphviz, the C library's symbol table).
    case environment
}

/// An error that knows its category and prints as one line naming the file and the
/// problem.
public protocol CategorizedError: Error, CustomStringConvertible {
    var category: ErrorCategory { get }
}
