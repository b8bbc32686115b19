/// Buffered events (`specs/marker-abi.md`, "Buffered events"; issue 19): which marker
/// events an instrumented program may append to its per-thread event buffer instead
/// of issuing them as synchronous, pinned marker system calls. The instrumentation
/// (`dyck-cc --dyck-buffer`) and the policy blob writer (its per-symbol BUFFERABLE
/// flags) both decide with this one rule, so that the program never appends a `LIBC`
/// event the kernel would refuse from the buffer.
public enum BufferedEvents {
    /// `SBX_EVBUF_CAP`: slots of one thread's buffer.
    public static let capacity = 32
    /// The format version in the executable's `.sbx_evbuf` section.
    public static let sectionVersion = 1
    /// The section that tells the tools where the buffer is: version, capacity, and
    /// the buffer's offset from the thread pointer (16 bytes).
    public static let sectionName = ".sbx_evbuf"
    public static let sectionSize = 16
    /// The thread-local buffer the instrumentation defines in the linked program.
    public static let bufferSymbol = "__sbx_evbuf"

    /// The kinds whose events may be buffered. `LIBC` only for a bufferable symbol
    /// (`isBufferable(_:)`); `SJ_SAVE` and `SJ_RESUME` are always synchronous: they
    /// record where a `longjmp` may resume, which the kernel must see when it
    /// happens, not at the next system call.
    public static func mayBuffer(_ kind: MarkerKind) -> Bool {
        switch kind {
        case .libc, .call, .ret, .tail, .callbackEnter, .callbackExit: return true
        case .setjmpSave, .setjmpResume: return false
        }
    }

    /// The system calls whose window must be opened by a synchronous, pinned marker:
    /// a libc function that can make one of them is never bufferable, so that an
    /// attacker who writes the buffer cannot open its window (specs/libc-syscalls.md,
    /// "Bufferable functions", gives the reason for each class).
    public static let sensitiveNames: [String] = [
        // Running other code: a new program, a new process or thread.
        "execve", "execveat", "fork", "vfork", "clone", "clone3",
        // Reaching into, or signalling, other processes.
        "ptrace", "process_vm_writev", "kill", "tkill", "tgkill",
        // The network: new connections in or out.
        "socket", "connect", "bind", "listen", "accept", "accept4",
        // Credentials.
        "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setfsuid", "setfsgid",
        // File permissions and owners.
        "chmod", "fchmod", "fchmodat", "chown", "fchown", "lchown", "fchownat",
        // The file-system namespace.
        "mount", "umount2", "pivot_root", "chroot",
        // The kernel itself: modules, kexec, BPF programs.
        "init_module", "finit_module", "delete_module", "kexec_load", "bpf",
        // The process's own protections: prctl (no_new_privs, dumpable, ...) and seccomp.
        "prctl", "seccomp"
    ]

    /// `sensitiveNames` as numbers (x86-64).
    public static let sensitive: Set<Int> = Set(sensitiveNames.map { SystemCallNames.number(of: $0)! })

    /// Whether a libc function whose derived system-call set is `set` is *bufferable*:
    /// the set holds no sensitive call, does not open files for writing (the kernel
    /// map's bit 510), does not map code (bit 511), and is not "all numbers" (a
    /// function that reaches a `syscall` whose number the analysis could not
    /// determine).
    public static func isBufferable(_ set: SystemCallSet) -> Bool {
        guard !set.opensForWriting, !set.mapsExecutable else { return false }
        guard !isAllNumbers(set) else { return false }
        return !set.numbers.contains { sensitive.contains($0) }
    }

    /// The set of a function that reaches an unknown system-call site: every number
    /// 0...`SystemCallSet.maximumNumber`.
    public static func isAllNumbers(_ set: SystemCallSet) -> Bool {
        set.numbers.count == SystemCallSet.maximumNumber + 1
    }

    /// Per symbol of `policy` (its symbol ids), whether its `LIBC` events are
    /// bufferable. A policy without a system-call binding has none: without derived
    /// sets nothing is known to be harmless.
    public static func bufferableSymbols(of policy: Policy) -> [Bool] {
        guard let binding = policy.syscalls else { return Array(repeating: false, count: policy.symbols.count) }
        return policy.symbols.indices.map { id in
            guard binding.symbolSets.indices.contains(id), binding.sets.indices.contains(binding.symbolSets[id]) else {
                return false
            }
            return isBufferable(binding.sets[binding.symbolSets[id]])
        }
    }

    /// The buffer word of an event: `(u64)kind << 32 | id`; never 0 (kinds start at 1).
    public static func word(kind: MarkerKind, id: UInt32) -> UInt64 {
        UInt64(kind.rawValue) << 32 | UInt64(id)
    }
}
