/// What the driver needs to know about a relocatable ELF object: the bitcode and the
/// compile flags `dyck-cc -c` embedded in it, and the symbols it defines and needs
/// (to choose archive members as the linker does). Only ELF64 little-endian (x86-64)
/// is read; anything else is treated as an object without bitcode or symbols.
struct ELFObject {
    /// Global and weak symbols with a definition (including common symbols).
    var defined: Set<String> = []
    /// Strong undefined references; weak undefined ones never pull archive members.
    var undefined: Set<String> = []
    /// The bitcode `dyck-cc -c` embedded (section `.dyck.bc`), or else the one
    /// `clang -fembed-bitcode=all` embedded (`.llvmbc`); only when it is non-empty and
    /// starts with bitcode magic.
    var bitcode: ArraySlice<UInt8>?
    /// The `.dyck.cc` section: the compile record (`CompileRecord`), one item a line.
    var flags: [String] = []

    /// Not `.llvmbc`: binutils' `ar` and `ld` load the LLVM gold plugins from
    /// /usr/lib/bfd-plugins, which take any object with a `.llvmbc` section for an LTO
    /// object: an archive of such objects gets a symbol index built from the bitcode
    /// (or none, when the plugin is older than the bitcode) and a plain link with it
    /// fails. A section name LLVM does not know keeps the object an ordinary object.
    static let bitcodeSection = ".dyck.bc"
    static let clangBitcodeSection = ".llvmbc"
    static let flagsSection = ".dyck.cc"

    /// Whether `bytes` start with the ELF magic.
    static func isELF(_ bytes: ArraySlice<UInt8>) -> Bool {
        bytes.starts(with: [0x7F, 0x45, 0x4C, 0x46])
    }

    /// ELF file type (1 relocatable, 2 executable, 3 shared object), nil when not ELF64 LE.
    static func fileType(_ bytes: ArraySlice<UInt8>) -> UInt16? {
        let view = ByteView(bytes)
        guard isELF(bytes), view.u8(4) == 2, view.u8(5) == 1 else { return nil }
        return view.u16(16)
    }

    /// Parses a relocatable object. Throws a reason string on malformed headers (bounds
    /// are checked everywhere: inputs are untrusted files from the build).
    init(bytes: ArraySlice<UInt8>) throws {
        let view = ByteView(bytes)
        guard ELFObject.isELF(bytes) else { throw ELFError("not an ELF file") }
        // 64-bit, little-endian only: anything else carries nothing we can use.
        guard view.u8(4) == 2, view.u8(5) == 1 else { return }
        guard let shoff = view.u64(40), let shentsize = view.u16(58), var shnum = view.u16(60).map(Int.init),
            var shstrndx = view.u16(62).map(Int.init)
        else {
            throw ELFError("truncated ELF header")
        }
        if shoff == 0 { return }
        guard shentsize >= 64, shoff < UInt64(Int.max) else { throw ELFError("bad section header table") }
        let table = Int(shoff)
        func header(_ index: Int) throws -> SectionHeader {
            let at = table + index * Int(shentsize)
            guard let name = view.u32(at), let type = view.u32(at + 4), let offset = view.u64(at + 24),
                let size = view.u64(at + 32), let link = view.u32(at + 40), let entsize = view.u64(at + 56)
            else {
                throw ELFError("truncated section header \(index)")
            }
            return SectionHeader(name: name, type: type, offset: offset, size: size, link: link, entsize: entsize)
        }
        // Extended numbering: counts that do not fit live in section 0.
        if shnum == 0 { shnum = Int(clamping: try header(0).size) }
        if shstrndx == 0xFFFF { shstrndx = Int(try header(0).link) }
        guard shnum <= 1 << 20, table + shnum * Int(shentsize) <= bytes.count else {
            throw ELFError("section header table outside the file")
        }
        let sections = try (0..<shnum).map(header)
        guard shstrndx < shnum else { throw ELFError("bad section name table index") }
        let names = try view.slice(sections[shstrndx].offset, sections[shstrndx].size)

        var clangBitcode: ArraySlice<UInt8>? = nil
        for section in sections {
            let name = ByteView.string(in: names, at: Int(section.name))
            if name == ELFObject.bitcodeSection || name == ELFObject.clangBitcodeSection,
                section.type != 8 /* SHT_NOBITS */
            {
                let data = try view.slice(section.offset, section.size)
                // `-fembed-bitcode=marker` leaves an empty or placeholder section.
                if isBitcodeMagic(data) {
                    if name == ELFObject.bitcodeSection { bitcode = data } else { clangBitcode = data }
                }
            } else if name == ELFObject.flagsSection {
                let data = try view.slice(section.offset, section.size)
                flags = String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
            }
        }
        if bitcode == nil { bitcode = clangBitcode }
        for section in sections where section.type == 2 /* SHT_SYMTAB */ {
            guard Int(section.link) < shnum else { throw ELFError("bad string table index of the symbol table") }
            let strings = try view.slice(sections[Int(section.link)].offset, sections[Int(section.link)].size)
            let symbols = ByteView(try view.slice(section.offset, section.size))
            let entry = 24
            var at = entry  // symbol 0 is the null symbol
            while at + entry <= symbols.count {
                defer { at += entry }
                guard let nameOffset = symbols.u32(at), let info = symbols.u8(at + 4), let shndx = symbols.u16(at + 6)
                else { break }
                let binding = info >> 4
                let type = info & 0xF
                // Global, weak and GNU unique symbols; not sections or files.
                guard binding == 1 || binding == 2 || binding == 10, type != 3, type != 4 else { continue }
                let name = ByteView.string(in: strings, at: Int(nameOffset))
                if name.isEmpty { continue }
                if shndx == 0 {
                    if binding != 2 { undefined.insert(name) }
                } else {
                    defined.insert(name)
                }
            }
        }
        undefined.subtract(defined)
    }
}

struct ELFError: Error {
    var reason: String
    init(_ reason: String) { self.reason = reason }
}

private struct SectionHeader {
    var name: UInt32
    var type: UInt32
    var offset: UInt64
    var size: UInt64
    var link: UInt32
    var entsize: UInt64
}

/// Bounds-checked little-endian reads from a byte slice, offsets relative to its start.
struct ByteView {
    let bytes: ArraySlice<UInt8>
    init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }

    var count: Int { bytes.count }

    private func read(_ at: Int, _ width: Int) -> UInt64? {
        guard at >= 0, width <= count, at <= count - width else { return nil }
        var value: UInt64 = 0
        let start = bytes.startIndex + at
        for i in (0..<width).reversed() { value = value << 8 | UInt64(bytes[start + i]) }
        return value
    }

    func u8(_ at: Int) -> UInt8? { read(at, 1).map { UInt8($0) } }
    func u16(_ at: Int) -> UInt16? { read(at, 2).map { UInt16($0) } }
    func u32(_ at: Int) -> UInt32? { read(at, 4).map { UInt32($0) } }
    func u64(_ at: Int) -> UInt64? { read(at, 8) }

    func slice(_ offset: UInt64, _ size: UInt64) throws -> ArraySlice<UInt8> {
        guard offset <= UInt64(count), size <= UInt64(count) - offset else {
            throw ELFError("section outside the file")
        }
        let start = bytes.startIndex + Int(offset)
        return bytes[start..<start + Int(size)]
    }

    /// The NUL-terminated string at `at` in a string table ("" when out of range).
    static func string(in table: ArraySlice<UInt8>, at: Int) -> String {
        guard at >= 0, at < table.count else { return "" }
        let start = table.startIndex + at
        let end = table[start...].firstIndex(of: 0) ?? table.endIndex
        return String(decoding: table[start..<end], as: UTF8.self)
    }
}
