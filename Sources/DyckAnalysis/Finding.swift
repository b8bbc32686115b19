/// Something the analysis or the instrumentation noticed that the user should know:
/// a part of the program the policy does not cover, or covers coarsely. Findings are
/// values; each executable renders them in its own words (`dyck-gen: warning: …`,
/// `dyck-cc: warning: …`), and tests match their kinds rather than their text.
public struct Finding: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The entry returns right after a musttail call: that return has no `exit` event.
        case entryReturnsAfterMusttail
        /// An indirect call whose type no address-taken function has, and no fallback.
        case indirectCallWithoutTargets
        /// An indirect call whose type no address-taken function has: any one is assumed.
        case indirectCallAssumesAnyTarget
        /// A call to a function neither defined in the module nor exported by libc.
        case uncoveredExternalCall
        /// A setjmp call that gets no SJ_SAVE/SJ_RESUME marker.
        case setjmpNotMarked
        /// A variadic callback, which gets no thunk.
        case variadicCallbackWithoutThunk
    }

    public var kind: Kind
    /// The IR module's name (its file's base name).
    public var module: String
    /// What was found, without the module and without a severity prefix.
    public var message: String

    public init(_ kind: Kind, module: String, _ message: String) {
        self.kind = kind
        self.module = module
        self.message = message
    }

    /// `MODULE: message`, the form the executables put after their `warning:`.
    public var description: String { "\(module): \(message)" }
}
