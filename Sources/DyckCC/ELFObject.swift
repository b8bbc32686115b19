import SbxSystem

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

    /// ELF file type (1 relocatable, 2 executable, 3 shared object), nil when not ELF64
    /// LE. From the identification bytes alone, so that a file's first 64 bytes do.
    static func fileType(_ bytes: ArraySlice<UInt8>) -> UInt16? {
        let at = bytes.startIndex
        guard isELF(bytes), bytes.count >= 18, bytes[at + 4] == 2, bytes[at + 5] == 1 else { return nil }
        return UInt16(bytes[at + 16]) | UInt16(bytes[at + 17]) << 8
    }

    /// Parses a relocatable object with libelf (bounds are checked everywhere: inputs
    /// are untrusted files from the build). Throws `ELFError` naming `path` when the
    /// file is no ELF file or its headers are malformed.
    init(bytes: ArraySlice<UInt8>, path: String = "an ELF object") throws(ELFError) {
        guard ELFObject.isELF(bytes) else { throw ELFError(path: path, reason: "not an ELF file") }
        let file = try ELFFile(bytes: bytes, path: path)
        // 64-bit, little-endian only: anything else carries nothing we can use.
        guard file.is64BitLittleEndian else { return }
        var clangBitcode: [UInt8]? = nil
        for section in try file.sections() {
            if section.name == ELFObject.bitcodeSection || section.name == ELFObject.clangBitcodeSection {
                let data = try file.contents(of: section)
                // `-fembed-bitcode=marker` leaves an empty or placeholder section.
                if isBitcodeMagic(data[...]) {
                    if section.name == ELFObject.bitcodeSection { bitcode = data[...] } else { clangBitcode = data }
                }
            } else if section.name == ELFObject.flagsSection {
                let data = try file.contents(of: section)
                flags = String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
            }
        }
        if bitcode == nil { bitcode = clangBitcode?[...] }
        for symbol in try file.symbols() {
            // Global, weak and GNU unique symbols; not sections or files.
            guard [1, 2, 10].contains(symbol.binding), symbol.type != 3, symbol.type != 4, !symbol.name.isEmpty
            else { continue }
            if symbol.sectionIndex == 0 {
                if symbol.binding != 2 { undefined.insert(symbol.name) }
            } else {
                defined.insert(symbol.name)
            }
        }
        undefined.subtract(defined)
    }
}

/// A malformed archive.
struct ArchiveError: Error {
    var reason: String
    init(_ reason: String) { self.reason = reason }
}
