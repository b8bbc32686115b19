import Foundation
import ArgumentParser
import DyckModel
#if canImport(Glibc)
import Glibc
#endif

/// Exit statuses of `dyck-gen` and `sbx`. All are below 128, so they never collide
/// with a shell's 128+signal convention (which `sbx run` follows for a program that a
/// signal ended).
public enum ExitStatus: Int32, CaseIterable, Sendable {
    case success = 0
    /// `sbx check`: the events leave the policy. `sbx diff`: the policies differ
    /// (as diff(1)).
    case refused = 1
    /// Bad input: usage error, unreadable or malformed file, IR that does not parse.
    case badInput = 2
    /// An output file could not be written.
    case outputFailed = 3
    /// A tool or system file the command needs is missing or failed.
    case environment = 4
    /// A bug in this tool.
    case internalError = 70
    /// `sbx run`: the monitor killed the program (a policy violation); the report is
    /// on stderr.
    case violation = 100
    /// `sbx run`, `sbx policy`, `sbx status`: the kernel module is not loaded.
    case moduleNotLoaded = 101
    /// `sbx run`: the policy is missing, unreadable or corrupt.
    case policyUnusable = 102
    /// `sbx run`: the program is not instrumented (not built with dyck-cc).
    case notInstrumented = 103
    /// `sbx run`: not privileged (opening /dev/sbx or loading a policy was refused).
    case notPrivileged = 104
    /// `sbx run`: the policy is not the program's (digest mismatch, or the file exec'd
    /// was not the one checked).
    case wrongPolicy = 105
    /// `sbx policy install`: the executable already has an installed policy (replace
    /// it with `--replace`).
    case alreadyInstalled = 106
    /// `sbx run`: the program exists but cannot be executed (as in shells).
    case cannotExecute = 126
    /// `sbx run`: the program was not found (as in shells).
    case notFound = 127
    /// `sbx vm`: the guest did not finish within its timeout and was killed.
    case guestTimedOut = 124
    /// `sbx vm`: the guest failed before the command's status was known (kernel
    /// panic, a module that does not load).
    case guestFailed = 125

    /// The status of an error's category; `internalError` for a category this table
    /// does not know (a library that made up one is a bug).
    public init(_ category: ErrorCategory) {
        self = Self.byCategory[category] ?? .internalError
    }

    static let byCategory: [ErrorCategory: ExitStatus] = [
        .badInput: .badInput,
        .outputFailed: .outputFailed,
        .environment: .environment,
        .moduleNotLoaded: .moduleNotLoaded,
        .policyUnusable: .policyUnusable,
        .notInstrumented: .notInstrumented,
        .notPrivileged: .notPrivileged,
        .wrongPolicy: .wrongPolicy,
        .programNotFound: .notFound,
        .programNotExecutable: .cannotExecute,
        .alreadyInstalled: .alreadyInstalled
    ]
}

/// The sandbox's own error categories (`sbx run`, `sbx policy`, `sbx status`): each has
/// its exit status above.
extension ErrorCategory {
    /// The kernel module is not loaded (no /dev/sbx).
    public static let moduleNotLoaded = ErrorCategory("module not loaded")
    /// The policy is missing, unreadable, corrupt, or cannot be compiled for the
    /// kernel.
    public static let policyUnusable = ErrorCategory("policy unusable")
    /// The program was not built by dyck-cc (it records no policy digest).
    public static let notInstrumented = ErrorCategory("not instrumented")
    /// /dev/sbx or one of its privileged operations was refused.
    public static let notPrivileged = ErrorCategory("not privileged")
    /// The policy is not the one the program was built with, or the file exec'd was
    /// not the file checked.
    public static let wrongPolicy = ErrorCategory("wrong policy")
    /// The program could not be found.
    public static let programNotFound = ErrorCategory("program not found")
    /// The program was found but could not be executed.
    public static let programNotExecutable = ErrorCategory("program not executable")
    /// `sbx policy install`: the executable already has an installed policy.
    public static let alreadyInstalled = ErrorCategory("already installed")
}

/// Thrown by a command that has already printed its verdict and only needs to end
/// with a given status (e.g. `sbx check` refusing a sequence).
public struct CommandOutcome: Error {
    public let status: ExitStatus
    public init(_ status: ExitStatus) { self.status = status }
}

/// A problem found by the command itself, such as an option combination that makes
/// no sense for the given file.
public struct UsageError: CategorizedError {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var category: ErrorCategory { .badInput }
    public var description: String { message }
}

public enum Diagnostics {
    nonisolated(unsafe) public static var toolName = "sbx"

    public static func warning(_ message: String) {
        printError("\(toolName): warning: \(message)")
    }

    public static func note(_ message: String) {
        printError("\(toolName): \(message)")
    }

    public static func printError(_ line: String) {
        var text = line
        if !text.hasSuffix("\n") { text += "\n" }
        FileHandle.standardError.write(Data((text).utf8))
    }
}

extension ParsableCommand {
    /// Parses the command line, runs the command, and turns every error into one line
    /// on stderr and a documented exit status. This is the one place where errors
    /// become exit codes.
    public static func mainWithExitStatus(toolName: String, arguments: [String]? = nil) -> Never {
        Diagnostics.toolName = toolName
        let status: ExitStatus
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            status = .success
        } catch let outcome as CommandOutcome {
            status = outcome.status
        } catch let error as CategorizedError {
            Diagnostics.printError("\(toolName): error: \(error.description)")
            status = ExitStatus(error.category)
        } catch {
            // Help, version and usage errors of the argument parser.
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { print(message) }
                status = .success
            } else if code == .validationFailure {
                Diagnostics.printError(message)
                status = .badInput
            } else {
                Diagnostics.printError("\(toolName): internal error: \(message.isEmpty ? "\(error)" : message)")
                status = .internalError
            }
        }
        fflush(nil)  // every stream: stdout is a C global Swift 6 will not read
        Glibc.exit(status.rawValue)
    }
}

/// The arguments after `--` of a command that runs another program (`sbx run`, `record`,
/// `vm`), set aside before the argument parser sees the command line: its handling of
/// passthrough arguments takes time quadratic in their number (16,000 took 27 s), and
/// nothing after `--` is the tool's own anyway.
public enum PassthroughTail {
    nonisolated(unsafe) public private(set) static var arguments: [String] = []

    /// `arguments` without what follows the first `--` when `subcommands` names the first
    /// one; that tail is kept for `complete(_:)`.
    public static func split(_ arguments: [String], subcommands: Set<String>) -> [String] {
        guard let first = arguments.first, subcommands.contains(first),
            let dash = arguments.firstIndex(of: "--")
        else { return arguments }
        Self.arguments = Array(arguments[(dash + 1)...])
        return Array(arguments[...dash])
    }

    /// What the parser captured for passthrough, with the tail put back.
    public static func complete(_ captured: [String]) -> [String] {
        captured + arguments
    }
}
