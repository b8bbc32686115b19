import DyckModel
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
        func read(_ offset: UInt64, _ count: Int) throws -> [UInt8] {
            var buffer = [UInt8](repeating: 0, count: count)
            let got = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
            guard got == count else {
                throw RunError.notInstrumented(
                    program: program, reason: "not an ELF file (cannot read \(count) bytes at \(offset))")
            }
            return buffer
        }
        func u16(_ b: [UInt8], _ o: Int) -> UInt64 { UInt64(b[o]) | UInt64(b[o + 1]) << 8 }
        func u32(_ b: [UInt8], _ o: Int) -> UInt64 { u16(b, o) | u16(b, o + 2) << 16 }
        func u64(_ b: [UInt8], _ o: Int) -> UInt64 { u32(b, o) | u32(b, o + 4) << 32 }

        let header = try read(0, 64)
        guard header[0..<4].elementsEqual([0x7f, 0x45, 0x4c, 0x46]) else {
            throw RunError.notInstrumented(program: program, reason: "not an ELF file")
        }
        guard header[4] == 2, header[5] == 1 else {
            throw RunError.notInstrumented(program: program, reason: "not a 64-bit little-endian ELF file")
        }
        let shoff = u64(header, 0x28)
        let shentsize = Int(u16(header, 0x3a))
        let shnum = Int(u16(header, 0x3c))
        let shstrndx = Int(u16(header, 0x3e))
        guard shoff != 0, shentsize >= 64, shnum > 0, shnum < 65_280, shstrndx < shnum else {
            throw RunError.notInstrumented(program: program, reason: "no section headers")
        }
        let table = try read(shoff, shentsize * shnum)
        func section(_ i: Int) -> (name: UInt64, offset: UInt64, size: UInt64) {
            let o = i * shentsize
            return (u32(table, o), u64(table, o + 0x18), u64(table, o + 0x20))
        }
        let strings = section(shstrndx)
        guard strings.size < 1 << 24 else {
            throw RunError.notInstrumented(program: program, reason: "section name table too large")
        }
        let names = try read(strings.offset, Int(strings.size))
        let wanted = Array(PolicyDigest.sectionName.utf8) + [0]
        for i in 0..<shnum {
            let s = section(i)
            let start = Int(s.name)
            guard start + wanted.count <= names.count,
                names[start..<start + wanted.count].elementsEqual(wanted)
            else { continue }
            guard s.size == UInt64(PolicyDigest.size) else {
                throw RunError.notInstrumented(
                    program: program,
                    reason: "\(PolicyDigest.sectionName) has \(s.size) bytes, not \(PolicyDigest.size)")
            }
            let contents = try read(s.offset, PolicyDigest.size)
            guard contents.starts(with: PolicyDigest.magic) else {
                throw RunError.notInstrumented(
                    program: program, reason: "\(PolicyDigest.sectionName) has an unknown format")
            }
            return Array(contents.dropFirst(PolicyDigest.magic.count))
        }
        throw RunError.notInstrumented(program: program, reason: "no \(PolicyDigest.sectionName) section")
    }

    /// Throws `RunError.wrongPolicy` unless `policyBytes` hash to the digest the
    /// program open on `fd` records.
    public static func check(fd: Int32, program: String, policyPath: String, policyBytes: [UInt8]) throws {
        let recorded = try recordedDigest(fd: fd, program: program)
        let actual = SHA256.hash(policyBytes)
        guard recorded == actual else {
            throw RunError.wrongPolicy(
                program: program, policy: policyPath,
                reason:
                    "the program records policy digest \(hex(recorded.prefix(8)))…, the file's is \(hex(actual.prefix(8)))… "
                    + "(rebuild the program, or give the policy it was built with)")
        }
    }

    static func hex<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        let digits = Array("0123456789abcdef")
        return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
    }
}
