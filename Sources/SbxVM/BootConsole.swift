import Foundation

/// How far a guest's boot got, in order. Read from the guest kernel's console
/// (ttyS0, where the kernel and `/init` both write) and from the control port's
/// `booted` line.
public enum BootStage: Int, Comparable, Sendable, CustomStringConvertible {
    /// Nothing from the kernel yet: QEMU, the firmware, the kernel's decompression.
    case firmware
    /// The kernel printed its banner ("Linux version ...") and is initialising.
    case kernel
    /// The kernel started `/init` ("Run /init as init process"): virtio, 9p, mounts.
    case userspace
    /// `/init` is loading the module under test ("sbx-init: stage module").
    case module
    /// The command has started ("booted" on the control port, "sbx-init: booted" on
    /// the console).
    case command

    public static func < (a: BootStage, b: BootStage) -> Bool { a.rawValue < b.rawValue }

    public var description: String {
        switch self {
        case .firmware: return "before the kernel's first message"
        case .kernel: return "in the kernel's initialisation"
        case .userspace: return "in /init, before the module and the command"
        case .module: return "while loading the module"
        case .command: return "after the command started"
        }
    }

    /// Whether a boot that failed at this stage may be booted again: nothing of what
    /// is under test (the module, the command) has run yet, so the failure is the
    /// boot's own (a slow or descheduled TCG guest), and booting again cannot run
    /// anything twice nor hide a failure of the module or of the command.
    public var retryable: Bool { self < .module }
}

/// Reads a guest's console transcript (the `--kernel-log` file).
public enum BootConsole {
    /// Printed by `/init` on the console just before it loads the module under test.
    public static let moduleStageLine = "sbx-init: stage module"
    /// Printed by `/init` on the console (and on the control port) as the command starts.
    public static let bootedPrefix = "sbx-init: booted"

    /// The furthest stage `lines` (the console, oldest first) show; `controlBooted`:
    /// the control port said `booted` (authoritative: the console may lag).
    public static func stage(_ lines: [String], controlBooted: Bool = false) -> BootStage {
        if controlBooted { return .command }
        var stage = BootStage.firmware
        for line in lines {
            let text = stripTimestamp(line)
            if text.hasPrefix(bootedPrefix) { return .command }
            if text.hasPrefix(moduleStageLine) {
                stage = max(stage, .module)
            } else if text.hasPrefix("Run /init as init process") || text.hasPrefix("sbx-init: ") {
                stage = max(stage, .userspace)
            } else if stage == .firmware, text.hasPrefix("Linux version ") {
                stage = .kernel
            }
        }
        return stage
    }

    /// The reason of the last kernel panic in `lines` ("IO-APIC + timer doesn't
    /// work! ..."), without the "Kernel panic - not syncing: " prefix; nil if none.
    public static func panic(_ lines: [String]) -> String? {
        guard let line = lines.last(where: { $0.contains("Kernel panic - not syncing") }) else { return nil }
        let text = stripTimestamp(line)
        guard let range = text.range(of: "Kernel panic - not syncing:") else { return text }
        return text[range.upperBound...].trimmingCharacters(in: .whitespaces)
    }

    /// The kernel's (or /init's) last message, without its timestamp: where a hung
    /// boot stopped.
    public static func lastMessage(_ lines: [String]) -> String? {
        lines.last(where: { !stripTimestamp($0).isEmpty }).map(stripTimestamp)
    }

    /// "[    1.234567] text" -> "text".
    public static func stripTimestamp(_ line: String) -> String {
        guard line.hasPrefix("["), let close = line.firstIndex(of: "]") else {
            return line.trimmingCharacters(in: .whitespaces)
        }
        return line[line.index(after: close)...].trimmingCharacters(in: .whitespaces)
    }

    /// The lines of a console transcript, as `kernelLogLines` reads them: no empty
    /// lines, no terminal escape sequences (the firmware's).
    public static func lines(_ text: String) -> [String] {
        text.split(omittingEmptySubsequences: true, whereSeparator: \.isNewline)
            .map { String($0) }
            .filter { !$0.hasPrefix("\u{1b}") }
    }
}

/// Why one boot ended before its command started.
public struct BootFailure: Error, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The kernel panicked; the panic's reason.
        case panic(String)
        /// No command within `--boot-timeout` (QEMU was killed); seconds waited.
        case hang(Double)
        /// `/init` reported an error (its message).
        case initFailed(String)
        /// QEMU ended by itself without the command's status (its exit and the first
        /// lines of its own messages, if any).
        case qemuEnded(exit: String, message: String)
    }

    public var kind: Kind
    /// Where the boot was when it failed.
    public var stage: BootStage
    /// The kernel's last message (for a hang: where it stopped).
    public var lastMessage: String?
    /// What to show of the kernel's console if this failure is the last.
    public var kernelLogTail: [String]

    public init(_ kind: Kind, stage: BootStage, lastMessage: String?, kernelLogTail: [String] = []) {
        self.kind = kind
        self.stage = stage
        self.lastMessage = lastMessage
        self.kernelLogTail = kernelLogTail
    }

    /// Whether booting again is safe and may help (`BootStage.retryable`).
    public var retryable: Bool { stage.retryable }

    /// One line saying what happened, for progress and error messages.
    public var reason: String {
        let last = lastMessage.map { "; the kernel's last message was \"\($0)\"" } ?? ""
        switch kind {
        case .panic(let why):
            return "the guest kernel panicked \(stage): \(why)"
        case .hang(let seconds):
            return
                "the guest did not reach the command within \(BootFailure.seconds(seconds)) (--boot-timeout), stuck \(stage)\(last)"
        case .initFailed(let message):
            return "the guest's /init failed \(stage): \(message)"
        case .qemuEnded(let exit, let message):
            return "QEMU ended (\(exit)) \(stage) without the command's status"
                + (message.isEmpty ? last : ": \(message)")
        }
    }

    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : String(format: "%.1f s", value)
    }
}
