import SbxSystem
import CLibELF
import Glibc
import Synchronization

/// The names of the functions the C library exports, read from the library's own files.
///
/// The set is the union of
/// - the dynamic symbol table (`.dynsym`) of the shared library (`libc.so.6`): symbols
///   that are defined (`st_shndx != SHN_UNDEF`), of type `STT_FUNC` or `STT_GNU_IFUNC`,
///   bound `STB_GLOBAL` or `STB_WEAK`, with visibility `STV_DEFAULT` or `STV_PROTECTED`;
/// - the symbol tables of the members of `libc_nonshared.a`: defined functions
///   (`STT_FUNC`/`STT_GNU_IFUNC`) bound `STB_GLOBAL` or `STB_WEAK`, whatever their
///   visibility: glibc marks them hidden because they are linked into the program
///   itself (`atexit`, `at_quick_exit`, `pthread_atfork`, ...), yet to the program
///   they are C library functions like any other.
///
/// Where the files are: an explicit path wins (a shared object, an `ar` archive, or a
/// GNU ld script such as `libc.so` whose `GROUP`/`INPUT` names both; `AS_NEEDED`
/// entries, i.e. the dynamic loader, are skipped). Otherwise the linker script `libc.so`
/// in the usual library directories, and failing that the `libc.so.6` mapped into this
/// process.
public struct LibcSymbols: Sendable {
    public let names: Set<String>
    /// The files the names were read from, in reading order.
    public let files: [String]

    public init(names: Set<String>, files: [String]) {
        self.names = names
        self.files = files
    }

    public func contains(_ name: String) -> Bool { names.contains(name) }

    /// Reads (once per process and path) the C library's exported functions.
    /// `path == nil` means: find the C library of this system.
    public static func load(path: String? = nil) throws -> LibcSymbols {
        let key = path ?? ""
        if let cached = symbolCache.withLock({ $0[key] }) { return cached }
        let symbols: LibcSymbols
        if let path {
            var reader = Reader()
            try reader.load(path, depth: 0)
            symbols = reader.result
        } else {
            symbols = try loadSystemLibc()
        }
        symbolCache.withLock { $0[key] = symbols }
        return symbols
    }

    /// Directories where Debian-like, Fedora-like and plain layouts keep `libc.so`.
    static var searchDirectories: [String] {
        #if arch(x86_64)
        let triple = "x86_64-linux-gnu"
        #elseif arch(arm64)
        let triple = "aarch64-linux-gnu"
        #else
        let triple = "unknown-linux-gnu"
        #endif
        return ["/usr/lib/\(triple)", "/lib/\(triple)", "/usr/lib64", "/lib64", "/usr/lib", "/lib"]
    }

    private static func loadSystemLibc() throws -> LibcSymbols {
        for directory in searchDirectories {
            let candidate = directory + "/libc.so"
            if access(candidate, R_OK) == 0 {
                var reader = Reader()
                try reader.load(candidate, depth: 0)
                return reader.result
            }
        }
        // No development files installed: the C library this process runs on is the
        // best remaining authority (it lacks libc_nonshared.a's few functions).
        guard let running = runningLibcPath() else {
            throw AnalysisError.libcSymbolsUnavailable(
                path: searchDirectories.map { $0 + "/libc.so" }.joined(separator: ", "),
                reason: "no libc.so linker script found and the running C library could not be located")
        }
        var reader = Reader()
        try reader.load(running, depth: 0)
        return reader.result
    }

    /// The file mapped at the address of a libc function in this process (what
    /// `dladdr` answers, which Swift's Glibc module does not expose).
    static func runningLibcPath() -> String? {
        guard let symbol = dlsym(nil, "getpid") else { return nil }
        let address = UInt(bitPattern: symbol)
        guard let maps = try? FileBytes.read("/proc/self/maps", limit: 16 << 20) else { return nil }
        for line in String(decoding: maps, as: UTF8.self).split(separator: "\n") {
            // "start-end perms offset dev inode path"
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count == 6 else { continue }
            let bounds = fields[0].split(separator: "-")
            guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16),
                start <= address, address < end
            else { continue }
            let path = fields[5].drop { $0 == " " }
            return path.hasPrefix("/") ? String(path) : nil
        }
        return nil
    }
}

private let symbolCache = Mutex<[String: LibcSymbols]>([:])

/// libelf's version handshake must happen once before any other libelf call.
private let libelfReady: Bool = elf_version(UInt32(EV_CURRENT)) != UInt32(EV_NONE)

private struct Reader {
    var names = Set<String>()
    var files: [String] = []

    var result: LibcSymbols { LibcSymbols(names: names, files: files) }

    mutating func load(_ path: String, depth: Int) throws {
        // Linker scripts may name other scripts; a cycle must not hang the tool.
        guard depth < 8 else {
            throw AnalysisError.libcSymbolsUnavailable(path: path, reason: "linker scripts nest too deeply")
        }
        let head: [UInt8]
        do {
            head = try FileBytes.readPrefix(path, count: 8)
        } catch {
            throw AnalysisError.libcSymbolsUnavailable(path: path, reason: error.description)
        }
        if head.starts(with: [0x7F, 0x45, 0x4C, 0x46]) {
            try readELF(path, archive: false)
        } else if head.starts(with: Array("!<arch>\n".utf8)) {
            try readELF(path, archive: true)
        } else {
            try readLinkerScript(path, depth: depth)
        }
    }

    private mutating func readLinkerScript(_ path: String, depth: Int) throws {
        let bytes: [UInt8]
        do {
            bytes = try FileBytes.read(path, limit: 1 << 20)
        } catch {
            throw AnalysisError.libcSymbolsUnavailable(path: path, reason: error.description)
        }
        guard !bytes.contains(0) else {
            throw AnalysisError.libcSymbolsUnavailable(
                path: path, reason: "neither an ELF file, an ar archive nor a linker script")
        }
        let inputs = linkerScriptInputs(String(decoding: bytes, as: UTF8.self))
        guard !inputs.isEmpty else {
            throw AnalysisError.libcSymbolsUnavailable(
                path: path, reason: "linker script names no input files (no GROUP or INPUT)")
        }
        let directory = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        for input in inputs {
            var file = input
            // '=' prefixes a sysroot-relative path; without a sysroot it is the root.
            if file.hasPrefix("=") { file.removeFirst() }
            if !file.hasPrefix("/") { file = directory + "/" + file }
            try load(file, depth: depth + 1)
        }
    }

    private mutating func readELF(_ path: String, archive: Bool) throws {
        func fail(_ reason: String) -> AnalysisError {
            .libcSymbolsUnavailable(path: path, reason: reason)
        }
        guard libelfReady else { throw fail("libelf: " + elfError()) }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw fail(String(cString: strerror(errno))) }
        defer { close(fd) }
        guard let top = elf_begin(fd, ELF_C_READ, nil) else { throw fail("libelf: " + elfError()) }
        defer { elf_end(top) }
        files.append(path)
        if archive {
            guard elf_kind(top) == ELF_K_AR else { throw fail("not an ar archive") }
            var command = ELF_C_READ
            var found = false
            while let member = elf_begin(fd, command, top) {
                if elf_kind(member) == ELF_K_ELF {
                    collect(member, tableType: UInt32(SHT_SYMTAB), requireExportedVisibility: false)
                    found = true
                }
                command = elf_next(member)
                elf_end(member)
            }
            guard found else { throw fail("archive holds no ELF members") }
        } else {
            guard elf_kind(top) == ELF_K_ELF else { throw fail("not an ELF file") }
            guard collect(top, tableType: UInt32(SHT_DYNSYM), requireExportedVisibility: true) else {
                throw fail("no dynamic symbol table (.dynsym); not a shared library?")
            }
        }
    }

    /// Adds the defined function symbols of the symbol table of type `tableType`.
    /// Returns whether such a table was found.
    @discardableResult
    private mutating func collect(_ elf: OpaquePointer, tableType: UInt32, requireExportedVisibility: Bool) -> Bool {
        var found = false
        var section = elf_nextscn(elf, nil)
        while let scn = section {
            defer { section = elf_nextscn(elf, scn) }
            var header = GElf_Shdr()
            guard gelf_getshdr(scn, &header) != nil, header.sh_type == tableType, header.sh_entsize > 0,
                let data = elf_getdata(scn, nil)
            else { continue }
            found = true
            let count = Int(header.sh_size / header.sh_entsize)
            for i in 0..<count {
                var symbol = GElf_Sym()
                guard gelf_getsym(data, Int32(i), &symbol) != nil else { continue }
                guard symbol.st_shndx != UInt16(SHN_UNDEF) else { continue }
                let type = Int32(symbol.st_info & 0xF)
                let binding = Int32(symbol.st_info >> 4)
                let visibility = Int32(symbol.st_other & 0x3)
                guard type == STT_FUNC || type == STT_GNU_IFUNC else { continue }
                guard binding == STB_GLOBAL || binding == STB_WEAK else { continue }
                if requireExportedVisibility && !(visibility == STV_DEFAULT || visibility == STV_PROTECTED) {
                    continue
                }
                guard let name = elf_strptr(elf, Int(header.sh_link), Int(symbol.st_name)) else { continue }
                let string = String(cString: name)
                if !string.isEmpty { names.insert(string) }
            }
        }
        return found
    }
}

private func elfError() -> String {
    guard let message = elf_errmsg(-1) else { return "unknown error" }
    return String(cString: message)
}

/// The files named by `GROUP(...)` and `INPUT(...)` commands of a GNU ld script, in
/// order, without the `AS_NEEDED(...)` entries and `-l` library names.
func linkerScriptInputs(_ script: String) -> [String] {
    // Comments are /* ... */ only in ld scripts.
    var stripped: [Character] = []
    let characters = Array(script)
    var i = 0
    while i < characters.count {
        if characters[i] == "/", i + 1 < characters.count, characters[i + 1] == "*" {
            i += 2
            while i < characters.count
                && !(characters[i] == "*" && i + 1 < characters.count && characters[i + 1] == "/")
            {
                i += 1
            }
            i += 2
            stripped.append(" ")
        } else {
            stripped.append(characters[i])
            i += 1
        }
    }
    var tokens: [String] = []
    var current = ""
    for character in stripped {
        if character == "(" || character == ")" || character == "," || character.isWhitespace {
            if !current.isEmpty { tokens.append(current) }
            current = ""
            if character == "(" || character == ")" { tokens.append(String(character)) }
        } else {
            current.append(character)
        }
    }
    if !current.isEmpty { tokens.append(current) }

    var inputs: [String] = []
    i = 0
    while i < tokens.count {
        guard tokens[i] == "GROUP" || tokens[i] == "INPUT", i + 1 < tokens.count, tokens[i + 1] == "(" else {
            i += 1
            continue
        }
        i += 2
        var depth = 1
        var skipDepth = 0
        while i < tokens.count && depth > 0 {
            let token = tokens[i]
            if token == "(" {
                depth += 1
            } else if token == ")" {
                depth -= 1
                if skipDepth > depth { skipDepth = 0 }
            } else if token == "AS_NEEDED" {
                skipDepth = depth + 1
            } else if skipDepth == 0 && !token.hasPrefix("-l") {
                inputs.append(token)
            }
            i += 1
        }
    }
    return inputs
}
