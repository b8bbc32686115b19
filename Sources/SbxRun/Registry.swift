import DyckModel
import SbxSystem
import SbxBlob
#if canImport(Glibc)
import Glibc
#endif

/// The per-executable registry: policies the kernel enforces on every exec of an
/// inode, by any process. The kernel knows entries by (device, inode); the paths
/// they were installed for are remembered in `pathsFile` (on /run, which like the
/// module's registry does not survive a reboot), only to show them.
public enum Registry {
    // Tests point it elsewhere, before any thread reads it.
    nonisolated(unsafe) public static var pathsFile = "/run/sbx/installed"

    public struct Installed: Sendable {
        public var device: UInt64
        public var inode: UInt64
        public var policyID: UInt32
        /// The policy of the entry replaced (`--replace`), or 0.
        public var replaced: UInt32 = 0
    }

    /// Checks that `policyPath` is `executable`'s policy, loads it and installs it; with
    /// `replace`, in place of the executable's entry (whose policy is then unloaded
    /// unless processes still use it). Without it, an executable that has an entry is
    /// refused (`RunError.alreadyInstalled`, saying whether it was rebuilt since).
    public static func install(
        policyPath: String, executable: String, mode: BlobMode, action: EnforcementAction,
        exec: ExecTransition = .registry, replace: Bool = false,
        bounds: StackBounds = StackBounds(), device: SandboxDevice
    ) throws -> Installed {
        let exeFD = try SandboxRun.openProgram(executable)
        defer { close(exeFD) }
        let bound = try SandboxRun.bind(path: policyPath, program: executable, exeFD: exeFD)
        let (blob, _) = try SandboxRun.cachedBlob(
            bound, mode: mode, bounds: bounds, directory: SandboxRun.blobCacheDirectory)
        let id = try device.load(blob: blob)
        do {
            let entry = try device.install(
                policyID: id, mode: mode.rawValue, action: action, exec: exec,
                replace: replace, exeFD: exeFD)
            rememberPath(
                executable, device: entry.device, inode: entry.inode, digest: contentDigest(fd: exeFD),
                policy: policyPath)
            if entry.replaced != 0 { _ = try? device.unload(id: entry.replaced) }
            return Installed(device: entry.device, inode: entry.inode, policyID: id, replaced: entry.replaced)
        } catch {
            _ = try? device.unload(id: id)
            if case RunError.deviceFailed(_, _, let code) = error, code == EEXIST {
                var info = stat()
                let rebuilt =
                    fstat(exeFD, &info) == 0
                    && remembered()[key(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))].map {
                        $0.digest != nil && $0.digest != contentDigest(fd: exeFD)
                    } == true
                throw RunError.alreadyInstalled(executable: executable, rebuilt: rebuilt)
            }
            throw error
        }
    }

    /// SHA-256 (hex) of the file open on `fd`, as the kernel hashes it at install.
    static func contentDigest(fd: Int32) -> String? {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var offset: off_t = 0
        while true {
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
            if n < 0 { return nil }
            if n == 0 { break }
            bytes += chunk[..<n]
            offset += off_t(n)
        }
        return ExecutableBinding.hex(SHA256.hash(bytes))
    }

    /// How the path an entry was installed for stands now.
    public enum PathState: Equatable, Sendable {
        /// The path names the installed inode, with the content installed (or unknown).
        case current
        /// The path names the installed inode, whose content changed since: execs are refused.
        case rebuilt
        /// The path names another file (replaced by rename, or by install(1), which
        /// unlinks first): the entry applies to the old inode only.
        case otherFile
        /// Nothing is at the path any more.
        case gone
        /// The path is not known (installed by another tool).
        case unknown
    }

    public static func pathState(device dev: UInt64, inode: UInt64) -> (path: String?, state: PathState) {
        guard let entry = remembered()[key(device: dev, inode: inode)] else { return (nil, .unknown) }
        let fd = open(entry.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return (entry.path, .gone) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return (entry.path, .gone) }
        guard UInt64(info.st_dev) == dev, UInt64(info.st_ino) == inode else { return (entry.path, .otherFile) }
        if let digest = entry.digest, let now = contentDigest(fd: fd), now != digest { return (entry.path, .rebuilt) }
        return (entry.path, .current)
    }

    /// Removes the entry of `executable` (or of device:inode) and unloads its policy
    /// when no process uses it any more. Returns the policy id and whether it was
    /// unloaded; nil when there was no entry.
    public static func remove(
        executable: String?, device dev: UInt64 = 0, inode: UInt64 = 0,
        device: SandboxDevice
    ) throws -> (policyID: UInt32, unloaded: Bool)? {
        let removed: UInt32?
        if let executable {
            let fd = open(executable, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw RunError.programNotFound(executable) }
            defer { close(fd) }
            var info = stat()
            removed = try device.remove(exeFD: fd)
            if fstat(fd, &info) == 0 { forgetPath(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)) }
        } else {
            removed = try device.remove(device: dev, inode: inode)
            forgetPath(device: dev, inode: inode)
        }
        guard let id = removed else { return nil }
        return (id, try device.unload(id: id))
    }

    /// What is remembered of an entry: the path it was installed for, the SHA-256
    /// of the file's content then (hex), and the policy file installed (absolute;
    /// `sbx events` explains the entry's records with it).
    public struct Remembered: Sendable, Equatable {
        public var path: String
        public var digest: String?
        public var policy: String?

        public init(path: String, digest: String?, policy: String? = nil) {
            self.path = path
            self.digest = digest
            self.policy = policy
        }
    }

    /// Paths remembered for (device, inode) keys.
    public static func paths() -> [String: String] {
        remembered().mapValues(\.path)
    }

    /// Lines "DEV:INO SHA256 PATH", or "DEV:INO SHA256 PATH<TAB>POLICY" when the
    /// policy file is known (older files: "DEV:INO PATH").
    public static func remembered() -> [String: Remembered] {
        guard let file = fopen(pathsFile, "r") else { return [:] }
        defer { fclose(file) }
        var out: [String: Remembered] = [:]
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        while getline(&line, &capacity, file) > 0 {
            let text = String(cString: line!).trimmingSuffix("\n")
            let parts = text.split(separator: " ", maxSplits: 2)
            if parts.count == 3, parts[1].count == 64, parts[1].allSatisfy(\.isHexDigit) {
                let rest = parts[2].split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false)
                out[String(parts[0])] = Remembered(
                    path: String(rest[0]), digest: String(parts[1]),
                    policy: rest.count == 2 && !rest[1].isEmpty ? String(rest[1]) : nil)
            } else if parts.count >= 2 {
                out[String(parts[0])] = Remembered(
                    path: String(text.dropFirst(parts[0].count + 1)), digest: nil)
            }
        }
        free(line)
        return out
    }

    public static func key(device: UInt64, inode: UInt64) -> String { "\(device):\(inode)" }

    private static func rememberPath(_ path: String, device: UInt64, inode: UInt64, digest: String?, policy: String?) {
        var entries = remembered()
        // A tab or a newline cannot be stored in a line: such a policy path is not
        // remembered (sbx events then tries EXE.dyck).
        let exePath = absolutePath(path)
        let policyPath =
            exePath.contains("\t")
            ? nil
            : policy.map(absolutePath).flatMap { $0.contains("\t") || $0.contains("\n") ? nil : $0 }
        entries[key(device: device, inode: inode)] = Remembered(path: exePath, digest: digest, policy: policyPath)
        save(entries)
    }

    static func absolutePath(_ path: String) -> String {
        guard let real = realpath(path, nil) else { return path }
        defer { free(real) }
        return String(cString: real)
    }

    private static func forgetPath(device: UInt64, inode: UInt64) {
        var entries = remembered()
        if entries.removeValue(forKey: key(device: device, inode: inode)) != nil { save(entries) }
    }

    /// Best effort: the file only serves `sbx policy list`.
    private static func save(_ entries: [String: Remembered]) {
        let directory = String(pathsFile[..<(pathsFile.lastIndex(of: "/") ?? pathsFile.endIndex)])
        if !directory.isEmpty { mkdir(directory, 0o755) }
        let text = entries.sorted { $0.key < $1.key }.map {
            "\($0.key) " + ($0.value.digest.map { $0 + " " } ?? "") + "\($0.value.path)"
                + ($0.value.digest != nil ? $0.value.policy.map { "\t" + $0 } ?? "" : "") + "\n"
        }.joined()
        let temporary = pathsFile + ".tmp"
        guard let file = fopen(temporary, "w") else { return }
        fputs(text, file)
        fclose(file)
        rename(temporary, pathsFile)
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
