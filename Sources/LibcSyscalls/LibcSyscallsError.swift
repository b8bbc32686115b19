import DyckModel

/// Why the system-call sets of the C library could not be derived. Each case names
/// the file concerned, so that a message printed alone tells the user what to fix.
public enum LibcSyscallsError: CategorizedError, Equatable, Sendable {
    /// The file could not be opened, read or parsed as a 64-bit x86-64 shared object.
    case unreadableLibrary(path: String, reason: String)
    /// The file is an ELF shared object but not the GNU C library (or its loader) this
    /// analysis understands: a symbol or section it relies on is missing.
    case notGlibc(path: String, reason: String)
    /// Capstone could not be set up.
    case disassembler(String)

    public var category: ErrorCategory {
        switch self {
        case .disassembler: return .environment
        case .unreadableLibrary, .notGlibc: return .environment
        }
    }

    public var description: String {
        switch self {
        case let .unreadableLibrary(path, reason):
            return "\(path): cannot read the C library for its system calls: \(reason)"
        case let .notGlibc(path, reason):
            return "\(path): not a GNU C library this analysis understands: \(reason)"
        case let .disassembler(message):
            return "capstone: \(message)"
        }
    }
}
