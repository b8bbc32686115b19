/// How the markers of a program instrumented for a Dyck policy are read in that
/// policy's single-copy flattened model (`flattened()`), which has no call sites and
/// numbers its functions differently. The instrumentation is the same in both modes,
/// so the markers keep the ids of the original policy:
///
/// - `CALL`, `RET`, `TAIL` with a site id of the original policy carry no
///   information (the flattened model has no stack of calls): they are skipped and
///   change nothing. Any other id is out of range.
/// - `CB_ENTER`, `CB_EXIT` carry the original function index. A callback is mapped to
///   its root in the flattened policy and keeps its frame; an index in range that is
///   not a callback is refused as the original policy would (`notACallback`, or a
///   wrong return), an index out of range is out of range.
/// - Every other marker (libc, setjmp, unknown kinds) is passed through unchanged.
///
/// This is the rule of `sbx check --mode nfa` (`TraceChecker`) and of nfa-mode kernel
/// blobs (`specs/kernel-abi.md`, "Modes"), which must agree.
public struct FlattenedMarkers: Sendable {
    /// The flattened model (`original.flattened()`); monitors of the nfa mode run on
    /// `MonitorTables(policy: flattened)`.
    public let flattened: Policy
    /// Sites and functions of the original policy: the ranges of marker ids.
    public let siteCount: Int
    public let functionCount: Int
    /// Original function index of each callback -> its root function in `flattened`.
    public let rootOfCallback: [Int: Int]
    /// Root function in `flattened` of each callback -> the callback's original index.
    public let callbackOfRoot: [Int: Int]

    /// The markers of `policy` read in `policy.flattened()`.
    public init(policy: Policy) {
        self.init(policy: policy, flattened: policy.flattened())
    }

    /// As `init(policy:)`, with the flattening already computed (`policy.flattened()`,
    /// whose callback list follows the order of `policy.callbacks`).
    public init(policy: Policy, flattened: Policy) {
        self.flattened = flattened
        siteCount = policy.sites.count
        functionCount = policy.functions.count
        var roots: [Int: Int] = [:]
        var origins: [Int: Int] = [:]
        for (k, f) in policy.callbacks.enumerated() where k < flattened.callbacks.count {
            roots[f] = flattened.callbacks[k]
            origins[flattened.callbacks[k]] = f
        }
        rootOfCallback = roots
        callbackOfRoot = origins
    }

    public enum Translation: Hashable, Sendable {
        /// The model has no use for the marker: it is allowed and changes nothing.
        case skip
        /// Step the flattened model's monitor with this marker.
        case step(Marker)
        /// Refused, whatever the flattened model's state.
        case refuse(ThreadMonitor.Refusal)
    }

    /// The marker as the flattened model sees it; `top` is the kind of the monitor's
    /// top frame (the expected frame of a wrong return).
    public func translate(_ marker: Marker, top: ThreadMonitor.FrameKind) -> Translation {
        guard let kind = MarkerKind(rawValue: marker.kind) else { return .step(marker) }
        let id = marker.id
        switch kind {
        case .call, .ret, .tail:
            return id >= 0 && id < siteCount ? .skip : .refuse(.idOutOfRange)
        case .callbackEnter, .callbackExit:
            guard id >= 0, id < functionCount else { return .refuse(.idOutOfRange) }
            if let root = rootOfCallback[id] { return .step(Marker(kind: marker.kind, id: root)) }
            // Never pushed, so never the top frame.
            return .refuse(kind == .callbackEnter ? .notACallback : .returnToWrongSite(expected: top))
        case .libc, .setjmpSave, .setjmpResume:
            return .step(marker)
        }
    }

    /// The frame kind in the original policy's numbering (callback roots back to the
    /// callbacks' function indices).
    public func originalKind(_ kind: ThreadMonitor.FrameKind) -> ThreadMonitor.FrameKind {
        if case .callback(let root) = kind, let f = callbackOfRoot[root] { return .callback(f) }
        return kind
    }
}

extension ThreadMonitor {
    /// Feeds a marker made for the original policy of `map` to this monitor, which
    /// runs on `map.flattened`: nil if allowed (skipped markers included). On refusal
    /// the state is left as it was. A skipped site marker changes nothing but the
    /// window, which becomes `.none` (program code), as in the kernel's nfa mode.
    public mutating func step(_ marker: Marker, flattened map: FlattenedMarkers) -> Refusal? {
        switch map.translate(marker, top: top.kind) {
        case .skip:
            skipSiteMarker()
            return nil
        case .step(let translated): return step(translated)
        case .refuse(let reason): return reason
        }
    }
}
