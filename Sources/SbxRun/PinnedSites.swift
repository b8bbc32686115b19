import CLibELF
import DyckModel
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
        guard libelfReady else { throw refuse("libelf cannot be initialised") }
        let file = try ELFFile(fd: fd, program: program)
        let elf = file.elf

        var header = GElf_Ehdr()
        guard gelf_getehdr(elf, &header) != nil else { throw refuse("no ELF header (\(elfError()))") }
        guard gelf_getclass(elf) == ELFCLASS64, header.e_machine == UInt16(EM_X86_64) else {
            throw refuse("not an x86-64 ELF64 file (the marker ABI is x86-64)")
        }
        guard let image = file.image else { throw refuse("cannot read the file (\(elfError()))") }

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

        guard let section = try findSection(named: sectionName, in: elf, refuse: refuse) else {
            throw refuse("no \(sectionName) section (no pinned marker sites)")
        }
        let (shdr, scn) = section
        guard shdr.sh_size > 0 else { throw refuse("\(sectionName) is empty") }
        guard shdr.sh_type != UInt32(SHT_NOBITS), shdr.sh_flags & UInt64(SHF_ALLOC) != 0 else {
            throw refuse("\(sectionName) is not allocated data")
        }
        guard shdr.sh_size % UInt64(entrySize) == 0 else {
            throw refuse("\(sectionName) has \(shdr.sh_size) bytes, not a multiple of \(entrySize)")
        }
        guard shdr.sh_addr % UInt64(entrySize) == 0 else {
            throw refuse("\(sectionName) at \(hex(shdr.sh_addr)) is not \(entrySize)-byte aligned")
        }
        let count = Int(shdr.sh_size / UInt64(entrySize))
        guard count <= maximumEntries else {
            throw refuse("\(sectionName) has \(count) entries, more than \(maximumEntries)")
        }
        guard let data = elf_rawdata(scn, nil), let bytes = data.pointee.d_buf, data.pointee.d_size == Int(shdr.sh_size)
        else { throw refuse("\(sectionName) is unreadable (\(elfError()))") }

        var sites: [PinnedSite] = []
        sites.reserveCapacity(count)
        for i in 0..<count {
            let entry = bytes.advanced(by: i * entrySize)
            func word(_ n: Int) -> UInt32 {
                UInt32(littleEndian: entry.loadUnaligned(fromByteOffset: 4 * n, as: UInt32.self))
            }
            let entryVaddr = shdr.sh_addr &+ UInt64(i * entrySize)
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
        return PinnedSiteTable(program: program, tableVaddr: shdr.sh_addr, execTextVaddr: execTextVaddr, sites: sites)
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

/// An open libelf handle, ended when the last reference goes.
private final class ELFFile {
    let elf: OpaquePointer
    /// The whole file, as libelf mapped or read it.
    let image: UnsafeBufferPointer<UInt8>?

    init(fd: Int32, program: String) throws {
        guard let elf = elf_begin(fd, ELF_C_READ_MMAP, nil) else {
            throw RunError.notInstrumented(program: program, reason: "not readable as ELF (\(elfError()))")
        }
        self.elf = elf
        var size = 0
        if let raw = elf_rawfile(elf, &size) {
            image = UnsafeBufferPointer(start: UnsafeRawPointer(raw).assumingMemoryBound(to: UInt8.self), count: size)
        } else {
            image = nil
        }
        // Thrown after every property is set, so deinit ends the handle.
        guard elf_kind(elf) == ELF_K_ELF else {
            throw RunError.notInstrumented(program: program, reason: "not an ELF file")
        }
    }

    deinit { elf_end(elf) }
}

/// The named section and its header, nil when there is none.
private func findSection(
    named name: String, in elf: OpaquePointer, refuse: (String) -> RunError
) throws -> (GElf_Shdr, OpaquePointer)? {
    var namesIndex = 0
    guard elf_getshdrstrndx(elf, &namesIndex) == 0 else { throw refuse("no section name table (\(elfError()))") }
    var section = elf_nextscn(elf, nil)
    while let scn = section {
        section = elf_nextscn(elf, scn)
        var header = GElf_Shdr()
        guard gelf_getshdr(scn, &header) != nil, let sectionName = elf_strptr(elf, namesIndex, Int(header.sh_name))
        else { continue }
        if String(cString: sectionName) == name { return (header, scn) }
    }
    return nil
}

private let libelfReady: Bool = elf_version(UInt32(EV_CURRENT)) != UInt32(EV_NONE)

private func elfError() -> String {
    guard let message = elf_errmsg(-1) else { return "unknown error" }
    return String(cString: message)
}

private func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

private func byteHex(_ byte: UInt8) -> String { (byte < 16 ? "0" : "") + String(byte, radix: 16) }
