import DyckModel

/// Why `sbx vm` could not prepare or boot the guest. The command's own failures are
/// not errors: they come back as its exit status (`VMResult.status`).
public struct VMError: CategorizedError, Sendable {
    public enum Kind: Sendable, Equatable {
        /// A bad option or a missing or wrong input file (the module, `--kernel`).
        case badInput
        /// A tool or package `sbx vm` needs is missing or failed (QEMU, apt-get,
        /// busybox-static, the kernel headers).
        case environment
        /// A cache or output file could not be written.
        case outputFailed
        /// The guest did not finish in time and was killed.
        case timedOut
        /// The guest kernel or the setup inside it failed before the command's status
        /// was known: a kernel panic, a module that does not load, a mount that fails.
        case guestFailed
    }

    public var kind: Kind
    public var message: String
    /// The last lines of the guest kernel's console, when they explain the failure.
    public var kernelLogTail: [String]

    public init(_ kind: Kind, _ message: String, kernelLogTail: [String] = []) {
        self.kind = kind
        self.message = message
        self.kernelLogTail = kernelLogTail
    }

    public var category: ErrorCategory {
        switch kind {
        case .badInput: return .badInput
        case .outputFailed: return .outputFailed
        // The executable maps these two to their own statuses before the category is
        // ever asked for; environment is the honest fallback.
        case .environment, .timedOut, .guestFailed: return .environment
        }
    }

    public var description: String { message }
}
