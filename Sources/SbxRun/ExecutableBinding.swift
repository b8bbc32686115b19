import DyckModel
import SbxABI
import SbxSystem
#if canImport(Glibc)
import Glibc
#endif

/// The check that a policy file belongs to an executable: dyck-cc records the
/// SHA-256 of the policy it wrote in the executable's `.sbx_policy` section
/// (`PolicyDigest`), and the policy file's bytes must hash to it.
public enum ExecutableBinding {
    /// Reads the recorded digest section of the ELF file open on `fd`.
    /// Throws `RunError.notInstrumented` when the file is no ELF64 executable or has
    /// no (well-formed) section.
    public static func recordedDigest(fd: Int32, program: String) throws -> [UInt8] {
        func refuse(_ reason: String) -> RunError { .notInstrumented(program: program, reason: reason) }
        let contents: [UInt8]
        do {
            let file = try ELFFile(fd: fd, path: program)
            guard file.is64BitLittleEndian else { throw refuse("not a 64-bit little-endian ELF file") }
            guard let section = try file.section(named: PolicyDigest.sectionName) else {
                throw refuse("no \(PolicyDigest.sectionName) section")
            }
            guard section.size == UInt64(PolicyDigest.size) else {
                throw refuse("\(PolicyDigest.sectionName) has \(section.size) bytes, not \(PolicyDigest.size)")
            }
            contents = try file.contents(of: section)
        } catch let error as ELFError {
            throw refuse(error.reason)
        }
        guard contents.count == PolicyDigest.size, contents.starts(with: PolicyDigest.magic) else {
            throw refuse("\(PolicyDigest.sectionName) has an unknown format")
        }
        return Array(contents.dropFirst(PolicyDigest.magic.count))
    }

    /// Throws `RunError.wrongPolicy` unless `policyBytes` hash to the digest the
    /// program open on `fd` records; returns that digest (SHA-256).
    @discardableResult
    public static func check(fd: Int32, program: String, policyPath: String, policyBytes: [UInt8]) throws -> [UInt8] {
        let recorded = try recordedDigest(fd: fd, program: program)
        let actual = SHA256.hash(policyBytes)
        guard recorded == actual else {
            throw RunError.wrongPolicy(
                program: program, policy: policyPath,
                reason:
                    "the program records policy digest \(hex(recorded.prefix(8)))…, the file's is \(hex(actual.prefix(8)))… "
                    + "(rebuild the program, or give the policy it was built with)")
        }
        return actual
    }

    static func hex<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        let digits = Array("0123456789abcdef")
        return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
    }
}
