import CLibELF
import Glibc

/// A shared object read into memory: its sections, dynamic symbols, dynamic
/// relocations (RELA and RELR) and loadable segments, in link-time addresses.
///
/// libelf parses the headers and tables; the file's bytes are kept so that code and
/// relocated data can be read at any virtual address.
final class ELFImage {
    struct Section {
        var name: String
        var type: UInt32
        var flags: UInt64
        var address: UInt64
        var offset: UInt64
        var size: UInt64

        var isExecutable: Bool { flags & UInt64(SHF_EXECINSTR) != 0 }
        var range: Range<UInt64> { address..<address + size }
    }

    struct Symbol {
        var name: String
        var value: UInt64
        var size: UInt64
        var type: Int32
        var binding: Int32
        var visibility: Int32
        var defined: Bool
        /// The symbol's only version is GLIBC_PRIVATE: glibc's own interface between
        /// libc and ld.so, which programs do not link against.
        var glibcPrivate = false
    }

    struct Relocation {
        var offset: UInt64
        var type: UInt32
        /// Index into `symbols`, 0 for none.
        var symbol: Int
        var addend: Int64
    }

    private struct Segment {
        var address: UInt64
        var offset: UInt64
        var fileSize: UInt64
    }

    let path: String
    let bytes: [UInt8]
    let entry: UInt64
    let sections: [Section]
    /// `.dynsym`, index 0 included (the null symbol), so relocation indices apply.
    let symbols: [Symbol]
    let relocations: [Relocation]
    /// Addresses relocated by `R_X86_64_RELATIVE` (RELA or RELR), with the address
    /// each will hold (load base excluded).
    let relativeTargets: [UInt64: UInt64]
    let buildID: [UInt8]?
    private let segments: [Segment]

    /// x86-64 relocation types (elf.h; RELR's section type is newer than some libelf headers).
    static let relocation64: UInt32 = 1
    static let relocationGlobDat: UInt32 = 6
    static let relocationJumpSlot: UInt32 = 7
    static let relocationRelative: UInt32 = 8
    static let relocationIRelative: UInt32 = 37
    private static let sectionTypeRELR: UInt32 = 19

    init(path: String) throws(LibcSyscallsError) {
        func fail(_ reason: String) -> LibcSyscallsError { .unreadableLibrary(path: path, reason: reason) }
        self.path = path
        guard elf_version(UInt32(EV_CURRENT)) != UInt32(EV_NONE) else { throw fail("libelf: " + elfErrorText()) }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw fail(String(cString: strerror(errno))) }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw fail(String(cString: strerror(errno))) }
        guard status.st_size <= 1 << 30 else { throw fail("larger than 1 GiB") }
        var data = [UInt8](repeating: 0, count: Int(status.st_size))
        var done = 0
        while done < data.count {
            let n = data.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, $0.count - done, off_t(done)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw fail(n < 0 ? String(cString: strerror(errno)) : "file shrank while being read") }
            done += n
        }
        bytes = data

        let handle = try ELFHandle(fd: fd, path: path)
        let elf = handle.elf
        guard elf_kind(elf) == ELF_K_ELF, gelf_getclass(elf) == ELFCLASS64 else { throw fail("not a 64-bit ELF file") }
        var header = GElf_Ehdr()
        guard gelf_getehdr(elf, &header) != nil else { throw fail("libelf: " + elfErrorText()) }
        guard header.e_machine == UInt16(EM_X86_64) else { throw fail("not an x86-64 object") }
        guard header.e_type == UInt16(ET_DYN) else { throw fail("not a shared object") }
        entry = header.e_entry

        var segmentList: [Segment] = []
        var phdrCount = 0
        guard elf_getphdrnum(elf, &phdrCount) == 0 else { throw fail("libelf: " + elfErrorText()) }
        for i in 0..<phdrCount {
            var phdr = GElf_Phdr()
            guard gelf_getphdr(elf, Int32(i), &phdr) != nil else { continue }
            if phdr.p_type == UInt32(PT_LOAD) {
                segmentList.append(Segment(address: phdr.p_vaddr, offset: phdr.p_offset, fileSize: phdr.p_filesz))
            }
        }
        segments = segmentList

        var stringIndex = 0
        guard elf_getshdrstrndx(elf, &stringIndex) == 0 else { throw fail("libelf: " + elfErrorText()) }
        var sectionList: [Section] = []
        var symbolList: [Symbol] = []
        var relocationList: [Relocation] = []
        var relrAddresses: [UInt64] = []
        var relaRelative: [UInt64: UInt64] = [:]
        var scn = elf_nextscn(elf, nil)
        while let section = scn {
            defer { scn = elf_nextscn(elf, section) }
            var shdr = GElf_Shdr()
            guard gelf_getshdr(section, &shdr) != nil else { continue }
            let name = elf_strptr(elf, stringIndex, Int(shdr.sh_name)).map { String(cString: $0) } ?? ""
            sectionList.append(
                Section(
                    name: name, type: shdr.sh_type, flags: shdr.sh_flags, address: shdr.sh_addr,
                    offset: shdr.sh_offset, size: shdr.sh_size))
            switch shdr.sh_type {
            case UInt32(SHT_DYNSYM):
                guard shdr.sh_entsize > 0, let d = elf_getdata(section, nil) else { continue }
                for i in 0..<Int(shdr.sh_size / shdr.sh_entsize) {
                    var sym = GElf_Sym()
                    guard gelf_getsym(d, Int32(i), &sym) != nil else { continue }
                    let symbolName =
                        elf_strptr(elf, Int(shdr.sh_link), Int(sym.st_name)).map { String(cString: $0) } ?? ""
                    symbolList.append(
                        Symbol(
                            name: symbolName, value: sym.st_value, size: sym.st_size, type: Int32(sym.st_info & 0xF),
                            binding: Int32(sym.st_info >> 4), visibility: Int32(sym.st_other & 0x3),
                            defined: sym.st_shndx != UInt16(SHN_UNDEF)))
                }
            case UInt32(SHT_RELA):
                guard shdr.sh_entsize > 0, let d = elf_getdata(section, nil) else { continue }
                for i in 0..<Int(shdr.sh_size / shdr.sh_entsize) {
                    var rela = GElf_Rela()
                    guard gelf_getrela(d, Int32(i), &rela) != nil else { continue }
                    let relocation = Relocation(
                        offset: rela.r_offset, type: UInt32(truncatingIfNeeded: rela.r_info & 0xFFFF_FFFF),
                        symbol: Int(rela.r_info >> 32), addend: rela.r_addend)
                    if relocation.type == Self.relocationRelative {
                        relaRelative[relocation.offset] = UInt64(bitPattern: relocation.addend)
                    }
                    relocationList.append(relocation)
                }
            case Self.sectionTypeRELR:
                // RELR (DT_RELR): an even word is an address to relocate; an odd word is a
                // bitmap of the 63 words after the last address handled.
                var base: UInt64 = 0
                var offset = Int(shdr.sh_offset)
                let end = offset + Int(shdr.sh_size)
                guard end <= data.count else { throw fail("RELR section lies outside the file") }
                while offset + 8 <= end {
                    let word = Self.little64(data, offset)
                    offset += 8
                    if word & 1 == 0 {
                        relrAddresses.append(word)
                        base = word &+ 8
                    } else {
                        var bits = word >> 1
                        var address = base
                        while bits != 0 {
                            if bits & 1 != 0 { relrAddresses.append(address) }
                            bits >>= 1
                            address &+= 8
                        }
                        base &+= 63 * 8
                    }
                }
            default:
                break
            }
        }
        sections = sectionList
        // Versions: .gnu.version gives each dynamic symbol a version index, and
        // .gnu.version_d names the indices this object defines.
        if let versym = sectionList.first(where: { $0.type == 0x6fff_ffff }),
            let verdef = sectionList.first(where: { $0.type == 0x6fff_fffd }),
            let dynstr = sectionList.first(where: { $0.name == ".dynstr" })
        {
            var privateIndices = Set<UInt16>()
            var offset = Int(verdef.offset)
            while offset + 20 <= data.count {
                let index = UInt16(data[offset + 4]) | UInt16(data[offset + 5]) << 8
                let aux = Int(Self.little32(data, offset + 12))
                let next = Int(Self.little32(data, offset + 16))
                if offset + aux + 4 <= data.count {
                    var cursor = Int(dynstr.offset) + Int(Self.little32(data, offset + aux))
                    var name: [UInt8] = []
                    while cursor < data.count, data[cursor] != 0, name.count < 64 {
                        name.append(data[cursor])
                        cursor += 1
                    }
                    if name == Array("GLIBC_PRIVATE".utf8) { privateIndices.insert(index) }
                }
                if next == 0 { break }
                offset += next
            }
            for i in symbolList.indices {
                let at = Int(versym.offset) + 2 * i
                guard at + 2 <= Int(versym.offset + versym.size) else { break }
                let version = (UInt16(data[at]) | UInt16(data[at + 1]) << 8) & 0x7FFF
                symbolList[i].glibcPrivate = privateIndices.contains(version)
            }
        }
        symbols = symbolList
        relocations = relocationList

        var targets = relaRelative
        var noteID: [UInt8]? = nil
        // The segments are known now, so RELR's implicit addends can be read.
        let image = (data, segmentList)
        for address in relrAddresses {
            if let value = Self.read64(image.0, image.1, at: address) { targets[address] = value }
        }
        relativeTargets = targets
        if let note = sectionList.first(where: { $0.name == ".note.gnu.build-id" }) {
            let start = Int(note.offset)
            if start + 16 <= data.count {
                let nameSize = Int(Self.little32(data, start))
                let descSize = Int(Self.little32(data, start + 4))
                let descStart = start + 12 + ((nameSize + 3) & ~3)
                if descStart + descSize <= data.count { noteID = Array(data[descStart..<descStart + descSize]) }
            }
        }
        buildID = noteID
    }

    static func little64(_ data: [UInt8], _ offset: Int) -> UInt64 {
        var value: UInt64 = 0
        for i in (0..<8).reversed() { value = value << 8 | UInt64(data[offset + i]) }
        return value
    }

    static func little32(_ data: [UInt8], _ offset: Int) -> UInt32 {
        var value: UInt32 = 0
        for i in (0..<4).reversed() { value = value << 8 | UInt32(data[offset + i]) }
        return value
    }

    private static func fileOffset(_ segments: [Segment], _ address: UInt64, _ count: UInt64) -> Int? {
        for segment in segments
        where address >= segment.address && address + count <= segment.address + segment.fileSize {
            return Int(segment.offset + (address - segment.address))
        }
        return nil
    }

    private static func read64(_ data: [UInt8], _ segments: [Segment], at address: UInt64) -> UInt64? {
        guard let offset = fileOffset(segments, address, 8), offset + 8 <= data.count else { return nil }
        return little64(data, offset)
    }

    /// The file offset of `count` bytes at virtual address `address`, if the file holds them.
    /// The NUL-terminated string at `address` (at most 64 bytes), if the file holds it.
    func cString(at address: UInt64) -> [UInt8]? {
        for count in stride(from: 64, through: 1, by: -1) {
            guard let offset = fileOffset(ofAddress: address, count: UInt64(count)) else { continue }
            let bytes = bytes[offset..<offset + count]
            guard let end = bytes.firstIndex(of: 0) else { return nil }
            return Array(bytes[offset..<end])
        }
        return nil
    }

    func fileOffset(ofAddress address: UInt64, count: UInt64) -> Int? {
        guard let offset = Self.fileOffset(segments, address, count), offset + Int(count) <= bytes.count else {
            return nil
        }
        return offset
    }

    func section(named name: String) -> Section? { sections.first { $0.name == name } }

    func section(containing address: UInt64) -> Section? {
        sections.first { $0.address != 0 && $0.flags & UInt64(SHF_ALLOC) != 0 && $0.range.contains(address) }
    }

    func isCode(_ address: UInt64) -> Bool { section(containing: address)?.isExecutable ?? false }
}

/// An open libelf descriptor, ended when the value goes away.
final class ELFHandle {
    let elf: OpaquePointer

    init(fd: Int32, path: String) throws(LibcSyscallsError) {
        guard let elf = elf_begin(fd, ELF_C_READ, nil) else {
            throw .unreadableLibrary(path: path, reason: "libelf: " + elfErrorText())
        }
        self.elf = elf
    }

    deinit { elf_end(elf) }
}

func elfErrorText() -> String {
    guard let message = elf_errmsg(-1) else { return "unknown error" }
    return String(cString: message)
}
