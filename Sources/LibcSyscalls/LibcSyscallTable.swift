import DyckModel

/// What the analysis of the C library derived for one exported function.
public struct LibcFunctionSummary: Hashable, Sendable {
    /// Every system call the function can make, directly or through the functions it
    /// calls, in libc and in the dynamic loader (specs/libc-syscalls.md).
    public var set: SystemCallSet
    /// It (or a function it calls) makes an indirect call the analysis could not
    /// resolve inside the C library: it may run code of the program (a comparator, a
    /// cookie function, a start routine) or of a library it loaded.
    public var mayCallBack: Bool

    public init(set: SystemCallSet, mayCallBack: Bool) {
        self.set = set
        self.mayCallBack = mayCallBack
    }
}

/// A `syscall` instruction whose number the analysis could not determine; it counts
/// as every number 0...510.
public struct UnknownSyscallSite: Hashable, Sendable {
    /// The file's name (`libc.so.6`, `ld-linux-x86-64.so.2`).
    public var library: String
    public var address: UInt64
    /// The containing function: an exported name when one starts there, else
    /// `library+0xADDRESS` of its start.
    public var function: String

    public init(library: String, address: UInt64, function: String) {
        self.library = library
        self.address = address
        self.function = function
    }
}

/// Figures of one analysis, for progress reports and the spec's claims.
public struct LibcSyscallStatistics: Hashable, Sendable {
    public var functions = 0
    public var functionsWithoutFDE = 0
    public var instructions = 0
    public var skippedBytes = 0
    public var syscallSites = 0
    public var edges = 0

    public init() {}
}

/// The system-call sets of every function the C library exports, and the sets of the
/// windows that are not a libc call.
public struct LibcSyscallTable: Hashable, Sendable {
    /// By exported name (`.dynsym` of libc.so.6: defined functions and IFUNCs, global or
    /// weak, default or protected visibility).
    public var functions: [String: LibcFunctionSummary]
    /// Process start: the loader's entry point and `__libc_start_main`, each with
    /// everything it calls.
    public var startSet: SystemCallSet
    public var unknownSites: [UnknownSyscallSite]
    /// Exported functions whose set is all numbers because an unknown site is reachable.
    public var functionsMadeAll: [String]
    public var statistics: LibcSyscallStatistics

    public init(
        functions: [String: LibcFunctionSummary], startSet: SystemCallSet, unknownSites: [UnknownSyscallSite],
        functionsMadeAll: [String], statistics: LibcSyscallStatistics
    ) {
        self.functions = functions
        self.startSet = startSet
        self.unknownSites = unknownSites
        self.functionsMadeAll = functionsMadeAll
        self.statistics = statistics
    }

    public subscript(name: String) -> LibcFunctionSummary? { functions[name] }

    /// A call to `name` needs no marker: everything it can do is ambient (allowed in
    /// every window), it creates no executable mapping, and it cannot call back into
    /// the program (so no callback marker can happen inside it).
    ///
    /// Read-only file access is ambient only for the allocator's one-time reads of
    /// kernel parameters, which happen deep inside `malloc` and `free`: a function
    /// whose set has any of it (`read`, `open`, `opendir`, ...) is an event, so that
    /// what it reads and opens is announced (and its window, not the ambient set,
    /// decides whether its `openat` may write). The allocator's entry points are the
    /// exception: their `openat` is `__open64_nocancel` with constant read-only flags
    /// that the analysis does not follow into the wrapper (specs/libc-syscalls.md,
    /// "Silent functions").
    public func isSilent(_ name: String) -> Bool {
        guard let summary = functions[name] else { return false }
        guard !summary.mayCallBack, summary.set.isSubset(of: Self.ambient) else { return false }
        return Self.allocator.contains(name) || !summary.set.numbers.contains { Self.readOnlyFileAccess.contains($0) }
    }

    /// `openat` (read-only), `read`, `pread64`, `getdents64`, `close`.
    public static let readOnlyFileAccess = Set(
        ["openat", "read", "pread64", "getdents64", "close"].map { SystemCallNames.number(of: $0)! })

    /// The allocator's entry points (glibc's malloc/malloc.c and the string copies that
    /// only allocate).
    public static let allocator: Set<String> = [
        "malloc", "calloc", "realloc", "reallocarray", "free", "cfree", "memalign", "posix_memalign",
        "aligned_alloc", "valloc", "pvalloc", "malloc_usable_size", "strdup", "strndup", "__strdup", "__strndup"
    ]

    /// The system calls allowed in every window (specs/libc-syscalls.md "The ambient
    /// set" gives the reason for each). Never `mapsExecutable`; the kernel allows
    /// `mmap`/`mprotect` here only without `PROT_EXEC`, and `openat` only read-only
    /// (specs/kernel-abi.md, "System-call binding").
    public static let ambientNames = [
        // The allocator's memory management; futex: every libc lock.
        "brk", "mmap", "munmap", "mremap", "madvise", "mprotect", "futex",
        // The allocator's one-time reads: the tcache key (getrandom), the CPU count for
        // arenas (sched_getaffinity, /sys/devices/system/cpu), whether heaps may shrink
        // (/proc/sys/vm/overcommit_memory). Read-only file access, no write.
        "sched_getaffinity", "getrandom", "openat", "read", "pread64", "getdents64", "close",
        // Clocks.
        "clock_gettime", "clock_getres", "gettimeofday", "time",
        // Signal return, restart, exit.
        "rt_sigreturn", "restart_syscall", "exit", "exit_group"
    ]

    public static let ambient = SystemCallSet(numbers: ambientNames.map { SystemCallNames.number(of: $0)! })
}
