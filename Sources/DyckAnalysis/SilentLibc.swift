/// Which libc calls become events of the policy.
public enum LibcEventSelection: String, Sendable, CaseIterable {
    /// Every call to a function the C library exports.
    case all
    /// Every such call except those to `SilentLibc.names`: functions that cannot enter
    /// the kernel and cannot call back into the program.
    case kernelEntering = "kernel-entering"
}

/// The C library functions that are ε in the default analysis.
///
/// Why: a policy constrains what a hijacked program can make the kernel do. A call to
/// one of these functions only reads and writes the process's own memory (and, for the
/// fortified `__*_chk` variants, aborts the process when a bound is exceeded), so an
/// event for it adds no protection an attacker could not get around by doing the same
/// work in its own code, while its marker is paid on every call. In mbed TLS the
/// markers of `memcpy`, `memset` (`mbedtls_platform_zeroize`), `memcmp` and `strlen`
/// and of the call sites leading only to them were most of the marker rate.
///
/// Admission rules, checked against glibc 2.36: no system call on any path (no
/// `malloc`, no locale loading, no stdio, no `errno`-setting kernel entry), and no
/// function pointer argument (no callback into the program: `qsort` and `bsearch`
/// are not here). The locale-dependent functions read the already loaded locale
/// tables only. A function absent from the C library being analysed is simply unused.
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
    ]

    public static func contains(_ name: String) -> Bool { names.contains(name) }
}
