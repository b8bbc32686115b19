/// Linux capabilities by name, and the set a sandboxed program keeps
/// (`sbx run --cap-drop`, `--cap-add`, as bubblewrap's options of the same names).
public struct CapabilitySet: Sendable, Equatable {
    /// Bit N: capability N (`linux/capability.h`).
    public var bits: UInt64

    public init(bits: UInt64) { self.bits = bits }

    public static let all = CapabilitySet(bits: ~0)
    public static let none = CapabilitySet(bits: 0)

    /// The capabilities of Linux 6.1, in number order.
    public static let names = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
        "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
        "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE"
    ]

    /// A comma-separated list of names (`CAP_CHOWN` or `chown`, any case), or `ALL`;
    /// nil names the first word that is none of them.
    public static func parse(_ list: String) -> Result<CapabilitySet, CapabilityNameError> {
        var bits: UInt64 = 0
        for word in list.split(separator: ",", omittingEmptySubsequences: false) {
            let name = word.trimmingCharacters(in: " ").uppercased()
            if name == "ALL" { bits = ~0; continue }
            let full = name.hasPrefix("CAP_") ? name : "CAP_" + name
            guard let index = names.firstIndex(of: full) else {
                return .failure(CapabilityNameError(name: String(word)))
            }
            bits |= 1 << UInt64(index)
        }
        return .success(CapabilitySet(bits: bits))
    }

    /// What a program keeps with `--cap-drop DROP --cap-add ADD` (either may be
    /// absent): nil when neither is given (the capabilities stay as they are).
    public static func kept(drop: CapabilitySet?, add: CapabilitySet?) -> CapabilitySet? {
        guard drop != nil || add != nil else { return nil }
        return CapabilitySet(bits: (~(drop?.bits ?? 0)) | (add?.bits ?? 0))
    }
}

public struct CapabilityNameError: Error, Sendable, Equatable {
    public var name: String
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        var s = self
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return String(s)
    }
}
