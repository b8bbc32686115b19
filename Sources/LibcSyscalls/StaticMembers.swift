import DyckModel
import CLibELF
import Glibc

extension LibcSyscallTable {
    /// The table with the functions of `libc_nonshared.a` (linked into the program
    /// itself: `atexit`, `at_quick_exit`, `pthread_atfork`, `__stack_chk_fail_local`)
    /// added. Each member is a thin wrapper, so a function it defines gets the union of
    /// the sets of the libc.so.6 functions its member references (undefined symbols),
    /// and may call back if any of them may; names already in the table are kept.
    public func addingStaticMembers(of archivePath: String) throws(LibcSyscallsError) -> LibcSyscallTable {
        guard elf_version(UInt32(EV_CURRENT)) != UInt32(EV_NONE) else {
            throw .unreadableLibrary(path: archivePath, reason: "libelf: " + elfErrorText())
        }
        let fd = open(archivePath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadableLibrary(path: archivePath, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        let archive = try ELFHandle(fd: fd, path: archivePath)
        guard elf_kind(archive.elf) == ELF_K_AR else {
            throw .unreadableLibrary(path: archivePath, reason: "not an ar archive")
        }
        var result = self
        var command = ELF_C_READ
        while let member = elf_begin(fd, command, archive.elf) {
            defer {
                command = elf_next(member)
                elf_end(member)
            }
            guard elf_kind(member) == ELF_K_ELF else { continue }
            var defined: [String] = []
            var referenced: [String] = []
            var section = elf_nextscn(member, nil)
            while let scn = section {
                defer { section = elf_nextscn(member, scn) }
                var header = GElf_Shdr()
                guard gelf_getshdr(scn, &header) != nil, header.sh_type == UInt32(SHT_SYMTAB), header.sh_entsize > 0,
                    let data = elf_getdata(scn, nil)
                else { continue }
                for i in 0..<Int(header.sh_size / header.sh_entsize) {
                    var symbol = GElf_Sym()
                    guard gelf_getsym(data, Int32(i), &symbol) != nil,
                        let namePointer = elf_strptr(member, Int(header.sh_link), Int(symbol.st_name))
                    else { continue }
                    let name = String(cString: namePointer)
                    guard !name.isEmpty else { continue }
                    let type = Int32(symbol.st_info & 0xF)
                    let binding = Int32(symbol.st_info >> 4)
                    if symbol.st_shndx == UInt16(SHN_UNDEF) {
                        referenced.append(name)
                    } else if (type == STT_FUNC || type == STT_GNU_IFUNC)
                        && (binding == STB_GLOBAL || binding == STB_WEAK)
                    {
                        defined.append(name)
                    }
                }
            }
            var set = SystemCallSet.empty
            var callBack = false
            for name in referenced {
                guard let summary = functions[name] else { continue }
                set = set.union(summary.set)
                callBack = callBack || summary.mayCallBack
            }
            for name in defined where result.functions[name] == nil {
                result.functions[name] = LibcFunctionSummary(set: set, mayCallBack: callBack)
            }
        }
        return result
    }
}
