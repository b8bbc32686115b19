import CSbxDevice
import DyckModel
import SbxBlob
#if canImport(Glibc)
import Glibc
#endif

/// Where the policy of a record's policy id comes from: the registry entry that
/// uses it (`sbx policy install`), or a live process enforced with it.
public struct PolicySource: Sendable, Equatable {
    public var exe: String?
    /// The policy file: the one given at install, else EXE.dyck.
    public var policyPath: String?
    public var mode: BlobMode
    public var installed: Bool

    public init(exe: String?, policyPath: String?, mode: BlobMode, installed: Bool) {
        self.exe = exe
        self.policyPath = policyPath
        self.mode = mode
        self.installed = installed
    }
}

/// One violation record as `sbx events` shows it: the record, its wall-clock time,
/// its policy's executable, and the report explained with the policy file (or,
/// when that is not possible, the raw report and why).
public struct SandboxEvent: Sendable {
    public var record: ViolationRecord
    /// Nanoseconds since the Unix epoch (the record's CLOCK_BOOTTIME time moved to
    /// CLOCK_REALTIME with the offset between the clocks when it was read).
    public var time: Int64
    public var source: PolicySource?
    /// Always there; without a policy it names ids instead of functions.
    public var report: ViolationReport
    /// Why the report could not be explained with a policy, or nil.
    public var note: String?

    public init(record: ViolationRecord, time: Int64, source: PolicySource?, report: ViolationReport, note: String?) {
        self.record = record
        self.time = time
        self.source = source
        self.report = report
        self.note = note
    }

    /// What the monitor did: `killed` (a kill record) or `logged` (audit mode).
    public var action: String { record.killed ? "killed" : "logged" }

    /// The function the event happened in (the frame on top), if known.
    public var function: String? {
        if !report.functions.isEmpty { return report.functions.joined(separator: "|") }
        guard let top = report.stack.first else { return nil }
        if top.kind == "site", let callees = top.callees, !callees.isEmpty { return callees.joined(separator: "|") }
        return top.function
    }

    /// The event's source location: the call site of the event, else the call site
    /// of the frame it happened in.
    public var location: String? { report.event.location ?? report.stack.first?.location }

    /// One line of raw record fields, for a record that could not be explained.
    public var rawText: String {
        "reason \(record.reason) syscall \(record.syscall) kind \(record.kind) id \(record.id) tag 0x"
            + String(record.tag, radix: 16) + " mstate \(record.macroState) depth \(record.depth) flags 0x"
            + String(record.flags, radix: 16) + " seq \(record.sequence)"
    }

    /// The report as `sbx run` prints it, under a line with time, policy and executable.
    public var text: String {
        var out = "--- \(Self.isoTime(time)) policy \(record.policyID)"
        if let exe = source?.exe { out += " \(exe)" }
        if let path = source?.policyPath, note == nil { out += " (policy \(path))" }
        out += "\n"
        if let note {
            // Without the policy, nothing is known of what it allowed.
            out += report.text.split(separator: "\n", omittingEmptySubsequences: false)
                .filter { !$0.hasPrefix("  allowed:  nothing") }.joined(separator: "\n")
            out += "  note:     \(note)\n"
            out += "  record:   \(rawText)\n"
        } else {
            out += report.text
        }
        return out
    }

    /// The event as one JSON object (one line, keys in snake case).
    public var jsonLine: String {
        var fields: [(String, JSONValue)] = [
            ("time", .string(Self.isoTime(time))),
            ("time_ns", .int(time)),
            ("seq", .uint(record.sequence)),
            ("policy", .uint(UInt64(record.policyID))),
            ("exe", source?.exe.map(JSONValue.string) ?? .null),
            ("policy_file", note == nil ? source?.policyPath.map(JSONValue.string) ?? .null : .null),
            ("pid", .uint(UInt64(record.pid))),
            ("tid", .uint(UInt64(record.tid))),
            ("command", .string(record.command)),
            ("event", .string(report.event.description)),
            ("event_kind", .string(report.event.kind)),
            ("function", function.map(JSONValue.string) ?? .null),
            ("location", location.map(JSONValue.string) ?? .null),
            ("action", .string(action)),
            ("killed", .bool(record.killed)),
            ("reason", .string(report.reason)),
            ("reason_code", .uint(UInt64(record.reason))),
            ("stack", .array(report.stack.map { .string($0.description) })),
            ("stack_truncated", .bool(report.stackTruncated)),
            ("allowed", .array(report.allowed.map { .string($0.description) }))
        ]
        // Log mode: a thread that ended before the monitor found its place again.
        if let unchecked = report.uncheckedEvents { fields.append(("unchecked_events", .uint(unchecked))) }
        fields.append(("note", note.map(JSONValue.string) ?? .null))
        return JSONValue.object(fields).encoded
    }

    /// The journal entry's fields (journald's native protocol), in order.
    public var journalFields: [(String, String)] {
        var summary = "sbx: \(record.killed ? "KILLED" : "violation"): pid \(record.pid)"
        if !record.command.isEmpty { summary += " [\(record.command)]" }
        summary += ": \(report.reason): \(report.event.description)"
        if let function { summary += " in \(function)()" }
        if let location { summary += " at \(location)" }
        var fields: [(String, String)] = [
            ("MESSAGE", summary),
            // Like the kernel's line of a kill: warning; a logged deviation: notice.
            ("PRIORITY", record.killed ? "4" : "5"),
            ("SYSLOG_IDENTIFIER", "sbx"),
            ("SBX_POLICY", "\(record.policyID)")
        ]
        if let exe = source?.exe { fields.append(("SBX_EXE", exe)) }
        if let path = source?.policyPath, note == nil { fields.append(("SBX_POLICY_FILE", path)) }
        fields.append(("SBX_EVENT", report.event.description))
        fields.append(("SBX_EVENT_KIND", report.event.kind))
        if let function { fields.append(("SBX_FUNCTION", function)) }
        if let location { fields.append(("SBX_LOCATION", location)) }
        fields.append(("SBX_ACTION", action))
        fields.append(("SBX_REASON", report.reason))
        fields.append(("SBX_PID", "\(record.pid)"))
        fields.append(("SBX_TID", "\(record.tid)"))
        fields.append(("SBX_COMMAND", record.command))
        fields.append(("SBX_SEQ", "\(record.sequence)"))
        fields.append(("SBX_TIME", Self.isoTime(time)))
        if !report.stack.isEmpty {
            fields.append(("SBX_STACK", report.stack.map(\.description).joined(separator: "\n")))
        }
        if let note { fields.append(("SBX_NOTE", note)) }
        return fields
    }

    /// `2026-12-07T04:31:02.123Z`.
    public static func isoTime(_ nanoseconds: Int64) -> String {
        var seconds = time_t(nanoseconds / 1_000_000_000)
        let millis = Int((nanoseconds % 1_000_000_000) / 1_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let ms = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(ms)Z"
    }
}

/// journald's native protocol (systemd.journal-fields(7), "native protocol"): one
/// datagram per entry; a field is `NAME=value\n`, or, when the value holds a
/// newline, `NAME\n`, its length as a 64-bit little-endian integer, the value and
/// `\n`.
public enum JournalProtocol {
    public static let defaultSocket = "/run/systemd/journal/socket"

    public static func encode(_ fields: [(String, String)]) -> [UInt8] {
        var out: [UInt8] = []
        for (name, value) in fields {
            let bytes = Array(value.utf8)
            out += Array(name.utf8)
            if bytes.contains(UInt8(ascii: "\n")) {
                out.append(UInt8(ascii: "\n"))
                var length = UInt64(bytes.count).littleEndian
                withUnsafeBytes(of: &length) { out += $0 }
                out += bytes
            } else {
                out.append(UInt8(ascii: "="))
                out += bytes
            }
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    /// Sends one entry to the socket at `path`; the errno on failure.
    public static func send(_ fields: [(String, String)], socketPath path: String) -> Int32? {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return ENAMETOOLONG }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in pathBytes.enumerated() { raw[i] = b }
        }
        let datagram = encode(fields)
        let sent = datagram.withUnsafeBytes { raw in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, raw.baseAddress, raw.count, 0, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
        }
        return sent < 0 ? errno : nil
    }
}

/// A minimal JSON writer: the keys in the order given, one line.
public indirect enum JSONValue: Sendable {
    case string(String)
    case int(Int64)
    case uint(UInt64)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([(String, JSONValue)])

    public var encoded: String {
        switch self {
        case .string(let s): return Self.quote(s)
        case .int(let v): return "\(v)"
        case .uint(let v): return "\(v)"
        case .bool(let v): return v ? "true" : "false"
        case .null: return "null"
        case .array(let values): return "[" + values.map(\.encoded).joined(separator: ",") + "]"
        case .object(let fields):
            return "{" + fields.map { Self.quote($0.0) + ":" + $0.1.encoded }.joined(separator: ",") + "}"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

/// Reads the violation records of loaded policies from /dev/sbx and explains them.
/// Reading takes the records out of the kernel's queues: there is one reader of
/// each record (`specs/kernel-abi.md`, "Records").
public final class EventReader {
    public let device: SandboxDevice
    /// Every loaded policy's records (SBX_IOC_READ without SBX_READ_F_POLICY),
    /// those of running `sbx run`s too, which then miss them; otherwise only the
    /// policies of registry entries, each read with SBX_READ_F_POLICY.
    public let all: Bool
    /// Policy file and mode -> its macro-state machine (or why there is none).
    private var machines: [String: Result<MacroMachine, ExplainFailure>] = [:]
    /// Records lost per policy (the kernel's counters), as last reported.
    private var droppedSeen: [UInt32: UInt64] = [:]

    struct ExplainFailure: Error { var reason: String }

    public init(device: SandboxDevice, all: Bool) {
        self.device = device
        self.all = all
    }

    /// CLOCK_REALTIME minus CLOCK_BOOTTIME, in nanoseconds.
    public static func bootOffset() -> Int64 {
        var real = timespec(), boot = timespec()
        clock_gettime(CLOCK_REALTIME, &real)
        clock_gettime(CLOCK_BOOTTIME, &boot)
        return (Int64(real.tv_sec) - Int64(boot.tv_sec)) * 1_000_000_000 + Int64(real.tv_nsec) - Int64(boot.tv_nsec)
    }

    /// The policy id -> where its policy file is, for installed policies and the
    /// policies of live enforced processes.
    func sources(installed: [InstalledPolicy]) -> [UInt32: PolicySource] {
        var out: [UInt32: PolicySource] = [:]
        let remembered = Registry.remembered()
        for entry in installed {
            let known = remembered[Registry.key(device: entry.device, inode: entry.inode)]
            let exe = known?.path
            out[entry.policyID] = PolicySource(
                exe: exe, policyPath: known?.policy ?? exe.map { $0 + ".dyck" },
                mode: BlobMode(rawValue: entry.mode) ?? .dyck, installed: true)
        }
        if all, let threads = try? device.threads() {
            for t in threads where !t.unconfined && out[t.policyID] == nil {
                var buffer = [CChar](repeating: 0, count: 4096)
                let n = readlink("/proc/\(t.pid)/exe", &buffer, buffer.count - 1)
                guard n > 0 else { continue }
                let exe = String(decoding: buffer[..<Int(n)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                out[t.policyID] = PolicySource(
                    exe: exe, policyPath: exe + ".dyck",
                    mode: BlobMode(rawValue: t.mode) ?? .dyck, installed: false)
            }
        }
        return out
    }

    /// Takes the records waiting and explains them, oldest first. `lost` lists the
    /// policies (0: all, with `all`) whose count of lost records grew since the
    /// last call, with the new count.
    public func read() throws -> (events: [SandboxEvent], lost: [(policy: UInt32, dropped: UInt64)]) {
        let installed = try device.installed()
        let sources = self.sources(installed: installed)
        var records: [ViolationRecord] = []
        var lost: [(UInt32, UInt64)] = []
        func noteDropped(_ policy: UInt32, _ dropped: UInt64) {
            if dropped > (droppedSeen[policy] ?? 0) { lost.append((policy, dropped)) }
            droppedSeen[policy] = dropped
        }
        if all {
            let (taken, dropped) = try device.readRecords()
            records = taken
            noteDropped(0, dropped)
        } else {
            for id in Set(installed.map(\.policyID)).sorted() {
                let (taken, dropped) = try device.readRecords(policyID: id)
                records += taken
                noteDropped(id, dropped)
            }
        }
        records.sort { $0.sequence < $1.sequence }
        let offset = Self.bootOffset()
        let events = records.map { record -> SandboxEvent in
            let source = sources[record.policyID]
            let time = offset + Int64(record.timeNanoseconds)
            switch machine(for: source, policyID: record.policyID) {
            case .success(let machine):
                return SandboxEvent(
                    record: record, time: time, source: source,
                    report: ViolationReport(record: record, machine: machine), note: nil)
            case .failure(let failure):
                return SandboxEvent(
                    record: record, time: time, source: source,
                    report: ViolationReport(record: record, machine: nil), note: failure.reason)
            }
        }
        return (events, lost)
    }

    private func machine(for source: PolicySource?, policyID: UInt32) -> Result<MacroMachine, ExplainFailure> {
        guard let source else {
            return .failure(
                ExplainFailure(
                    reason: "policy \(policyID) is neither installed nor used by a live process: "
                        + "its policy file is not known (raw record below)"))
        }
        guard let exe = source.exe, let path = source.policyPath else {
            return .failure(
                ExplainFailure(
                    reason: "the executable of policy \(policyID) is not remembered "
                        + "(installed by another tool?): its policy file is not known"))
        }
        let key = "\(source.mode.rawValue)\t\(exe)\t\(path)"
        if let cached = machines[key] { return cached }
        let result: Result<MacroMachine, ExplainFailure>
        do {
            let fd = try SandboxRun.openProgram(exe)
            defer { close(fd) }
            // The policy must still be the executable's (its digest): else the
            // states of the record are not this file's.
            let policy = try SandboxRun.loadPolicy(path: path, program: exe, exeFD: fd)
            result = .success(try MacroMachine(policy: policy, mode: source.mode))
        } catch RunError.policyMissing {
            result = .failure(ExplainFailure(reason: "cannot explain it: its policy file \(path) does not exist"))
        } catch let error as RunError {
            result = .failure(
                ExplainFailure(
                    reason: "cannot explain it with \(path): \(SandboxRun.strip(error.description, path: path))"))
        } catch {
            result = .failure(ExplainFailure(reason: "cannot explain it with \(path): \(error)"))
        }
        machines[key] = result
        return result
    }
}

/// `--since`: N (seconds ago), Nm/Nh/Nd, @EPOCH, or an ISO 8601 date
/// (`2026-12-07`, `2026-12-07T04:30:00`, with `Z` or `+HH:MM`, else local time).
/// Returns nanoseconds since the Unix epoch.
public func parseSinceTime(_ text: String, now: Int64) -> Int64? {
    if text == "now" { return now }
    if text.hasPrefix("@"), let seconds = Double(text.dropFirst()) { return Int64(seconds * 1e9) }
    let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
    if let last = text.last, let unit = units[last], let value = Double(text.dropLast()), value >= 0 {
        return now - Int64(value * unit * 1e9)
    }
    if let value = Double(text), value >= 0 { return now - Int64(value * 1e9) }
    // ISO 8601.
    var body = Substring(text)
    var zoneOffset: Int? = nil
    if body.hasSuffix("Z") {
        zoneOffset = 0
        body = body.dropLast()
    } else if body.count > 6, let sign = body.dropLast(5).last, sign == "+" || sign == "-",
        body.suffix(5).dropFirst(2).first == ":"
    {
        let hh = Int(body.suffix(5).prefix(2)), mm = Int(body.suffix(2))
        guard let hh, let mm else { return nil }
        zoneOffset = (sign == "+" ? 1 : -1) * (hh * 3600 + mm * 60)
        body = body.dropLast(6)
    }
    let dateTime = body.split(maxSplits: 1, whereSeparator: { $0 == "T" || $0 == " " })
    guard let datePart = dateTime.first else { return nil }
    let date = datePart.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
    guard date.count == 3, let year = date[0], let month = date[1], let day = date[2],
        (1...12).contains(month), (1...31).contains(day)
    else { return nil }
    var hour = 0, minute = 0
    var second = 0.0
    if dateTime.count == 2 {
        let clock = dateTime[1].split(separator: ":", omittingEmptySubsequences: false)
        guard clock.count >= 2, clock.count <= 3, let h = Int(clock[0]), let m = Int(clock[1]),
            (0...23).contains(h), (0...59).contains(m)
        else { return nil }
        hour = h
        minute = m
        if clock.count == 3 {
            guard let s = Double(clock[2]), s >= 0, s < 61 else { return nil }
            second = s
        }
    }
    var parts = tm()
    parts.tm_year = Int32(year - 1900)
    parts.tm_mon = Int32(month - 1)
    parts.tm_mday = Int32(day)
    parts.tm_hour = Int32(hour)
    parts.tm_min = Int32(minute)
    parts.tm_sec = 0
    parts.tm_isdst = -1
    let whole: time_t
    if let zoneOffset {
        whole = timegm(&parts) - time_t(zoneOffset)
    } else {
        whole = mktime(&parts)
    }
    guard whole != -1 else { return nil }
    return Int64(whole) * 1_000_000_000 + Int64(second * 1e9)
}
