#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Finding programs as a shell does.
public enum Executables {
    /// The first `directory/name` of `searchPath` (default: `$PATH`, or
    /// `/usr/local/bin:/usr/bin:/bin` when unset) that is a regular file this process may execute.
    /// Empty entries mean the current directory, as POSIX says; a name with a slash
    /// is not searched for.
    public static func find(_ name: String, searchPath: String? = nil) -> String? {
        if name.isEmpty { return nil }
        if name.contains("/") { return isExecutableFile(name) ? name : nil }
        let path = searchPath ?? (getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin")
        for entry in path.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = entry.isEmpty ? name : "\(entry)/\(name)"
            if isExecutableFile(candidate) { return candidate }
        }
        return nil
    }

    /// A regular file (not a directory) with execute permission for this process.
    public static func isExecutableFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG && access(path, X_OK) == 0
    }
}
