import CLibELF

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An ELF file that cannot be read: the file and what is wrong with it.
public struct ELFError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file as the caller named it ("lib.a(member.o)" for an archive member).
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}

/// The sections and symbols of an ELF file, read with libelf (which checks every
/// offset and size against the file: inputs are untrusted). The libelf handle is
/// ended, and the bytes it reads from released, when the last reference goes.
public final class ELFFile {
    /// The file as the caller named it, for errors.
    public let path: String
    /// The libelf handle, for what this type does not wrap (program headers).
    public let handle: OpaquePointer
    /// The file's bytes when read from memory (libelf reads them in place).
    private let memory: UnsafeMutableRawBufferPointer?

    /// One section header.
    public struct Section: Sendable, Equatable {
        public var index: Int
        public var name: String
        public var type: UInt32
        public var flags: UInt64
        /// Its virtual address (0 when it is not allocated).
        public var address: UInt64
        public var offset: UInt64
        public var size: UInt64
        public var link: UInt32
    }

    /// A symbol of the symbol table (`SHT_SYMTAB`).
    public struct Symbol: Sendable, Equatable {
        public var name: String
        /// STB_*: 0 local, 1 global, 2 weak, 10 GNU unique.
        public var binding: UInt8
        /// STT_*.
        public var type: UInt8
        /// The section it is defined in; 0 (SHN_UNDEF): undefined.
        public var sectionIndex: UInt16
    }

    /// The file open on `fd` (mapped; `fd` must stay open while this is used).
    public convenience init(fd: Int32, path: String) throws(ELFError) {
        try Self.initialise(path)
        guard let elf = elf_begin(fd, ELF_C_READ_MMAP, nil) else {
            throw ELFError(path: path, reason: "not readable as ELF (\(Self.libelfError()))")
        }
        try self.init(handle: elf, memory: nil, path: path)
    }

    /// A file's bytes (copied: libelf reads them in place).
    public convenience init<C: Collection>(bytes: C, path: String) throws(ELFError) where C.Element == UInt8 {
        try Self.initialise(path)
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
        _ = memory.initializeMemory(as: UInt8.self, from: bytes)
        guard let base = memory.baseAddress,
            let elf = elf_memory(base.assumingMemoryBound(to: CChar.self), bytes.count)
        else {
            memory.deallocate()
            throw ELFError(path: path, reason: "not readable as ELF (\(Self.libelfError()))")
        }
        try self.init(handle: elf, memory: memory, path: path)
    }

    private init(handle: OpaquePointer, memory: UnsafeMutableRawBufferPointer?, path: String) throws(ELFError) {
        self.handle = handle
        self.memory = memory
        self.path = path
        // Thrown after every property is set, so that deinit ends the handle.
        guard elf_kind(handle) == ELF_K_ELF else { throw ELFError(path: path, reason: "not an ELF file") }
    }

    deinit {
        elf_end(handle)
        memory?.deallocate()
    }

    /// ELFCLASS64 and little-endian: the only files the tools act on (x86-64).
    public var is64BitLittleEndian: Bool {
        guard let ident = elf_getident(handle, nil) else { return false }
        return ident[Int(EI_CLASS)] == ELFCLASS64 && ident[Int(EI_DATA)] == ELFDATA2LSB
    }

    /// The file header.
    public func header() throws(ELFError) -> GElf_Ehdr {
        var header = GElf_Ehdr()
        guard gelf_getehdr(handle, &header) != nil else { throw failure("no ELF header") }
        return header
    }

    /// The whole file as libelf holds it.
    public func image() throws(ELFError) -> UnsafeBufferPointer<UInt8> {
        var size = 0
        guard let raw = elf_rawfile(handle, &size) else { throw failure("cannot read the file") }
        return UnsafeBufferPointer(start: UnsafeRawPointer(raw).assumingMemoryBound(to: UInt8.self), count: size)
    }

    /// Every section header, index 0 (the null section) excluded. Extended numbering
    /// (more than 0xff00 sections) is libelf's.
    public func sections() throws(ELFError) -> [Section] {
        // libelf takes a section header table that lies (partly) outside the file for
        // no table at all: a truncated file would read as one without sections.
        let header = try header()
        var count = 0
        guard elf_getshdrnum(handle, &count) == 0 else { throw failure("no section header table") }
        if header.e_shoff != 0 {
            let size = UInt64(try image().count)
            let tableSize = UInt64(count) * UInt64(header.e_shentsize)
            guard count > 0, header.e_shoff <= size, tableSize <= size - header.e_shoff else {
                throw ELFError(path: path, reason: "section header table outside the file")
            }
        }
        var namesIndex = 0
        guard elf_getshdrstrndx(handle, &namesIndex) == 0 else { throw failure("no section name table") }
        var sections: [Section] = []
        var scn = elf_nextscn(handle, nil)
        while let current = scn {
            scn = elf_nextscn(handle, current)
            var header = GElf_Shdr()
            guard gelf_getshdr(current, &header) != nil else { throw failure("unreadable section header") }
            guard let name = elf_strptr(handle, namesIndex, Int(header.sh_name)) else {
                throw failure("section \(elf_ndxscn(current)) has no name")
            }
            sections.append(
                Section(
                    index: Int(elf_ndxscn(current)), name: String(cString: name), type: header.sh_type,
                    flags: header.sh_flags, address: header.sh_addr, offset: header.sh_offset, size: header.sh_size,
                    link: header.sh_link))
        }
        return sections
    }

    /// The first section called `name`, nil when there is none.
    public func section(named name: String) throws(ELFError) -> Section? {
        try sections().first { $0.name == name }
    }

    /// A section's bytes as they are in the file (empty for SHT_NOBITS).
    public func contents(of section: Section) throws(ELFError) -> [UInt8] {
        guard section.type != UInt32(SHT_NOBITS), section.size > 0 else { return [] }
        guard let scn = elf_getscn(handle, section.index), let data = elf_rawdata(scn, nil) else {
            throw failure("\(section.name) is unreadable")
        }
        guard data.pointee.d_size == Int(section.size), let bytes = data.pointee.d_buf else {
            throw failure("\(section.name) is unreadable")
        }
        return Array(UnsafeRawBufferPointer(start: bytes, count: data.pointee.d_size))
    }

    /// The symbols of every SHT_SYMTAB section, the null symbol excluded.
    public func symbols() throws(ELFError) -> [Symbol] {
        var symbols: [Symbol] = []
        for table in try sections() where table.type == UInt32(SHT_SYMTAB) {
            guard let scn = elf_getscn(handle, table.index), let data = elf_getdata(scn, nil) else {
                throw failure("\(table.name) is unreadable")
            }
            let count = data.pointee.d_size / MemoryLayout<Elf64_Sym>.size
            guard count > 1 else { continue }
            for i in 1..<count {
                var symbol = GElf_Sym()
                guard gelf_getsym(data, Int32(i), &symbol) != nil else {
                    throw failure("symbol \(i) of \(table.name) is unreadable")
                }
                guard let name = elf_strptr(handle, Int(table.link), Int(symbol.st_name)) else {
                    throw failure("symbol \(i) of \(table.name) has no name")
                }
                symbols.append(
                    Symbol(
                        name: String(cString: name), binding: symbol.st_info >> 4, type: symbol.st_info & 0xf,
                        sectionIndex: symbol.st_shndx))
            }
        }
        return symbols
    }

    /// `what` with libelf's explanation, as an error naming the file.
    public func failure(_ what: String) -> ELFError {
        ELFError(path: path, reason: "\(what) (\(Self.libelfError()))")
    }

    private static let ready: Bool = elf_version(UInt32(EV_CURRENT)) != UInt32(EV_NONE)

    private static func initialise(_ path: String) throws(ELFError) {
        guard ready else { throw ELFError(path: path, reason: "libelf cannot be initialised") }
    }

    /// libelf's message for its last error.
    public static func libelfError() -> String {
        guard let message = elf_errmsg(-1) else { return "unknown error" }
        return String(cString: message)
    }
}
