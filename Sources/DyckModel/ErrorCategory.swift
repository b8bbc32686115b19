/// How an error should be reported to whoever ran the tool. Libraries classify their
/// own errors; the executables map the class to an exit status in one place
/// (`SbxCLI.ExitStatus`), so scripts can rely on the numbers.
///
/// The classes every tool shares are here; a tool's own (the sandbox's
/// module-not-loaded, wrong-policy, ...) are declared beside its exit statuses in
/// `SbxCLI`, so that this module knows nothing of the kernel or of `sbx run`. A
/// category that `ExitStatus` does not know is a bug of the tool (exit status 70).
public struct ErrorCategory: Hashable, Sendable, CustomStringConvertible {
    /// A name for messages and tests; two categories are the same when their names are.
    public let name: String

    public init(_ name: String) { self.name = name }

    public var description: String { name }

    /// The input (a file, an argument, an event name) is unreadable or malformed.
    public static let badInput = ErrorCategory("bad input")
    /// An output file could not be written.
    public static let outputFailed = ErrorCategory("output failed")
    /// Something the tool runs or reads from the system is missing or failed
    /// (graphviz, the C library's symbol table).
    public static let environment = ErrorCategory("environment")
}

/// An error that knows its category and prints as one line naming the file and the
/// problem.
public protocol CategorizedError: Error, CustomStringConvertible {
    var category: ErrorCategory { get }
}

import SbxSystem

extension AtomicWriteError: CategorizedError {
    public var category: ErrorCategory { .outputFailed }
}

// The record formats' errors (the policy format's here, the trace format's in
// SbxTrace) are classified once: a text at fault is bad input, a write that failed or
// was refused is a failed output.
extension RecordFormatError: CategorizedError {
    public var category: ErrorCategory { .badInput }
}

extension RecordFileError: CategorizedError {
    public var category: ErrorCategory { reason.isWriteFailure ? .outputFailed : .badInput }
}
