import CLibELF
import DyckModel
import SbxSystem
#if canImport(Glibc)
import Glibc
#endif

/// One marker site of an instrumented executable: where its `syscall` instruction
/// is (a link-time virtual address, before the load bias) and the kind and id it
/// must carry in `rdi` and `rsi`.
public struct PinnedSite: Hashable, Sendable {
    public var vaddr: UInt64
    public var kind: UInt32
    public var id: UInt32

    public init(vaddr: UInt64, kind: UInt32, id: UInt32) {
        self.vaddr = vaddr
        self.kind = kind
        self.id = id
    }

    /// nil for a kind the ABI does not define (never in a table `read` accepted).
    public var markerKind: MarkerKind? { MarkerKind(rawValue: Int(kind)) }
}

/// The executable's `.sbx_sites` table (`specs/marker-abi.md`, "Pinned sites"): every
/// marker instruction the instrumentation placed, with its kind and id. The kernel
/// accepts a marker only from a pinned site, with the pinned numbers; this is what
/// the monitor needs to check that, read from the file with libelf.
public struct PinnedSiteTable: Hashable, Sendable {
    /// The program as named to `read` (for messages).
    public var program: String
    /// The link-time virtual address of the table's first entry (`sh_addr`).
    public var tableVaddr: UInt64
    /// The lowest `p_vaddr` of the `PT_LOAD` segments with `PF_X`: what the kernel's
    /// `mm->start_code` is minus the load bias, so the kernel can find the bias of the
    /// mapping it checks against.
    public var execTextVaddr: UInt64
    /// In table order: entry i is at `tableVaddr + 16 i`, which is what `rdx` points
    /// to (plus the load bias) when site i's marker runs.
    public var sites: [PinnedSite]

    public init(program: String, tableVaddr: UInt64, execTextVaddr: UInt64, sites: [PinnedSite]) {
        self.program = program
        self.tableVaddr = tableVaddr
        self.execTextVaddr = execTextVaddr
        self.sites = sites
    }

    /// `SBX_SITES_SECTION` of `kmod/uapi/sbx_marker.h`.
    public static let sectionName = ".sbx_sites"
    /// `SBX_SITE_ENTRY_SIZE`: offset to the site (signed 32-bit), kind, id, reserved 0.
    public static let entrySize = 16
    /// At most 2^22 entries (64 MiB of table): a bound on what the kernel is asked to
    /// copy, far beyond any real program's marker count.
    public static let maximumEntries = 1 << 22

    /// The bytes of an x86-64 `syscall` instruction.
    static let syscallBytes: [UInt8] = [0x0f, 0x05]

    /// Reads and validates the table of the ELF executable open on `fd`. Every entry
    /// must describe a `syscall` instruction in this very file's executable segments:
    /// a table copied into another build (with its `.sbx_policy`) points at bytes that
    /// are not markers, and is refused here rather than at the program's first marker.
    ///
    /// Throws `RunError.notInstrumented` naming `program` and the first problem found.
    public static func read(fd: Int32, program: String) throws -> PinnedSiteTable {
        func refuse(_ reason: String) -> RunError { .notInstrumented(program: program, reason: reason) }
        do {
            return try read(ELFFile(fd: fd, path: program), program: program, refuse: refuse)
        } catch let error as ELFError {
            throw refuse(error.reason)
        }
    }

    private static func read(_ file: ELFFile, program: String, refuse: (String) -> RunError) throws
        -> PinnedSiteTable
    {
        let elf = file.handle
        let header = try file.header()
        guard gelf_getclass(elf) == ELFCLASS64, header.e_machine == UInt16(EM_X86_64) else {
            throw refuse("not an x86-64 ELF64 file (the marker ABI is x86-64)")
        }
        let image = try file.image()

        // Executable segments: where a site may be, and the file bytes behind them.
        var segmentCount = 0
        guard elf_getphdrnum(elf, &segmentCount) == 0 else { throw refuse("no program headers (\(elfError()))") }
        var executable: [GElf_Phdr] = []
        for i in 0..<segmentCount {
            var segment = GElf_Phdr()
            guard gelf_getphdr(elf, Int32(i), &segment) != nil else {
                throw refuse("program header \(i) is unreadable (\(elfError()))")
            }
            if segment.p_type == UInt32(PT_LOAD) && segment.p_flags & UInt32(PF_X) != 0 {
                executable.append(segment)
            }
        }
        guard let execTextVaddr = executable.map(\.p_vaddr).min() else {
            throw refuse("no executable PT_LOAD segment")
        }

        guard let shdr = try file.section(named: sectionName) else {
            throw refuse("no \(sectionName) section (no pinned marker sites)")
        }
        guard shdr.size > 0 else { throw refuse("\(sectionName) is empty") }
        guard shdr.type != UInt32(SHT_NOBITS), shdr.flags & UInt64(SHF_ALLOC) != 0 else {
            throw refuse("\(sectionName) is not allocated data")
        }
        guard shdr.size % UInt64(entrySize) == 0 else {
            throw refuse("\(sectionName) has \(shdr.size) bytes, not a multiple of \(entrySize)")
        }
        guard shdr.address % UInt64(entrySize) == 0 else {
            throw refuse("\(sectionName) at \(hex(shdr.address)) is not \(entrySize)-byte aligned")
        }
        let count = Int(shdr.size / UInt64(entrySize))
        guard count <= maximumEntries else {
            throw refuse("\(sectionName) has \(count) entries, more than \(maximumEntries)")
        }
        let contents = try file.contents(of: shdr)

        var sites: [PinnedSite] = []
        sites.reserveCapacity(count)
        for i in 0..<count {
            let entry = i * entrySize
            func word(_ n: Int) -> UInt32 {
                contents.withUnsafeBytes {
                    UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: entry + 4 * n, as: UInt32.self))
                }
            }
            let entryVaddr = shdr.address &+ UInt64(i * entrySize)
            let offset = Int64(Int32(bitPattern: word(0)))
            let kind = word(1)
            let id = word(2)
            let what = "\(sectionName) entry \(i) (at \(hex(entryVaddr)))"
            guard word(3) == 0 else { throw refuse("\(what) has a non-zero reserved word \(hex(UInt64(word(3))))") }
            guard MarkerKind(rawValue: Int(kind)) != nil else {
                throw refuse("\(what) has unknown marker kind \(kind)")
            }
            let site = UInt64(bitPattern: Int64(bitPattern: entryVaddr) &+ offset)
            // The 2 bytes must lie in the file part of an executable segment.
            guard
                let segment = executable.first(where: {
                    site >= $0.p_vaddr && site - $0.p_vaddr <= $0.p_filesz && $0.p_filesz - (site - $0.p_vaddr) >= 2
                })
            else {
                throw refuse("\(what) points at \(hex(site)), outside the executable segments")
            }
            // Wrapping arithmetic: the headers are input, and a crafted one must be
            // refused, not trap.
            let fileOffset = segment.p_offset &+ (site - segment.p_vaddr)
            let inFile = fileOffset < UInt64(image.count) && UInt64(image.count) - fileOffset >= 2
            guard inFile,
                image[Int(fileOffset)] == syscallBytes[0], image[Int(fileOffset) + 1] == syscallBytes[1]
            else {
                let found =
                    inFile
                    ? byteHex(image[Int(fileOffset)]) + " " + byteHex(image[Int(fileOffset) + 1]) : "nothing"
                throw refuse(
                    "\(what) points at \(hex(site)), which holds \(found), not a syscall instruction (0f 05): "
                        + "the table does not describe this file's code")
            }
            sites.append(PinnedSite(vaddr: site, kind: kind, id: id))
        }
        // One entry per marker instruction: a second entry for the same site would
        // give it two meanings.
        var seen = Set<UInt64>(minimumCapacity: count)
        for (i, site) in sites.enumerated() where !seen.insert(site.vaddr).inserted {
            throw refuse("\(sectionName) entry \(i) pins \(hex(site.vaddr)) a second time")
        }
        return PinnedSiteTable(program: program, tableVaddr: shdr.address, execTextVaddr: execTextVaddr, sites: sites)
    }

    /// Throws `RunError.wrongPolicy` unless every pinned id is in range for its kind in
    /// `policy` (the policy file the program was built with, not a flattened one): a
    /// symbol id for `LIBC`, a call-site id for `CALL`, `RET` and `TAIL`, a function
    /// index for `CB_ENTER` and `CB_EXIT`. Setjmp call numbers have no bound in the
    /// policy and are not checked.
    public func check(against policy: Policy, policyPath: String? = nil) throws {
        for (i, site) in sites.enumerated() {
            guard let kind = site.markerKind else { continue }
            let limit: Int?
            let what: String
            switch kind {
            case .libc: (limit, what) = (policy.symbols.count, "symbols")
            case .call, .ret, .tail: (limit, what) = (policy.sites.count, "call sites")
            case .callbackEnter, .callbackExit: (limit, what) = (policy.functions.count, "functions")
            case .setjmpSave, .setjmpResume: (limit, what) = (nil, "")
            }
            if let limit, Int(site.id) >= limit {
                throw RunError.wrongPolicy(
                    program: program, policy: policyPath ?? "the policy of module \(policy.module)",
                    reason:
                        "\(Self.sectionName) entry \(i) (\(kind.name) marker at \(hex(site.vaddr))) has id \(site.id), "
                        + "but the policy has \(limit) \(what)")
            }
        }
    }
}

private func elfError() -> String { ELFFile.libelfError() }

private func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

private func byteHex(_ byte: UInt8) -> String { (byte < 16 ? "0" : "") + String(byte, radix: 16) }
