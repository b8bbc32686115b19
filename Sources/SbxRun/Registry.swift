import DyckModel
import SbxBlob
#if canImport(Glibc)
import Glibc
#endif

/// The per-executable registry: policies the kernel enforces on every exec of an
/// inode, by any process. The kernel knows entries by (device, inode); the paths
/// they were installed for are remembered in `pathsFile` (on /run, which like the
/// module's registry does not survive a reboot), only to show them.
public enum Registry {
    public static var pathsFile = "/run/sbx/installed"

    public struct Installed: Sendable {
        public var device: UInt64
        public var inode: UInt64
        public var policyID: UInt32
    }

    /// Checks that `policyPath` is `executable`'s policy, loads it and installs it.
    public static func install(policyPath: String, executable: String, mode: BlobMode, action: EnforcementAction,
                               device: SandboxDevice) throws -> Installed {
        let exeFD = try SandboxRun.openProgram(executable)
        defer { close(exeFD) }
        let enforced = try SandboxRun.loadEnforced(path: policyPath, program: executable, exeFD: exeFD)
        let blob = try SandboxRun.cachedBlob(enforced, mode: mode, path: policyPath)
        let id = try device.load(blob: blob)
        do {
            let (dev, ino) = try device.install(policyID: id, mode: mode.rawValue, action: action, exeFD: exeFD)
            rememberPath(executable, device: dev, inode: ino)
            return Installed(device: dev, inode: ino, policyID: id)
        } catch {
            _ = try? device.unload(id: id)
            if case RunError.deviceFailed(_, _, let code) = error, code == EEXIST {
                throw RunError.policyUnusable(
                    path: executable, reason: "already has an installed policy (sbx policy remove --exe \(executable) first)")
            }
            throw error
        }
    }

    /// Removes the entry of `executable` (or of device:inode) and unloads its policy
    /// when no process uses it any more. Returns the policy id and whether it was
    /// unloaded; nil when there was no entry.
    public static func remove(executable: String?, device dev: UInt64 = 0, inode: UInt64 = 0,
                              device: SandboxDevice) throws -> (policyID: UInt32, unloaded: Bool)? {
        let removed: UInt32?
        if let executable {
            let fd = open(executable, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw RunError.programNotFound(executable) }
            defer { close(fd) }
            var info = stat()
            if fstat(fd, &info) == 0 { forgetPath(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)) }
            removed = try device.remove(exeFD: fd)
        } else {
            forgetPath(device: dev, inode: inode)
            removed = try device.remove(device: dev, inode: inode)
        }
        guard let id = removed else { return nil }
        return (id, try device.unload(id: id))
    }

    /// Paths remembered for (device, inode) keys.
    public static func paths() -> [String: String] {
        guard let file = fopen(pathsFile, "r") else { return [:] }
        defer { fclose(file) }
        var out: [String: String] = [:]
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        while getline(&line, &capacity, file) > 0 {
            let text = String(cString: line!).trimmingSuffix("\n")
            let parts = text.split(separator: " ", maxSplits: 1)
            if parts.count == 2 { out[String(parts[0])] = String(parts[1]) }
        }
        free(line)
        return out
    }

    public static func key(device: UInt64, inode: UInt64) -> String { "\(device):\(inode)" }

    private static func rememberPath(_ path: String, device: UInt64, inode: UInt64) {
        var entries = paths()
        var absolute = path
        if let real = realpath(path, nil) {
            absolute = String(cString: real)
            free(real)
        }
        entries[key(device: device, inode: inode)] = absolute
        save(entries)
    }

    private static func forgetPath(device: UInt64, inode: UInt64) {
        var entries = paths()
        if entries.removeValue(forKey: key(device: device, inode: inode)) != nil { save(entries) }
    }

    /// Best effort: the file only serves `sbx policy list`.
    private static func save(_ entries: [String: String]) {
        let directory = String(pathsFile[..<(pathsFile.lastIndex(of: "/") ?? pathsFile.endIndex)])
        if !directory.isEmpty { mkdir(directory, 0o755) }
        let text = entries.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)\n" }.joined()
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
