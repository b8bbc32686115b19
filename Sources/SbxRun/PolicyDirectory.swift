import DyckModel
import SbxBlob
import SbxSystem
#if canImport(Glibc)
import Glibc
#endif

/// The saved policies (specs/policy-directory.md): one file per installed executable
/// in a directory (default /etc/sbx/policies, else $SBX_POLICY_DIR or --policy-dir),
/// written by `sbx policy install`, deleted by `sbx policy remove`, and loaded into the
/// kernel by `sbx policy load-all` (at boot, sbx-policies.service). The kernel's
/// registry does not survive a reboot or a module reload; this directory does.
public enum PolicyDirectory {
    public static let defaultPath = "/etc/sbx/policies"
    public static let environmentVariable = "SBX_POLICY_DIR"
    /// The only name suffix read; anything else in the directory is ignored.
    public static let suffix = ".policy"
    public static let formatVersion = 1
    /// A saved policy is a few paths: anything larger is not one.
    static let maxFileSize = 64 * 1024

    /// --policy-dir, else $SBX_POLICY_DIR (when not empty), else /etc/sbx/policies.
    public static func path(option: String?) -> String {
        if let option { return option }
        if let value = getenv(environmentVariable), value.pointee != 0 { return String(cString: value) }
        return defaultPath
    }

    /// One saved policy: what `sbx policy install` was given.
    public struct Entry: Sendable, Equatable {
        public var executable: String
        public var policy: String
        public var mode: BlobMode = .dyck
        public var action: EnforcementAction = .kill
        public var exec: ExecTransition = .registry
        public var bounds = StackBounds()

        public init(
            executable: String, policy: String, mode: BlobMode = .dyck, action: EnforcementAction = .kill,
            exec: ExecTransition = .registry, bounds: StackBounds = StackBounds()
        ) {
            self.executable = executable
            self.policy = policy
            self.mode = mode
            self.action = action
            self.exec = exec
            self.bounds = bounds
        }

        /// The file's text (every key written, in this order).
        public var text: String {
            """
            # Saved by `sbx policy install`; loaded into the kernel by `sbx policy load-all`
            # (sbx-policies.service at boot). Format: specs/policy-directory.md.
            format=\(PolicyDirectory.formatVersion)
            exe=\(executable)
            policy=\(policy)
            mode=\(mode.rawValue)
            action=\(action.rawValue)
            exec=\(exec.rawValue)
            stack_limit=\(bounds.stackLimit)
            max_depth=\(bounds.maxDepth)

            """
        }
    }

    /// A file of the directory that is not a saved policy; `line` is 1-based, nil
    /// for the file as a whole.
    public struct Malformed: CategorizedError, Sendable, Equatable {
        public var file: String
        public var line: Int?
        public var reason: String
        public var category: ErrorCategory { .badInput }
        public var description: String { "\(file)\(line.map { ":\($0)" } ?? ""): malformed saved policy: \(reason)" }
    }

    /// Parses a saved policy's text; `file` only names it in errors.
    public static func parse(_ text: String, file: String) throws(Malformed) -> Entry {
        func fail(_ line: Int?, _ reason: String) -> Malformed { Malformed(file: file, line: line, reason: reason) }
        var values: [String: (value: String, line: Int)] = [:]
        let known: Set<String> = ["format", "exe", "policy", "mode", "action", "exec", "stack_limit", "max_depth"]
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = index + 1
            if raw.isEmpty || raw.hasPrefix("#") { continue }
            guard let equals = raw.firstIndex(of: "=") else { throw fail(line, "not KEY=VALUE") }
            let key = String(raw[..<equals])
            let value = String(raw[raw.index(after: equals)...])
            guard known.contains(key) else {
                throw fail(
                    line,
                    "unknown key '\(key)' (known: format, exe, policy, mode, action, exec, stack_limit, max_depth)")
            }
            if let first = values[key] { throw fail(line, "'\(key)' given twice (first on line \(first.line))") }
            values[key] = (value, line)
        }
        guard let format = values["format"] else { throw fail(nil, "no format= line") }
        guard format.value == "\(formatVersion)" else {
            throw fail(
                format.line, "format '\(format.value)' is not \(formatVersion) (written by another version of sbx?)")
        }
        func path(_ key: String) throws(Malformed) -> String {
            guard let entry = values[key] else { throw fail(nil, "no \(key)= line") }
            guard entry.value.hasPrefix("/") else {
                throw fail(entry.line, "\(key) must be an absolute path, not '\(entry.value)'")
            }
            return entry.value
        }
        func number(_ key: String, _ range: ClosedRange<Int>, _ fallback: Int) throws(Malformed) -> Int {
            guard let entry = values[key] else { return fallback }
            guard entry.value.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(entry.value), range.contains(n)
            else {
                throw fail(
                    entry.line,
                    "\(key) must be a number within \(range.lowerBound)...\(range.upperBound), not '\(entry.value)'")
            }
            return n
        }
        var entry = Entry(executable: try path("exe"), policy: try path("policy"))
        if let mode = values["mode"] {
            guard let m = BlobMode(rawValue: mode.value) else {
                throw fail(mode.line, "mode must be dyck or nfa, not '\(mode.value)'")
            }
            entry.mode = m
        }
        if let action = values["action"] {
            guard let a = EnforcementAction(rawValue: action.value) else {
                throw fail(action.line, "action must be kill or log, not '\(action.value)'")
            }
            entry.action = a
        }
        if let exec = values["exec"] {
            guard let e = ExecTransition(rawValue: exec.value) else {
                throw fail(exec.line, "exec must be registry, deny or unconfined, not '\(exec.value)'")
            }
            entry.exec = e
        }
        entry.bounds = StackBounds(
            stackLimit: try number("stack_limit", 1...BlobLimits.maxStackLimit, BlobLimits.defaultStackLimit),
            maxDepth: try number("max_depth", 1...BlobLimits.maxMaxDepth, BlobLimits.defaultMaxDepth))
        return entry
    }

    /// The file name of `executable`'s saved policy (an absolute path): its base name
    /// (for people; characters other than letters, digits, '.', '_' and '-' become
    /// '_') and 16 hex digits of the SHA-256 of the whole path (so that two
    /// executables never share a file), then ".policy".
    public static func fileName(executable: String) -> String {
        let base = executable.split(separator: "/").last.map(String.init) ?? "root"
        let readable = String(
            base.prefix(64).map { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) ? $0 : "_" })
        let digest = ExecutableBinding.hex(SHA256.hash(Array(executable.utf8)).prefix(8))
        return "\(readable.hasPrefix(".") ? "_" + readable.dropFirst() : readable)-\(digest)\(suffix)"
    }

    /// `path` made absolute without resolving anything missing: the real path when
    /// it exists (as the registry remembers it), else joined to the working directory.
    public static func absolute(_ path: String) -> String {
        if let real = realpath(path, nil) {
            defer { free(real) }
            return String(cString: real)
        }
        if path.hasPrefix("/") { return path }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return path }
        let cwd = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return (cwd == "/" ? "" : cwd) + "/" + path
    }

    /// The names of the directory's saved-policy files (ending in ".policy", not
    /// hidden: the temporary files of an atomic write are), sorted. A missing
    /// directory has none.
    public static func fileNames(in directory: String) throws -> [String] {
        guard let dir = opendir(directory) else {
            if errno == ENOENT { return [] }
            throw PolicyDirectoryError.unreadable(path: directory, reason: String(cString: strerror(errno)))
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let item = readdir(dir) {
            let name = withUnsafeBytes(of: item.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasSuffix(suffix), !name.hasPrefix("."), name.count > suffix.count { names.append(name) }
        }
        return names.sorted()
    }

    /// Reads and parses one file of the directory.
    public static func read(_ path: String) throws -> Entry {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw PolicyDirectoryError.unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw Malformed(file: path, line: nil, reason: "not a regular file")
        }
        guard info.st_size <= maxFileSize else {
            throw Malformed(
                file: path, line: nil, reason: "\(info.st_size) bytes (a saved policy is at most \(maxFileSize))")
        }
        guard let file = fopen(path, "r") else {
            throw PolicyDirectoryError.unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        defer { fclose(file) }
        var bytes = [UInt8](repeating: 0, count: maxFileSize + 1)
        let n = fread(&bytes, 1, bytes.count, file)
        guard let text = String(validating: bytes[..<n], as: UTF8.self), !text.contains("\0") else {
            throw Malformed(file: path, line: nil, reason: "not UTF-8 text")
        }
        return try parse(text, file: path)
    }

    /// Fails now (as `OutputFile.checkWritable` would) if `save` could not write into
    /// `directory` later: creates it (mode 0755, parents too) when missing.
    public static func prepare(_ directory: String) throws {
        var built = directory.hasPrefix("/") ? "" : "."
        for part in directory.split(separator: "/") {
            built += "/" + part
            if mkdir(built, 0o755) != 0 && errno != EEXIST {
                throw AtomicWriteError(
                    path: directory, reason: "cannot create \(built): \(String(cString: strerror(errno)))")
            }
        }
        guard access(directory, W_OK | X_OK) == 0 else {
            throw AtomicWriteError(path: directory, reason: String(cString: strerror(errno)))
        }
    }

    /// Saves `entry` atomically (temporary file, fsync, rename; an existing file's
    /// mode is kept) as its executable's file, and deletes any other file of the
    /// directory naming the same executable. Returns the file's path.
    @discardableResult
    public static func save(_ entry: Entry, in directory: String) throws -> String {
        try prepare(directory)
        let name = fileName(executable: entry.executable)
        let path = directory + "/" + name
        try AtomicFile.write(Array(entry.text.utf8), to: path)
        for other in try files(for: entry.executable, in: directory) where other != name {
            unlink(directory + "/" + other)
        }
        return path
    }

    /// The files of the directory whose exe= is `executable` (malformed files are
    /// skipped: they name nothing reliably).
    public static func files(for executable: String, in directory: String) throws -> [String] {
        try fileNames(in: directory).filter { name in
            (try? read(directory + "/" + name))?.executable == executable
        }
    }

    /// Deletes every saved policy of `executable`; returns the paths deleted.
    public static func remove(executable: String, in directory: String) throws -> [String] {
        var removed: [String] = []
        for name in try files(for: executable, in: directory) {
            let path = directory + "/" + name
            guard unlink(path) == 0 else {
                throw AtomicWriteError(path: path, reason: "cannot delete: \(String(cString: strerror(errno)))")
            }
            removed.append(path)
        }
        if !removed.isEmpty {
            let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if fd >= 0 { _ = fsync(fd); close(fd) }
        }
        return removed
    }
}

public enum PolicyDirectoryError: CategorizedError, Sendable {
    case unreadable(path: String, reason: String)

    public var category: ErrorCategory { .badInput }
    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "\(path): cannot read: \(reason)"
        }
    }
}
