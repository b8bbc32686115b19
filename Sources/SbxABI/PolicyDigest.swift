import SbxSystem

/// What an instrumented executable records about its policy: the section
/// `.sbx_policy` holds `magic` followed by the SHA-256 of the policy file's bytes
/// (`specs/marker-abi.md`, "Policy digest"). Written by the instrumentation
/// (DyckInstrument), checked by `sbx run` (SbxRun) before anything reaches the kernel.
public enum PolicyDigest {
    public static let sectionName = ".sbx_policy"
    public static let magic: [UInt8] = Array("SBXPOL01".utf8)
    public static let size = 40

    /// The section's contents for a policy file's bytes.
    public static func sectionContents<C: Collection>(policyBytes: C) -> [UInt8] where C.Element == UInt8 {
        magic + SHA256.hash(policyBytes)
    }
}
