import CSbxDevice
#if canImport(Glibc)
import Glibc
#endif

/// Enforcement modes and actions, as the kernel numbers them.
public enum EnforcementAction: String, Sendable, CaseIterable {
    case kill
    case log

    var kernelValue: UInt32 { self == .kill ? UInt32(SBX_ACTION_KILL) : UInt32(SBX_ACTION_LOG) }
    init?(kernelValue: UInt32) {
        switch kernelValue {
        case UInt32(SBX_ACTION_KILL): self = .kill
        case UInt32(SBX_ACTION_LOG): self = .log
        default: return nil
        }
    }
}

/// What a successful exec by an enforced process does (`specs/kernel-abi.md`, "Exec
/// transitions"): `registry` enforces an installed executable's policy and refuses any
/// other file; `deny` refuses every exec; `unconfined` enforces an installed
/// executable's policy and runs any other file without a policy (never privileged
/// for /dev/sbx, nor are its descendants).
public enum ExecTransition: String, Sendable, CaseIterable {
    case registry
    case deny
    case unconfined

    var kernelValue: UInt32 {
        switch self {
        case .registry: return UInt32(SBX_EXEC_REGISTRY)
        case .deny: return UInt32(SBX_EXEC_DENY)
        case .unconfined: return UInt32(SBX_EXEC_UNCONFINED)
        }
    }

    init?(kernelValue: UInt32) {
        guard let match = Self.allCases.first(where: { $0.kernelValue == kernelValue }) else { return nil }
        self = match
    }
}

/// The module's state (SBX_IOC_STATUS).
public struct DeviceStatus: Sendable, Equatable {
    public var abiVersion: UInt32
    public var policies: UInt32
    public var enforcedThreads: UInt32
    public var armedThreads: UInt32
    /// Threads without a policy after an unconfined exec (never privileged).
    public var unconfinedThreads: UInt32
    public var markers: UInt64
    public var violations: UInt64
    /// Records lost since the module was loaded, all policies (unloaded ones too).
    public var recordsDropped: UInt64
    /// Of those, kill records (ABI 4; 0 before).
    public var killsDropped: UInt64
    public var allocationFailures: UInt64
    public var policyBytes: UInt64
    public var installed: UInt32
    /// Violation records waiting in the queues of all loaded policies, and the
    /// capacity of each policy's queue for log records (ABI 4; before: the one ring).
    public var recordsQueued: UInt32
    public var ringSize: UInt32
}

/// A loaded policy and its record queue (SBX_IOC_POLICIES, ABI 4).
public struct LoadedPolicy: Sendable, Equatable {
    public var id: UInt32
    public var nfa: Bool
    public var size: UInt32
    public var users: UInt32
    public var violations: UInt64
    /// Records lost: log records evicted from the full queue or refused by the rate
    /// limit, and kill records lost (`killsDropped`).
    public var dropped: UInt64
    public var droppedByRate: UInt64
    public var queued: UInt32
    public var queuedKills: UInt32
    public var queueSize: UInt32
    public var killsDropped: UInt32
}

/// A registry entry (SBX_IOC_LIST).
public struct InstalledPolicy: Sendable, Equatable {
    public var device: UInt64
    public var inode: UInt64
    public var policyID: UInt32
    public var mode: String
    public var action: String
    public var processes: UInt32
    public var execs: UInt64
    /// The exec transition of the processes it enforces.
    public var exec: String
    /// Execs refused because the file's content was no longer the one installed.
    public var refused: UInt32
}

/// A sandboxed thread (SBX_IOC_TASKS).
public struct SandboxedThread: Sendable, Equatable {
    public var pid: UInt32
    public var tid: UInt32
    public var policyID: UInt32
    public var armed: Bool
    /// No policy (after an unconfined exec), never privileged.
    public var unconfined: Bool
    public var mode: String
    public var action: String
    public var markers: UInt64
    public var violations: UInt32
    public var killed: Bool
    public var lost: Bool
    public var installed: Bool
    public var command: String
}

func modeName(_ value: UInt32) -> String {
    switch value {
    case UInt32(SBX_MODE_DYCK): return "dyck"
    case UInt32(SBX_MODE_NFA): return "nfa"
    default: return "mode\(value)"
    }
}

func actionName(_ value: UInt32) -> String {
    EnforcementAction(kernelValue: value)?.rawValue ?? "action\(value)"
}

func cString<T>(_ tuple: T) -> String {
    withUnsafeBytes(of: tuple) { raw in
        let bytes = raw.prefix { $0 != 0 }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// An open descriptor of /dev/sbx, closed when the value goes away.
public final class SandboxDevice {
    public static let defaultPath = SBX_DEVICE_PATH
    public let path: String
    public let fd: Int32

    /// Opens the device. No device: `RunError.moduleNotLoaded`; refused:
    /// `RunError.notPrivileged`.
    public init(path: String = SandboxDevice.defaultPath) throws {
        self.path = path
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            switch code {
            case ENOENT, ENXIO, ENODEV: throw RunError.moduleNotLoaded(device: path)
            case EACCES, EPERM: throw RunError.notPrivileged(device: path, operation: "open")
            default: throw RunError.deviceFailed(device: path, operation: "open", errno: code)
            }
        }
        self.fd = fd
    }

    deinit { close(fd) }

    private func check(_ result: Int32, _ operation: String) throws {
        guard result != 0 else { return }
        let code = -result
        if code == EPERM || code == EACCES { throw RunError.notPrivileged(device: path, operation: operation) }
        throw RunError.deviceFailed(device: path, operation: operation, errno: code)
    }

    public func status() throws -> DeviceStatus {
        var s = sbx_ioc_status()
        try check(sbx_dev_status(fd, &s), "status")
        return DeviceStatus(
            abiVersion: s.abi_version, policies: s.nr_policies, enforcedThreads: s.enforced_tasks,
            armedThreads: s.armed_tasks, unconfinedThreads: s.unconfined_tasks, markers: s.markers,
            violations: s.violations,
            recordsDropped: s.records_dropped, killsDropped: s.kills_dropped, allocationFailures: s.alloc_failures,
            policyBytes: s.policy_bytes,
            installed: s.nr_installed, recordsQueued: s.ring_count, ringSize: s.ring_size)
    }

    /// Loads a blob; returns the policy's id. `owned`: the kernel unloads it once this
    /// descriptor is closed and nothing uses it (SBX_LOAD_F_OWNED, ABI 5).
    public func load(blob: [UInt8], owned: Bool = false) throws -> UInt32 {
        var arg = sbx_ioc_load()
        if owned { arg.flags = UInt32(SBX_LOAD_F_OWNED) }
        let result = blob.withUnsafeBytes { raw -> Int32 in
            arg.blob = UInt64(UInt(bitPattern: raw.baseAddress))
            arg.size = UInt32(raw.count)
            return sbx_dev_load(fd, &arg)
        }
        try check(result, "load policy")
        return arg.id
    }

    /// Unloads a policy; false when it is still in use (EBUSY).
    @discardableResult
    public func unload(id: UInt32) throws -> Bool {
        var arg = sbx_ioc_unload()
        arg.id = id
        let result = sbx_dev_unload(fd, &arg)
        if result == -EBUSY { return false }
        try check(result, "unload policy \(id)")
        return true
    }

    /// Takes the violation records waiting: all of them, or only those of one policy
    /// (the others stay queued for their own readers). `dropped` is that policy's
    /// count of lost records (all policies' without one; before ABI 4 always all).
    public func readRecords(policyID: UInt32? = nil) throws -> (records: [ViolationRecord], dropped: UInt64) {
        var out: [ViolationRecord] = []
        var dropped: UInt64 = 0
        let capacity = 64
        var buffer = [sbx_violation_record](repeating: sbx_violation_record(), count: capacity)
        while true {
            var arg = sbx_ioc_read()
            let result = buffer.withUnsafeMutableBytes { raw -> Int32 in
                arg.records = UInt64(UInt(bitPattern: raw.baseAddress))
                arg.max = UInt32(capacity)
                if let policyID {
                    arg.flags = UInt32(SBX_READ_F_POLICY)
                    arg.policy_id = policyID
                }
                return sbx_dev_read(fd, &arg)
            }
            try check(result, "read violation records")
            dropped = arg.dropped
            out += buffer.prefix(Int(arg.count)).map(ViolationRecord.init)
            if arg.count < UInt32(capacity) { break }
        }
        return (out, dropped)
    }

    /// Installs a policy for every exec of the file open on `exeFD` (the kernel hashes
    /// the file: its content is bound to the entry); with `replace`, in place of the
    /// inode's entry. Returns the inode's (device, inode) as the kernel keys it and the
    /// policy of the entry replaced (0 if none).
    public func install(
        policyID: UInt32, mode: String, action: EnforcementAction, exec: ExecTransition = .registry,
        replace: Bool = false, exeFD: Int32
    ) throws -> (device: UInt64, inode: UInt64, replaced: UInt32) {
        var arg = sbx_ioc_install()
        arg.id = policyID
        arg.mode = mode == "nfa" ? UInt32(SBX_MODE_NFA) : UInt32(SBX_MODE_DYCK)
        arg.action = action.kernelValue
        arg.exec = exec.kernelValue
        if replace { arg.flags = UInt32(SBX_INSTALL_F_REPLACE) }
        arg.exe_fd = exeFD
        let result = sbx_dev_install(fd, &arg)
        if result == -EEXIST {
            throw RunError.deviceFailed(device: path, operation: "install", errno: EEXIST)
        }
        try check(result, "install policy \(policyID)")
        return (arg.dev, arg.ino, arg.replaced)
    }

    /// Removes the registry entry of the file open on `exeFD`, or of (device,
    /// inode); returns the policy it used, nil when there was no entry.
    public func remove(exeFD: Int32? = nil, device: UInt64 = 0, inode: UInt64 = 0) throws -> UInt32? {
        var arg = sbx_ioc_remove()
        if let exeFD {
            arg.exe_fd = exeFD
        } else {
            arg.flags = UInt32(SBX_REMOVE_F_INODE)
            arg.dev = device
            arg.ino = inode
        }
        let result = sbx_dev_remove(fd, &arg)
        if result == -ENOENT { return nil }
        try check(result, "remove")
        return arg.policy_id
    }

    public func installed() throws -> [InstalledPolicy] {
        var capacity = 64
        while true {
            var buffer = [sbx_install_entry](repeating: sbx_install_entry(), count: capacity)
            var arg = sbx_ioc_list()
            let result = buffer.withUnsafeMutableBytes { raw -> Int32 in
                arg.entries = UInt64(UInt(bitPattern: raw.baseAddress))
                arg.max = UInt32(capacity)
                return sbx_dev_list(fd, &arg)
            }
            try check(result, "list")
            if Int(arg.count) > capacity {
                capacity = Int(arg.count)
                continue
            }
            return buffer.prefix(Int(arg.count)).map {
                InstalledPolicy(
                    device: $0.dev, inode: $0.ino, policyID: $0.policy_id, mode: modeName($0.mode),
                    action: actionName($0.action), processes: $0.processes, execs: $0.execs,
                    exec: ExecTransition(kernelValue: $0.exec)?.rawValue ?? "exec\($0.exec)", refused: $0.refused)
            }
        }
    }

    /// The loaded policies and their record queues; nil when the module predates
    /// SBX_IOC_POLICIES (ABI 3 and before).
    public func policies() throws -> [LoadedPolicy]? {
        var capacity = 64
        while true {
            var buffer = [sbx_policy_entry](repeating: sbx_policy_entry(), count: capacity)
            var arg = sbx_ioc_policies()
            let result = buffer.withUnsafeMutableBytes { raw -> Int32 in
                arg.entries = UInt64(UInt(bitPattern: raw.baseAddress))
                arg.max = UInt32(capacity)
                return sbx_dev_policies(fd, &arg)
            }
            if result == -ENOTTY { return nil }
            try check(result, "list policies")
            if Int(arg.count) > capacity {
                capacity = Int(arg.count) + 16
                continue
            }
            return buffer.prefix(Int(arg.count)).map {
                LoadedPolicy(
                    id: $0.id, nfa: $0.blob_flags & 1 != 0, size: $0.size, users: $0.users,
                    violations: $0.violations, dropped: $0.dropped, droppedByRate: $0.dropped_rate,
                    queued: $0.queued, queuedKills: $0.queued_kills, queueSize: $0.queue_size,
                    killsDropped: $0.kills_dropped)
            }
        }
    }

    public func threads() throws -> [SandboxedThread] {
        var capacity = 256
        while true {
            var buffer = [sbx_task_entry](repeating: sbx_task_entry(), count: capacity)
            var arg = sbx_ioc_tasks()
            let result = buffer.withUnsafeMutableBytes { raw -> Int32 in
                arg.entries = UInt64(UInt(bitPattern: raw.baseAddress))
                arg.max = UInt32(capacity)
                return sbx_dev_tasks(fd, &arg)
            }
            try check(result, "list sandboxed threads")
            if Int(arg.count) > capacity {
                capacity = Int(arg.count) + 64
                continue
            }
            return buffer.prefix(Int(arg.count)).map {
                SandboxedThread(
                    pid: $0.pid, tid: $0.tid, policyID: $0.policy_id, armed: $0.state == UInt32(SBX_STATE_ARMED),
                    unconfined: $0.state == UInt32(SBX_STATE_UNCONFINED),
                    mode: modeName($0.mode), action: actionName($0.action), markers: $0.markers,
                    violations: $0.violations, killed: $0.flags & UInt32(SBX_TASK_F_KILLED) != 0,
                    lost: $0.flags & UInt32(SBX_TASK_F_LOST) != 0,
                    installed: $0.flags & UInt32(SBX_TASK_F_INSTALLED) != 0, command: cString($0.comm))
            }
        }
    }
}
