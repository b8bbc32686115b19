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
    /// `sbx run` and friends: the kernel module is not loaded (no /dev/sbx).
    case moduleNotLoaded
    /// `sbx run`: the policy is missing, unreadable, corrupt, or cannot be compiled
    /// for the kernel.
    case policyUnusable
    /// `sbx run`: the program was not built by dyck-cc (it records no policy digest).
    case notInstrumented
    /// `sbx run`: /dev/sbx or one of its privileged operations was refused.
    case notPrivileged
    /// `sbx run`: the policy is not the one the program was built with, or the file
    /// exec'd was not the file checked.
    case wrongPolicy
    /// `sbx run`: the program could not be found.
    case programNotFound
    /// `sbx run`: the program was found but could not be executed.
    case programNotExecutable
    /// `sbx policy install`: the executable already has an installed policy.
    case alreadyInstalled
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
