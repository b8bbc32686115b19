import DyckModel
import Glibc
import Synchronization

/// The analysis of the C library takes seconds; its result is a function of the two
/// files, so it is kept on disk under a key derived from them.
///
/// Location: `$XDG_CACHE_HOME/dyck-sandbox/` (`~/.cache/dyck-sandbox/` when unset),
/// file `libc-syscalls-<key>`, where the key is both files' GNU build-ids (or, for a file
/// without one, its device, inode, size and modification time) and the analysis
/// version. `DYCK_NO_LIBC_CACHE=1` neither reads nor writes it. A file that does not
/// parse in full is ignored and rewritten; files are written to a temporary name and
/// renamed, so readers never see half a file.
public enum LibcSyscallCache {
    /// Bumped whenever a rule changes, so that old results are not reused.
    public static let analysisVersion = 7

    /// The table for `libcPath` and `loaderPath`: from this process's memory, the disk
    /// cache, or a fresh analysis (which is then stored).
    public static func load(
        libcPath: String, loaderPath: String = LibcSyscallAnalysis.defaultLoaderPath,
        progress: ((String) -> Void)? = nil
    ) throws(LibcSyscallsError) -> LibcSyscallTable {
        let key = try cacheKey(libcPath: libcPath, loaderPath: loaderPath)
        if let table = memory.withLock({ $0[key] }) { return table }
        let enabled = getenv("DYCK_NO_LIBC_CACHE").map { String(cString: $0) != "1" } ?? true
        let file = enabled ? cacheDirectory().map { $0 + "/libc-syscalls-" + key } : nil
        if let file, let text = try? readText(file), let table = parse(text) {
            memory.withLock { $0[key] = table }
            return table
        }
        let table = try LibcSyscallAnalysis.analyze(libcPath: libcPath, loaderPath: loaderPath, progress: progress)
        if let file {
            if store(serialize(table), at: file) {
                progress?("cached the result in \(file)")
            } else {
                progress?("could not write the cache file \(file); continuing without it")
            }
        }
        memory.withLock { $0[key] = table }
        return table
    }

    private static let memory = Mutex<[String: LibcSyscallTable]>([:])

    static func cacheDirectory() -> String? {
        if let xdg = getenv("XDG_CACHE_HOME"), xdg.pointee != 0 {
            return String(cString: xdg) + "/dyck-sandbox"
        }
        guard let home = getenv("HOME"), home.pointee != 0 else { return nil }
        return String(cString: home) + "/.cache/dyck-sandbox"
    }

    static func cacheKey(libcPath: String, loaderPath: String) throws(LibcSyscallsError) -> String {
        func part(_ path: String) throws(LibcSyscallsError) -> String {
            var status = stat()
            guard stat(path, &status) == 0 else {
                throw .unreadableLibrary(path: path, reason: String(cString: strerror(errno)))
            }
            if let id = buildID(path) { return id }
            return
                "\(status.st_dev)-\(status.st_ino)-\(status.st_size)-\(status.st_mtim.tv_sec).\(status.st_mtim.tv_nsec)"
        }
        return "v\(analysisVersion)-" + (try part(libcPath)) + "-" + (try part(loaderPath))
    }

    /// The GNU build-id note, read without parsing the whole file (the key is computed
    /// on every run, the analysis only on a miss).
    private static func buildID(_ path: String) -> String? {
        guard let image = try? ELFImage(path: path), let id = image.buildID, !id.isEmpty else { return nil }
        return id.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
            .joined()
    }

    private static func readText(_ path: String) throws -> String? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n == 0 { break }
            bytes += buffer[0..<n]
            if bytes.count > 64 << 20 { return nil }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func store(_ text: String, at path: String) -> Bool {
        let directory = String(path[..<path.lastIndex(of: "/")!])
        var prefix = ""
        for component in directory.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST { return false }
        }
        let temporary = path + ".tmp.\(getpid())"
        guard let file = fopen(temporary, "wb") else { return false }
        let bytes = Array(text.utf8)
        let written = fwrite(bytes, 1, bytes.count, file)
        let flushed = fflush(file) == 0 && fsync(fileno(file)) == 0
        fclose(file)
        guard written == bytes.count, flushed, rename(temporary, path) == 0 else {
            unlink(temporary)
            return false
        }
        return true
    }

    // MARK: Text form
    //
    // libc-syscalls 1
    // stats FUNCTIONS WITHOUT_FDE INSTRUCTIONS SKIPPED SITES EDGES
    // start [exec] NR ...
    // unknown COUNT
    // u LIBRARY ADDRESS FUNCTION            COUNT times
    // all COUNT
    // a NAME                                COUNT times
    // functions COUNT
    // f NAME exec|-  write|-  callback|-  NR ...     COUNT times
    // end

    static func serialize(_ table: LibcSyscallTable) -> String {
        func set(_ s: SystemCallSet) -> String { s.numbers.map(String.init).joined(separator: " ") }
        let s = table.statistics
        var out = "libc-syscalls \(analysisVersion)\n"
        out +=
            "stats \(s.functions) \(s.functionsWithoutFDE) \(s.instructions) \(s.skippedBytes) \(s.syscallSites) \(s.edges)\n"
        out +=
            "start \(table.startSet.mapsExecutable ? "exec" : "-") \(table.startSet.opensForWriting ? "write" : "-") \(set(table.startSet))\n"
        out += "unknown \(table.unknownSites.count)\n"
        for site in table.unknownSites { out += "u \(site.library) \(site.address) \(site.function)\n" }
        out += "all \(table.functionsMadeAll.count)\n"
        for name in table.functionsMadeAll { out += "a \(name)\n" }
        out += "functions \(table.functions.count)\n"
        for name in table.functions.keys.sorted() {
            let f = table.functions[name]!
            out +=
                "f \(name) \(f.set.mapsExecutable ? "exec" : "-") \(f.set.opensForWriting ? "write" : "-") \(f.mayCallBack ? "callback" : "-") \(set(f.set))\n"
        }
        out += "end\n"
        return out
    }

    /// nil for anything that is not exactly a file `serialize` writes.
    static func parse(_ text: String) -> LibcSyscallTable? {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.split(separator: " ").map(String.init)
        }
        guard lines.last == [] else { return nil }
        lines.removeLast()
        var position = 0
        func next(_ keyword: String) -> [String]? {
            guard position < lines.count, lines[position].first == keyword else { return nil }
            defer { position += 1 }
            return Array(lines[position].dropFirst())
        }
        func numbers(_ fields: ArraySlice<String>) -> [Int]? {
            var result: [Int] = []
            for field in fields {
                guard let n = Int(field), n >= 0, n <= SystemCallSet.maximumNumber, n > (result.last ?? -1) else {
                    return nil
                }
                result.append(n)
            }
            return result
        }
        func count(_ keyword: String) -> Int? {
            guard let f = next(keyword), f.count == 1, let n = Int(f[0]), n >= 0, n <= 1 << 20 else { return nil }
            return n
        }
        guard next("libc-syscalls") == ["\(analysisVersion)"] else { return nil }
        guard let stats = next("stats"), stats.count == 6 else { return nil }
        let values = stats.compactMap { Int($0) }
        guard values.count == 6 else { return nil }
        var statistics = LibcSyscallStatistics()
        statistics.functions = values[0]
        statistics.functionsWithoutFDE = values[1]
        statistics.instructions = values[2]
        statistics.skippedBytes = values[3]
        statistics.syscallSites = values[4]
        statistics.edges = values[5]
        guard let start = next("start"), start.count >= 2, let first = start.first, first == "exec" || first == "-",
            start[1] == "write" || start[1] == "-", let startNumbers = numbers(start.dropFirst(2))
        else { return nil }
        guard let unknownCount = count("unknown") else { return nil }
        var unknown: [UnknownSyscallSite] = []
        for _ in 0..<unknownCount {
            guard let f = next("u"), f.count == 3, let address = UInt64(f[1]) else { return nil }
            unknown.append(UnknownSyscallSite(library: f[0], address: address, function: f[2]))
        }
        guard let allCount = count("all") else { return nil }
        var madeAll: [String] = []
        for _ in 0..<allCount {
            guard let f = next("a"), f.count == 1 else { return nil }
            madeAll.append(f[0])
        }
        guard let functionCount = count("functions") else { return nil }
        var functions: [String: LibcFunctionSummary] = [:]
        for _ in 0..<functionCount {
            guard let f = next("f"), f.count >= 4, f[1] == "exec" || f[1] == "-", f[2] == "write" || f[2] == "-",
                f[3] == "callback" || f[3] == "-", let set = numbers(f.dropFirst(4)), functions[f[0]] == nil
            else { return nil }
            functions[f[0]] = LibcFunctionSummary(
                set: SystemCallSet(numbers: set, mapsExecutable: f[1] == "exec", opensForWriting: f[2] == "write"),
                mayCallBack: f[3] == "callback")
        }
        guard next("end") == [], position == lines.count else { return nil }
        return LibcSyscallTable(
            functions: functions,
            startSet: SystemCallSet(
                numbers: startNumbers, mapsExecutable: first == "exec", opensForWriting: start[1] == "write"),
            unknownSites: unknown, functionsMadeAll: madeAll, statistics: statistics)
    }
}
