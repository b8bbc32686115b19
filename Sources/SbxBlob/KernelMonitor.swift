import CSbxCore
import DyckModel

/// A policy blob accepted by the kernel's own validator (`kmod/core/sbx_blob.c`),
/// held in memory that stays put while monitors step it.
public final class KernelPolicy: @unchecked Sendable {
    let storage: UnsafeMutableRawBufferPointer
    /// Written once by the validator, then only read (by any number of threads).
    let view: UnsafeMutablePointer<sbx_policy_view>

    /// Validates `blob` with the C core; throws `BlobError.invalidBlob` with its
    /// errno (EINVAL or E2BIG) if the kernel would refuse it.
    public init(blob: [UInt8]) throws {
        storage = .allocate(byteCount: max(blob.count, 1), alignment: 8)
        storage.copyBytes(from: blob)
        view = .allocate(capacity: 1)
        view.initialize(to: sbx_policy_view())
        let err = sbx_blob_validate(storage.baseAddress, UInt64(blob.count), view)
        // Throwing here still runs deinit, which frees the storage.
        if err != 0 { throw BlobError.invalidBlob(errno: -err) }
    }

    deinit {
        view.deallocate()
        storage.deallocate()
    }

    public var stackLimit: Int { Int(view.pointee.stack_limit) }
    public var maxDepth: Int { Int(view.pointee.max_depth) }
    public var macroStateCount: Int { Int(view.pointee.nr_mstates) }
    public var transitionCount: Int { Int(view.pointee.nr_trans) }
    /// The flattened model (`BlobMode.nfa`): site markers in range change nothing.
    public var isNFA: Bool { view.pointee.flags & SBX_BLOB_F_NFA != 0 }
    /// Ranges of the marker ids, in both modes those of the policy the program was
    /// instrumented for.
    public var symbolCount: Int { Int(view.pointee.nr_symbols) }
    public var functionCount: Int { Int(view.pointee.nr_functions) }
    public var siteCount: Int { Int(view.pointee.nr_sites) }
    public var callbackCount: Int { Int(view.pointee.nr_callbacks) }
    /// Whether the blob has the names section (`sbx_blob_names`).
    public var hasNames: Bool { view.pointee.nr_names != 0 }
    /// Whether the program buffers events (`SBX_BLOB_F_BUFFERED`).
    public var isBuffered: Bool { view.pointee.flags & SBX_BLOB_F_BUFFERED != 0 }
    /// The buffer's thread-pointer offset; 0 without `SBX_BLOB_F_BUFFERED`.
    public var eventBufferOffset: Int64 { Int64(bitPattern: view.pointee.evbuf_tpoff) }

    /// The name the kernel log gives symbol `symbol` (`sbx_blob_symbol_name`).
    public func symbolName(_ symbol: UInt64) -> String? {
        sbx_blob_symbol_name(view, symbol).map { String(cString: $0) }
    }

    /// The name the kernel log gives the function of a frame tagged `tag`
    /// (`sbx_blob_frame_name`): the root's, a site's only callee, a callback.
    public func frameName(tag: UInt32) -> String? {
        sbx_blob_frame_name(view, tag).map { String(cString: $0) }
    }
}

/// Why the kernel's monitor refused a marker (`enum sbx_reason` of kmod/core, whose
/// values are the ABI's SBX_REASON_* numbers): each case's raw value is the C
/// enumerator, so the numbers are defined once.
public enum KernelRefusal: Sendable, CaseIterable, RawRepresentable {
    case unknownKind
    case idOutOfRange
    case notAllowedHere
    case returnToWrongSite
    case cannotReturnYet
    case notACallback
    case stackOverflow
    case noSetjmpRecord
    case badState
    /// A system call in neither its window's set nor the ambient set.
    case systemCallOutsideWindow
    /// `PROT_EXEC` in a window whose set may not map code.
    case executableMapping
    /// A marker that is not the pinned site its `rdx` names.
    case unpinnedMarker
    /// No slot left for a frame entry or a setjmp record (`stack_limit`).
    case storeFull
    /// A buffered event that may not come from the buffer (`SBX_V_BUFFER`, reason 29).
    case bufferedEvent

    public var rawValue: Int {
        let reason: sbx_reason
        switch self {
        case .unknownKind: reason = SBX_V_UNKNOWN_KIND
        case .idOutOfRange: reason = SBX_V_ID_RANGE
        case .notAllowedHere: reason = SBX_V_NOT_ALLOWED
        case .returnToWrongSite: reason = SBX_V_WRONG_RETURN
        case .cannotReturnYet: reason = SBX_V_CANNOT_RETURN
        case .notACallback: reason = SBX_V_NOT_CALLBACK
        case .stackOverflow: reason = SBX_V_STACK_OVERFLOW
        case .noSetjmpRecord: reason = SBX_V_NO_SETJMP
        case .badState: reason = SBX_V_BAD_STATE
        case .systemCallOutsideWindow: reason = SBX_V_SYSCALL_WINDOW
        case .executableMapping: reason = SBX_V_EXEC_MAPPING
        case .unpinnedMarker: reason = SBX_V_UNPINNED
        case .storeFull: reason = SBX_V_STORE_FULL
        case .bufferedEvent: reason = SBX_V_BUFFER
        }
        return Int(reason.rawValue)
    }

    public init?(rawValue: Int) {
        guard let found = Self.allCases.first(where: { $0.rawValue == rawValue }) else { return nil }
        self = found
    }
}

/// The window of a thread: which libc call's system calls it may make now.
public enum KernelWindow: Hashable, Sendable {
    /// From exec to the first marker: the loader and libc's start-up.
    case start
    /// Program code: the ambient set only.
    case none
    /// The libc function of the last `LIBC` marker (its symbol id).
    case libc(Int)

    init(raw: UInt32) {
        switch raw {
        case SBX_WINDOW_START: self = .start
        case SBX_WINDOW_NONE: self = .none
        default: self = .libc(Int(raw))
        }
    }
}

/// The kind of a frame of the kernel monitor's stack. Ids are the markers' (the
/// instrumented policy's), in nfa mode too, where there are no site frames.
public enum KernelFrameKind: Hashable, Sendable {
    case root
    case site(Int)
    case callback(Int)

    init(tag: UInt32) {
        let id = Int(tag & SBX_FRAME_ID_MASK)
        switch tag & SBX_FRAME_KIND_MASK {
        case SBX_FRAME_SITE: self = .site(id)
        case SBX_FRAME_CALLBACK: self = .callback(id)
        default: self = .root
        }
    }
}

/// A refused marker and where the thread was (`struct sbx_violation`).
public struct KernelViolation: Hashable, Sendable {
    public var refusal: KernelRefusal
    public var top: KernelFrameKind
    public var macroState: Int
    public var depth: Int
}

/// One thread's monitor, stepped by the very C code the kernel runs
/// (`kmod/core/sbx_monitor.c`), so that offline replay matches enforcement. With an
/// nfa blob it agrees with `ThreadMonitor` on the flattened policy stepped through
/// `FlattenedMarkers`, as `sbx check --mode nfa` does.
public final class KernelMonitor: @unchecked Sendable {
    public let policy: KernelPolicy
    let slots: UnsafeMutablePointer<sbx_slot>
    var thread = sbx_thread()

    /// A thread of a freshly exec'd program, or (`newThread`) a new thread of a
    /// running process, which may only enter a callback and runs in the window of
    /// `creator` (the thread that made the clone), if given.
    public init(policy: KernelPolicy, newThread: Bool = false, creator: KernelMonitor? = nil) {
        self.policy = policy
        let capacity = policy.view.pointee.stack_limit
        slots = .allocate(capacity: Int(capacity))
        let err =
            newThread
            ? sbx_thread_init_new_thread(policy.view, &thread, slots, capacity)
            : sbx_thread_init(policy.view, &thread, slots, capacity)
        precondition(err == 0, "sbx_thread_init: \(err)")
        if newThread, let creator {
            withUnsafePointer(to: &creator.thread) { sbx_thread_inherit_window(policy.view, &thread, $0) }
        }
    }

    /// A forked child: a copy of `parent`'s state.
    public init(copying parent: KernelMonitor) {
        policy = parent.policy
        let capacity = policy.view.pointee.stack_limit
        slots = .allocate(capacity: Int(capacity))
        let err = withUnsafePointer(to: &parent.thread) { sbx_thread_copy(&thread, slots, capacity, $0) }
        precondition(err == 0, "sbx_thread_copy: \(err)")
    }

    deinit { slots.deallocate() }

    /// Feeds one marker (raw kind and id, as the registers carry them); nil if it
    /// is allowed. On a violation the state is left as it was.
    public func step(kind: Int, id: Int) -> KernelViolation? {
        step(kind: UInt64(bitPattern: Int64(kind)), id: UInt64(bitPattern: Int64(id)))
    }

    public func step(_ marker: Marker) -> KernelViolation? {
        step(kind: marker.kind, id: marker.id)
    }

    public func step(kind: UInt64, id: UInt64) -> KernelViolation? {
        var out = sbx_violation()
        let refused = sbx_step(policy.view, &thread, kind, id, &out)
        guard refused != 0 else { return nil }
        return KernelViolation(
            refusal: KernelRefusal(rawValue: Int(out.reason)) ?? .badState,
            top: KernelFrameKind(tag: out.tag), macroState: Int(out.mstate), depth: Int(out.depth))
    }

    /// Replays one buffered event word (`sbx_evbuf_step`): as the marker of its kind
    /// and id, after the buffer's own rule (`KernelRefusal.bufferedEvent`).
    public func stepBuffered(word: UInt64) -> KernelViolation? {
        var out = sbx_violation()
        guard sbx_evbuf_step(policy.view, &thread, word, &out) != 0 else { return nil }
        return KernelViolation(
            refusal: KernelRefusal(rawValue: Int(out.reason)) ?? .badState,
            top: KernelFrameKind(tag: out.tag), macroState: Int(out.mstate), depth: Int(out.depth))
    }

    /// The events a drain takes from a buffer's `SBX_EVBUF_CAP` slots and its count
    /// (`sbx_evbuf_collect`), in replay order, and how many leading slots it clears.
    public static func collectBuffered(slots: [UInt64], count: UInt64) -> (events: [UInt64], end: Int) {
        precondition(slots.count == Int(SBX_EVBUF_CAP), "a buffer has SBX_EVBUF_CAP slots")
        var copy = slots
        var end: UInt32 = 0
        let n = copy.withUnsafeMutableBufferPointer { sbx_evbuf_collect($0.baseAddress, count, &end) }
        return (Array(copy.prefix(Int(n))), Int(end))
    }

    /// Log mode's resynchronisation (`sbx_resync`): whether a thread that lost its
    /// place resumes checking at this marker (a `LIBC` marker allowed from some
    /// state of the top frame's functions), in which case its top frame's
    /// macro-state and window have changed.
    public func resync(kind: UInt64, id: UInt64) -> Bool {
        sbx_resync(policy.view, &thread, kind, id) == 0
    }

    public func resync(_ marker: Marker) -> Bool {
        resync(kind: UInt64(bitPattern: Int64(marker.kind)), id: UInt64(bitPattern: Int64(marker.id)))
    }

    /// Whether the thread may make system call `number` now (`protection`: its third
    /// argument); nil if it may, else why not (`sbx_syscall_check`).
    public func checkSystemCall(number: UInt64, protection: UInt64) -> KernelRefusal? {
        let reason = sbx_syscall_check(policy.view, &thread, number, protection)
        return reason == 0 ? nil : KernelRefusal(rawValue: Int(reason)) ?? .badState
    }

    /// The thread's window.
    public var window: KernelWindow { KernelWindow(raw: thread.window_sym) }

    /// The logical depth, the root frame included (folded frames count).
    public var depth: Int { Int(thread.depth) }
    /// Frame entries in use (a run of equal frames is one).
    public var entryCount: Int { Int(thread.nr_frames) }
    /// Setjmp records in use.
    public var setjmpRecordCount: Int { Int(thread.nr_sj) }

    /// The top frame: kind and macro-state.
    public var top: (kind: KernelFrameKind, macroState: Int) {
        let f = slots[entryCount - 1].frame
        return (KernelFrameKind(tag: f.tag), Int(f.mstate))
    }

    /// The logical frames, bottom first: kind and macro-state (a folded entry
    /// repeated `count` times).
    public var stack: [(kind: KernelFrameKind, macroState: Int)] {
        var out: [(kind: KernelFrameKind, macroState: Int)] = []
        for e in 0..<entryCount {
            let f = slots[e].frame
            let frame: (kind: KernelFrameKind, macroState: Int) = (KernelFrameKind(tag: f.tag), Int(f.mstate))
            out += repeatElement(frame, count: Int(f.count))
        }
        return out
    }
}
