#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A failed system call: its errno, and optionally what was being done.
public struct SystemError: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: Int32
    public var context: String?

    public init(_ code: Int32, _ context: String? = nil) {
        self.code = code
        self.context = context
    }

    /// The system's explanation (strerror), after the context if there is one.
    public var text: String {
        let reason = SystemError.describe(code)
        guard let context else { return reason }
        return "\(context): \(reason)"
    }

    public var description: String { text }

    /// strerror(code), copied.
    public static func describe(_ code: Int32) -> String {
        guard let message = strerror(code) else { return "error \(code)" }
        return String(cString: message)
    }
}
