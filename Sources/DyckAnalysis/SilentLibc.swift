/// Which libc calls become events of the policy.
public enum LibcEventSelection: String, Sendable, CaseIterable {
    /// Every call to a function the C library exports.
    case all
    /// Every such call except those to `SilentLibc.names`: functions whose effects stay
    /// inside the process and that cannot call back into the program.
    case effectful
}

/// The C library functions that are ε in the default analysis.
///
/// Why: a policy constrains what a hijacked program can do to the world outside it.
/// A call to one of these functions only reads and writes the process's own memory,
/// manages it (the allocator, whose only system calls are `brk`, `mmap`, `munmap`,
/// `mremap`, `mprotect`, `madvise` of its own anonymous memory and
/// `sched_getaffinity` when it sizes its arenas), or reads a clock;
/// the fortified `__*_chk` variants and the allocator's consistency checks may also
/// abort the process. An event for such a call adds no protection an attacker could
/// not get around by doing the same work in its own code, while its marker is paid on
/// every call, and so are the `CALL`/`RET` markers of every call site that reaches libc
/// only through it. In mbed TLS these were nearly all of the marker rate: `memcpy`,
/// `memset` (`mbedtls_platform_zeroize`), `memcmp`, `strlen`, and the bignum code,
/// whose call sites reach libc only through `calloc`/`free` in `mbedtls_mpi_grow`.
///
/// Admission rules, checked against glibc 2.36: every system call on every path is one
/// of those above (no stdio, no locale loading, no file, socket, process or signal
/// call), and no function pointer argument (no callback into the program: `qsort` and
/// `bsearch` are not here). The locale-dependent functions read the already loaded
/// locale tables only. A name absent from the C library being analysed is unused.
public enum SilentLibc {
    public static let names: Set<String> = [
        // Memory.
        "memcpy", "memmove", "memset", "memcmp", "memchr", "memrchr", "rawmemchr", "mempcpy",
        "bcmp", "bcopy", "bzero", "explicit_bzero", "memmem", "memccpy",
        "__memcpy_chk", "__memmove_chk", "__memset_chk", "__mempcpy_chk", "__explicit_bzero_chk",
        // Strings.
        "strlen", "strnlen", "strcmp", "strncmp", "strcasecmp", "strncasecmp",
        "strchr", "strrchr", "strchrnul", "strstr", "strcasestr", "strspn", "strcspn", "strpbrk",
        "strcpy", "strncpy", "stpcpy", "stpncpy", "strcat", "strncat", "strtok", "strtok_r", "strsep",
        "index", "rindex",
        "__strcpy_chk", "__strncpy_chk", "__stpcpy_chk", "__stpncpy_chk", "__strcat_chk", "__strncat_chk",
        "wcslen", "wcscmp", "wcsncmp", "wcschr", "wcscpy", "wmemcpy", "wmemset", "wmemcmp",
        // Numbers from strings.
        "strtol", "strtoul", "strtoll", "strtoull", "strtoimax", "strtoumax", "atoi", "atol", "atoll",
        "__isoc23_strtol", "__isoc23_strtoul", "__isoc23_strtoll", "__isoc23_strtoull",
        // Integer arithmetic.
        "abs", "labs", "llabs", "div", "ldiv", "lldiv", "ffs", "ffsl", "ffsll",
        // Character classes and the thread's locale tables.
        "isalnum", "isalpha", "isblank", "iscntrl", "isdigit", "isgraph", "islower", "isprint",
        "ispunct", "isspace", "isupper", "isxdigit", "isascii", "toupper", "tolower",
        "__ctype_b_loc", "__ctype_tolower_loc", "__ctype_toupper_loc",
        // The thread's errno.
        "__errno_location",
        // Byte order.
        "htonl", "htons", "ntohl", "ntohs",
        // The allocator: the process's own anonymous memory.
        "malloc", "calloc", "realloc", "reallocarray", "free", "posix_memalign", "aligned_alloc",
        "memalign", "valloc", "pvalloc", "malloc_usable_size", "strdup", "strndup",
        // Clocks, read only.
        "time", "gettimeofday", "clock_gettime", "clock"
    ]

    public static func contains(_ name: String) -> Bool { names.contains(name) }
}
