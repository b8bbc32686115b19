import SbxSystem
import CSbxDevice
import DyckModel
import SbxBlob
import SbxCLI
#if canImport(Glibc)
import Glibc
#endif

/// What `sbx run` does: load the program's policy into the kernel, arm a child bound
/// to the program's inode, exec it, wait, and collect the violations of its policy.
public struct SandboxRun {
    public var program: String
    public var arguments: [String]
    /// nil: the program's path + ".dyck".
    public var policyPath: String?
    public var mode: BlobMode
    public var action: EnforcementAction
    /// What the program's execs do: the installed policy or refused (`registry`),
    /// always refused (`deny`), the installed policy or no policy (`unconfined`).
    public var exec: ExecTransition
    public var devicePath: String
    /// The capabilities the program keeps (of those `sbx run` has); nil: all.
    /// Whatever this is, the program runs with PR_SET_NO_NEW_PRIVS.
    public var capabilities: CapabilitySet?
    /// The monitor stack's bounds the blob carries.
    public var bounds: StackBounds

    public init(
        program: String, arguments: [String], policyPath: String? = nil, mode: BlobMode = .dyck,
        action: EnforcementAction = .kill, exec: ExecTransition = .registry,
        devicePath: String = SandboxDevice.defaultPath, capabilities: CapabilitySet? = nil,
        bounds: StackBounds = StackBounds()
    ) {
        self.bounds = bounds
        self.program = program
        self.arguments = arguments
        self.policyPath = policyPath
        self.mode = mode
        self.action = action
        self.exec = exec
        self.devicePath = devicePath
        self.capabilities = capabilities
    }

    /// How the run ended.
    public struct Outcome: Sendable {
        /// The program's process id (the records name processes by it).
        public var programPID: UInt32
        /// The program's exit status, or 128+n when signal n ended it.
        public var programStatus: Int32
        public var signal: Int32?
        public var reports: [ViolationReport]
        public var records: [ViolationRecord]
        /// Records of the run's policy that were lost (log records: a kill record is
        /// never dropped). With a module before ABI 4: all policies' (see below).
        public var recordsDropped: UInt64
        /// `recordsDropped` counts only this run's policy (ABI 4 and later).
        public var recordsDroppedArePerPolicy: Bool
        /// The policy could not be unloaded: processes of the run still use it.
        public var policyStillLoaded: Bool
        public var resolvedProgram: String
        public var policyPath: String

        /// The program's resources (wait4: its own and its reaped children's), and the
        /// wall time from fork to its end.
        public var userMicroseconds: UInt64
        public var systemMicroseconds: UInt64
        public var wallNanoseconds: UInt64
        /// Markers the module checked during the run (its global counter's change:
        /// exact when no other sandboxed process ran meanwhile).
        public var markers: UInt64?

        /// The monitor killed the program itself (it died of SIGKILL and a kill record
        /// names its process). Record pids are the initial pid namespace's: run sbx
        /// there for this to tell the program from its descendants.
        public var killedByMonitor: Bool {
            signal == SIGKILL && records.contains { $0.killed && $0.pid == programPID }
        }
        /// Processes the program started that the monitor killed, in record order, once each.
        public var killedDescendants: [ViolationRecord] {
            var seen = Set<UInt32>()
            return records.filter { $0.killed && $0.pid != programPID && seen.insert($0.pid).inserted }
        }
        public var exeMismatch: Bool { records.contains { $0.isExeMismatch } }
    }

    /// A program named without a slash is looked up in PATH, as execvp would.
    public static func resolve(_ program: String) throws -> String {
        if program.contains("/") {
            guard access(program, F_OK) == 0 else { throw RunError.programNotFound(program) }
            return program
        }
        guard let found = Executables.find(program) else { throw RunError.programNotFound(program) }
        return found
    }

    /// The policy checked against the program open on `exeFD`.
    static func loadPolicy(path: String, program: String, exeFD: Int32) throws -> Policy {
        try loadPolicyWithBytes(path: path, program: program, exeFD: exeFD).policy
    }

    /// A policy, its file's bytes, and the program's pinned marker sites: what the
    /// kernel enforces on the program open on `exeFD`.
    struct Enforced {
        var policy: Policy
        var bytes: [UInt8]
        var pins: BlobPins
        /// The program's event buffer (`.sbx_evbuf`), if it buffers events.
        var eventBuffer: BlobEventBuffer?
    }

    /// A policy file bound to the program open on `exeFD`: its bytes, whose digest
    /// the program records (checked), and the program's pinned marker sites (read, not
    /// yet checked against the parsed policy). All `sbx run`'s blob cache is keyed by.
    struct Bound {
        var path: String
        var program: String
        var bytes: [UInt8]
        /// SHA-256 of `bytes` (the program records the same).
        var digest: [UInt8]
        var table: PinnedSiteTable
        /// The program's event buffer (`.sbx_evbuf`), if it buffers events.
        var eventBuffer: EventBufferSection?
    }

    /// Reads the policy file and the program's site table and checks the program's
    /// policy digest, without parsing the policy: a cached blob is found from this
    /// alone. Errors as `loadEnforced`.
    static func bind(path: String, program: String, exeFD: Int32, given: Bool = true) throws -> Bound {
        // An uninstrumented program is the more basic problem: say so first.
        _ = try ExecutableBinding.recordedDigest(fd: exeFD, program: program)
        guard access(path, F_OK) == 0 else { throw RunError.policyMissing(path: path, program: program, given: given) }
        let bytes: [UInt8]
        do {
            bytes = try Policy.readBytes(path: path)
        } catch {
            throw RunError.policyUnusable(path: path, reason: Self.strip(error.description, path: path))
        }
        let digest: [UInt8]
        do {
            digest = try ExecutableBinding.check(fd: exeFD, program: program, policyPath: path, policyBytes: bytes)
        } catch {
            // A file that is no policy at all is reported as such, as when it was
            // parsed before its digest was compared.
            _ = try parse(bytes, path: path)
            throw error
        }
        let table: PinnedSiteTable
        do {
            table = try PinnedSiteTable.read(fd: exeFD, program: program)
        } catch RunError.notInstrumented(_, let reason) {
            // It records the policy's digest, so it claims to be built with it: a
            // program without a valid table of its own markers was not (an
            // uninstrumented build with a copied .sbx_policy section, say).
            throw RunError.wrongPolicy(
                program: program, policy: path,
                reason: "its marker sites do not match it: \(reason) (build it with dyck-cc)")
        }
        let eventBuffer = try EventBufferSection.read(fd: exeFD, program: program)
        return Bound(path: path, program: program, bytes: bytes, digest: digest, table: table, eventBuffer: eventBuffer)
    }

    static func parse(_ bytes: [UInt8], path: String) throws -> Policy {
        do {
            return try Policy.parse(bytes: bytes, path: path)
        } catch {
            throw RunError.policyUnusable(path: path, reason: Self.strip(error.description, path: path))
        }
    }

    /// The bound policy parsed, its pinned sites checked against it (every site a
    /// `syscall` instruction of the file, every id in the policy's ranges). A policy
    /// without system-call sets cannot bind the program's system calls: refused.
    static func enforce(_ bound: Bound) throws -> Enforced {
        let policy = try parse(bound.bytes, path: bound.path)
        try bound.table.check(against: policy, policyPath: bound.path)
        guard policy.syscalls != nil else {
            throw RunError.policyUnusable(
                path: bound.path,
                reason: "it has no system-call sets (a policy file of version 1): rebuild the program with this dyck-cc"
            )
        }
        return Enforced(
            policy: policy, bytes: bound.bytes, pins: bound.table.blobPins,
            eventBuffer: bound.eventBuffer.flatMap { $0.blobEventBuffer(for: policy) })
    }

    /// The policy checked against the program open on `exeFD` (its digest), with
    /// the program's pinned marker sites checked against both.
    static func loadEnforced(path: String, program: String, exeFD: Int32, given: Bool = true) throws -> Enforced {
        try enforce(bind(path: path, program: program, exeFD: exeFD, given: given))
    }

    static func loadPolicyWithBytes(path: String, program: String, exeFD: Int32, given: Bool = true) throws -> (
        policy: Policy, bytes: [UInt8]
    ) {
        // An uninstrumented program is the more basic problem: say so first.
        _ = try ExecutableBinding.recordedDigest(fd: exeFD, program: program)
        guard access(path, F_OK) == 0 else { throw RunError.policyMissing(path: path, program: program, given: given) }
        let loaded: (policy: Policy, bytes: [UInt8])
        do {
            loaded = try Policy.loadWithBytes(path: path)
        } catch {
            throw RunError.policyUnusable(path: path, reason: Self.strip(error.description, path: path))
        }
        try ExecutableBinding.check(fd: exeFD, program: program, policyPath: path, policyBytes: loaded.bytes)
        return loaded
    }

    static func strip(_ message: String, path: String) -> String {
        message.hasPrefix(path + ": ") ? String(message.dropFirst(path.count + 2)) : message
    }

    /// Opens the program for the inode binding; 126 when it is no regular,
    /// executable file.
    static func openProgram(_ path: String) throws -> Int32 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT { throw RunError.programNotFound(path) }
            throw RunError.programNotExecutable(program: path, reason: errnoText(code))
        }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw RunError.programNotExecutable(program: path, reason: "not a regular file")
        }
        guard access(path, X_OK) == 0 else {
            close(fd)
            throw RunError.programNotExecutable(program: path, reason: "permission denied")
        }
        return fd
    }

    /// Compiles the policy for the kernel in `mode`, with the program's pins.
    static func blob(
        _ policy: Policy, mode: BlobMode, path: String, pins: BlobPins?, eventBuffer: BlobEventBuffer? = nil,
        bounds: StackBounds
    ) throws -> [UInt8] {
        do {
            return try buildBlob(
                policy: policy, mode: mode, stackLimit: bounds.stackLimit, maxDepth: bounds.maxDepth,
                pins: pins, eventBuffer: eventBuffer)
        } catch {
            throw RunError.policyUnusable(path: path, reason: "cannot compile it for the kernel: \(error)")
        }
    }

    /// Where compiled blobs are kept: compiling a large program's policy (nfa mode
    /// flattens it) takes seconds, which every run would otherwise pay.
    /// `SBX_BLOB_CACHE` names the directory (empty: no cache); default
    /// `$XDG_CACHE_HOME/sbx/blobs` or `~/.cache/sbx/blobs`. The kernel validates every
    /// blob it is given, cached or not.
    public static var blobCacheDirectory: String? {
        if let dir = getenv("SBX_BLOB_CACHE") {
            let value = String(cString: dir)
            return value.isEmpty ? nil : value
        }
        if let xdg = getenv("XDG_CACHE_HOME"), xdg.pointee != 0 { return String(cString: xdg) + "/sbx/blobs" }
        if let home = getenv("HOME"), home.pointee != 0 { return String(cString: home) + "/.cache/sbx/blobs" }
        return nil
    }

    /// Names the `sbx` that compiles blobs: the first 6 bytes of the SHA-256 of its
    /// version text ("0.9.0 (commit 1a2b3c4d5e6f)"), so that an upgrade never serves
    /// a blob an older (possibly buggy) compiler made. Builds that do not know their
    /// commit ("commit unknown") share one tag.
    public static var blobCompilerTag: String {
        ExecutableBinding.hex(SHA256.hash(Array(ToolVersion.text.utf8)).prefix(6))
    }

    /// The cache file of a blob: named by contents (the policy file's SHA-256
    /// `policyDigest`, as the program records it,
    /// the pinned sites' as the blob encodes them, the mode, the stack bounds and the
    /// blob format's version, and the offset of the program's event buffer if it has one:
    /// the buffer's flags follow from the policy) and by the compiler (`compiler`,
    /// `blobCompilerTag`), never by a path, inode or time, so that an entry made on
    /// one machine (`sbx blob --cache`) is found on another that runs the same files
    /// with the same `sbx`.
    public static func blobCacheFile(
        directory: String, policyDigest: [UInt8], pins: BlobPins, eventBuffer: EventBufferSection?, mode: BlobMode,
        bounds: StackBounds, compiler: String = blobCompilerTag
    ) -> String {
        var pinsKey = pins.encoded
        if let buffer = eventBuffer {
            pinsKey += (0..<8).map { UInt8(truncatingIfNeeded: UInt64(bitPattern: buffer.tpoff) >> (8 * UInt64($0))) }
        }
        let key =
            ExecutableBinding.hex(policyDigest) + "-"
            + ExecutableBinding.hex(SHA256.hash(pinsKey).prefix(16))
        return
            "\(directory)/\(key)-\(mode.rawValue)-s\(bounds.stackLimit)-d\(bounds.maxDepth)-v\(BlobLimits.version)"
            + "-c\(compiler).blob"
    }

    /// The blob of a bound policy, from the cache when it is there (then the policy is
    /// not even parsed: `enforced` is nil); else compiled from the parsed and checked
    /// policy and written to the cache (best effort, atomically). An entry is only
    /// ever written after those checks, for the same policy bytes and pins.
    static func cachedBlob(_ bound: Bound, mode: BlobMode, bounds: StackBounds, directory: String?) throws -> (
        blob: [UInt8], enforced: Enforced?
    ) {
        guard let directory else {
            let enforced = try enforce(bound)
            let blob = try blob(
                enforced.policy, mode: mode, path: bound.path, pins: enforced.pins, eventBuffer: enforced.eventBuffer,
                bounds: bounds)
            return (blob, enforced)
        }
        let file = blobCacheFile(
            directory: directory, policyDigest: bound.digest, pins: bound.table.blobPins,
            eventBuffer: bound.eventBuffer,
            mode: mode, bounds: bounds)
        if let cached = try? FileBytes.read(file, limit: BlobLimits.maxSize), !cached.isEmpty { return (cached, nil) }
        let enforced = try enforce(bound)
        let compiled = try blob(
            enforced.policy, mode: mode, path: bound.path, pins: enforced.pins, eventBuffer: enforced.eventBuffer,
            bounds: bounds)
        var prefix = directory.hasPrefix("/") ? "" : "."
        for part in directory.split(separator: "/") {
            prefix += "/" + part
            mkdir(prefix, 0o700)
        }
        try? AtomicFile.write(compiled, to: file)
        return (compiled, enforced)
    }

    /// `sbx blob --cache`: puts the blob `sbx run --mode mode` would load for `program`
    /// into the cache `directory`, compiling it unless it is there. Returns the entry's
    /// file and whether it was compiled.
    public static func seedBlobCache(
        policyPath: String, program: String, mode: BlobMode, bounds: StackBounds, directory: String
    ) throws -> (file: String, compiled: Bool) {
        let exeFD = try openProgram(program)
        defer { close(exeFD) }
        let bound = try bind(path: policyPath, program: program, exeFD: exeFD)
        let file = blobCacheFile(
            directory: directory, policyDigest: bound.digest, pins: bound.table.blobPins,
            eventBuffer: bound.eventBuffer,
            mode: mode, bounds: bounds)
        let (_, enforced) = try cachedBlob(bound, mode: mode, bounds: bounds, directory: directory)
        guard access(file, R_OK) == 0 else {
            throw RunError.policyUnusable(path: policyPath, reason: "cannot write the cache entry \(file)")
        }
        return (file, enforced != nil)
    }

    /// Explains records; the machine (the blob's macro-states) is rebuilt only when
    /// there is something to explain.
    static func reports(_ records: [ViolationRecord], enforced: Enforced?, bound: Bound, mode: BlobMode)
        -> [ViolationReport]
    {
        guard !records.isEmpty else { return [] }
        // A run whose blob came from the cache parses its policy only now.
        guard let policy = enforced?.policy ?? (try? parse(bound.bytes, path: bound.path)) else {
            return records.map { ViolationReport(record: $0, machine: nil) }
        }
        let machine = try? MacroMachine(policy: policy, mode: mode)
        return records.map { ViolationReport(record: $0, machine: machine) }
    }

    public func run() throws -> Outcome {
        let resolved = try Self.resolve(program)
        let exeFD = try Self.openProgram(resolved)
        defer { close(exeFD) }
        let policyFile = policyPath ?? resolved + ".dyck"
        let bound = try Self.bind(path: policyFile, program: resolved, exeFD: exeFD, given: policyPath != nil)
        let (blob, enforced) = try Self.cachedBlob(
            bound, mode: mode, bounds: bounds, directory: Self.blobCacheDirectory)

        let device = try SandboxDevice(path: devicePath)
        // Owned: if sbx dies, or the program leaves processes behind (a daemon), the
        // kernel unloads the policy once the last of them is gone.
        let owned = ((try? device.status())?.abiVersion ?? 0) >= 5
        let policyID = try device.load(blob: blob, owned: owned)
        var arm = sbx_ioc_arm()
        arm.id = policyID
        arm.mode = mode == .nfa ? UInt32(SBX_MODE_NFA) : UInt32(SBX_MODE_DYCK)
        arm.action = action.kernelValue
        arm.flags = UInt32(SBX_ARM_F_EXE)
        arm.exe_fd = exeFD
        arm.exec = exec.kernelValue

        // Ctrl-C and Ctrl-\\ reach the program through the terminal's process group;
        // sbx itself stays to report.
        let oldInt = signal(SIGINT, SIG_IGN)
        let oldQuit = signal(SIGQUIT, SIG_IGN)
        defer {
            signal(SIGINT, oldInt)
            signal(SIGQUIT, oldQuit)
        }
        var stage: Int32 = 0
        var code: Int32 = 0
        let statusBefore = try? device.status()
        let markersBefore = statusBefore?.markers
        var start = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        let argv = [program] + arguments
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) } }
        var privs = sbx_spawn_privs()
        privs.drop_caps = capabilities == nil ? 0 : 1
        privs.keep_caps = capabilities?.bits ?? 0
        let pid = sbx_spawn_armed(device.fd, &arm, resolved, &cArgs, &privs, &stage, &code)
        guard pid > 0 else {
            _ = try? device.unload(id: policyID)
            if stage == Int32(SBX_SPAWN_ARM.rawValue) {
                if code == EPERM { throw RunError.notPrivileged(device: devicePath, operation: "arm") }
                throw RunError.spawnFailed(program: resolved, operation: "arm", errno: code)
            }
            if stage == Int32(SBX_SPAWN_PRIVS.rawValue) {
                throw RunError.spawnFailed(program: resolved, operation: "dropping privileges", errno: code)
            }
            if stage == Int32(SBX_SPAWN_EXEC.rawValue) {
                if code == ENOENT { throw RunError.programNotFound(resolved) }
                throw RunError.programNotExecutable(program: resolved, reason: errnoText(code))
            }
            throw RunError.spawnFailed(program: resolved, operation: "fork", errno: code)
        }
        // A service manager's SIGTERM, or a kill(1) of sbx, reaches the program.
        _ = sbx_forward_signals(pid)
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        sbx_forward_stop()
        var end = timespec()
        clock_gettime(CLOCK_MONOTONIC, &end)
        let markersAfter = try? device.status().markers
        let wall = (Int64(end.tv_sec) - Int64(start.tv_sec)) * 1_000_000_000 + Int64(end.tv_nsec) - Int64(start.tv_nsec)
        func micros(_ t: timeval) -> UInt64 { UInt64(max(0, Int64(t.tv_sec) * 1_000_000 + Int64(t.tv_usec))) }
        let ended = WaitStatus(rawValue: status)

        let (records, dropped) = try device.readRecords(policyID: policyID)
        let unloaded = (try? device.unload(id: policyID)) ?? false
        return Outcome(
            programPID: UInt32(pid), programStatus: ended.shellStatus, signal: ended.signal,
            reports: Self.reports(records, enforced: enforced, bound: bound, mode: mode), records: records,
            recordsDropped: dropped, recordsDroppedArePerPolicy: (statusBefore?.abiVersion ?? 0) >= 4,
            policyStillLoaded: !unloaded, resolvedProgram: resolved, policyPath: policyFile,
            userMicroseconds: micros(usage.ru_utime), systemMicroseconds: micros(usage.ru_stime),
            wallNanoseconds: UInt64(max(0, wall)),
            markers: markersBefore.flatMap { b in markersAfter.map { $0 >= b ? $0 - b : 0 } })
    }
}

extension PinnedSiteTable {
    /// The table as the kernel's blob holds it.
    public var blobPins: BlobPins {
        BlobPins(
            tableVaddr: tableVaddr, textVaddr: execTextVaddr,
            sites: sites.map { BlobPins.Site(vaddr: $0.vaddr, kind: $0.kind, id: $0.id) })
    }
}
