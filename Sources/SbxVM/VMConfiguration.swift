import Foundation

/// Everything `sbx vm` needs to know to run one command in a guest.
public struct VMConfiguration: Sendable, Equatable {
    /// The command and its arguments, run in the guest with `PATH` lookup.
    public var command: [String]
    /// A kernel image to boot instead of Debian's kernel matching the module.
    public var kernel: String?
    /// Guest memory in MiB.
    public var memoryMiB: Int = 1024
    /// Guest CPUs.
    public var cpus: Int = 1
    /// Seconds from the start of the first boot until the guest is killed: every
    /// boot, retries included, and the command.
    public var timeout: Double = 600
    /// Seconds a boot may take to reach the command. A boot takes a few seconds
    /// under TCG (up to about 30 s on a loaded host); one that hangs (KVM on some
    /// machines, and rarely a TCG guest, stuck in the kernel's early initcalls) is
    /// killed and retried.
    public var bootTimeout: Double = 60
    /// How many boots to try before giving up on a guest that fails before the
    /// command starts (a panic, a hang, QEMU or /init failing). A retry is safe:
    /// only failures before /init loads the module are retried (`BootStage`), so
    /// nothing under test has run.
    public var bootAttempts: Int = 3
    /// Use KVM instead of TCG.
    public var kvm: Bool = false
    /// Count instructions (`QEMUCommand.icount`).
    public var icount: Bool = false
    /// The module to load before the command; nil loads none.
    public var module: String?
    /// Where the guest kernel's console goes (nil: a temporary file).
    public var kernelLog: String?
    /// Where to write `/proc/sys/kernel/tainted` after the command.
    public var taintFile: String?
    /// The guest's working directory (the host's current directory), writable.
    public var workingDirectory: String
    /// More host directories the guest may write to (besides the working directory
    /// and `alwaysWritable`).
    public var writableDirectories: [String] = []
    /// Writable in every guest: /tmp is the host's, as programs expect to share it.
    public static let alwaysWritable = ["/tmp"]
    /// The command's environment (see `guestEnvironment`).
    public var environment: [String: String]
    /// The cache of kernels and initramfs images.
    public var cacheDirectory: String
    /// Appended to the guest kernel's command line.
    public var kernelArguments: [String] = []
    /// Print the QEMU command line and timings to stderr.
    public var verbose: Bool = false

    public init(command: [String], workingDirectory: String, environment: [String: String], cacheDirectory: String) {
        self.command = command
        self.workingDirectory = workingDirectory
        self.environment = environment
        self.cacheDirectory = cacheDirectory
    }

    /// Host variables the command sees, when set: the rest of the host's environment
    /// stays out of the guest.
    public static let passedVariables = ["PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "TZ"]

    /// The command's environment from the host's: `passedVariables`, a default `PATH`
    /// and `HOME`, `SBX_VM=1`, then `extra` (`NAME=VALUE` each) on top.
    public static func guestEnvironment(host: [String: String], extra: [String]) throws -> [String: String] {
        var env: [String: String] = [:]
        for name in passedVariables {
            if let value = host[name] { env[name] = value }
        }
        if env["PATH"] == nil { env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" }
        if env["HOME"] == nil { env["HOME"] = "/root" }
        env["SBX_VM"] = "1"
        for item in extra {
            guard let eq = item.firstIndex(of: "="), eq != item.startIndex,
                isVariableName(item[..<eq])
            else {
                throw VMError(.badInput, "--env \(item): expected NAME=VALUE")
            }
            env[String(item[..<eq])] = String(item[item.index(after: eq)...])
        }
        return env
    }

    static func isVariableName(_ name: Substring) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic)
        else {
            return false
        }
        return name.unicodeScalars.allSatisfy {
            $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)))
        }
    }

    /// `--memory`: a number of MiB, or QEMU's `NM`/`NG` (also `NMiB`, `NGiB`).
    public static func parseMemory(_ text: String) throws -> Int {
        let lower = text.lowercased()
        var digits = Substring(lower)
        var factor = 1
        for (suffix, f) in [("gib", 1024), ("mib", 1), ("g", 1024), ("m", 1)] where lower.hasSuffix(suffix) {
            digits = lower.dropLast(suffix.count)
            factor = f
            break
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(digits),
            n > 0, n <= 1 << 20 / factor
        else {
            throw VMError(.badInput, "--memory \(text): expected a size like 512M or 2G")
        }
        let mib = n * factor
        guard mib >= 128 else {
            throw VMError(.badInput, "--memory \(text): the guest needs at least 128M")
        }
        return mib
    }

    /// `--timeout` and `--boot-timeout` (named by `option`): positive seconds.
    public static func parseTimeout(_ text: String, option: String = "--timeout") throws -> Double {
        guard let seconds = Double(text), seconds.isFinite, seconds > 0 else {
            throw VMError(.badInput, "\(option) \(text): expected a positive number of seconds")
        }
        return seconds
    }

    /// `--boot-attempts`: 1 to 10 boots.
    public static func parseBootAttempts(_ text: String) throws -> Int {
        guard let n = Int(text), (1...10).contains(n) else {
            throw VMError(.badInput, "--boot-attempts \(text): expected a number of boots from 1 to 10")
        }
        return n
    }

    /// The command after an optional leading `--`.
    public static func command(from arguments: [String]) throws -> [String] {
        var argv = arguments
        if argv.first == "--" { argv.removeFirst() }
        guard let first = argv.first, !first.isEmpty else {
            throw VMError(.badInput, "missing the command to run: sbx vm [OPTIONS] -- CMD [ARGS...]")
        }
        return argv
    }
}

/// Finds the package root (the directory holding `Package.swift` and `kmod/`), for
/// the default module path.
public enum PackageRoot {
    /// The first directory, going up from the `sbx` executable and then from the
    /// current directory, that holds both `Package.swift` and `kmod/`.
    public static func find(executable: String, currentDirectory: String) -> String? {
        for start in [
            URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent().path,
            currentDirectory
        ] {
            var dir = URL(fileURLWithPath: start).standardizedFileURL
            while true {
                let fm = FileManager.default
                var isDir: ObjCBool = false
                if fm.fileExists(atPath: dir.appendingPathComponent("Package.swift").path),
                    fm.fileExists(atPath: dir.appendingPathComponent("kmod").path, isDirectory: &isDir), isDir.boolValue
                {
                    return dir.path
                }
                if dir.path == "/" { break }
                dir = dir.deletingLastPathComponent()
            }
        }
        return nil
    }

    public static let modulePath = "kmod/sbx_dyck.ko"

    /// The module `sbx vm` loads when `--module` is not given; an error naming where it
    /// looked when it is not there.
    public static func defaultModule(executable: String, currentDirectory: String) throws -> String {
        guard let root = find(executable: executable, currentDirectory: currentDirectory) else {
            throw VMError(
                .environment,
                "cannot find the package root (a directory with Package.swift and kmod/) above \(executable) or \(currentDirectory), so no \(modulePath) to load: pass --module PATH, or --no-module to run without it"
            )
        }
        let path = root + "/" + modulePath
        guard FileManager.default.fileExists(atPath: path) else {
            throw VMError(
                .environment,
                "\(path) does not exist: build the module first (make -C kmod), or pass --no-module to run without it")
        }
        return path
    }
}
