/// The reference of the kernel's replay of a thread's event buffer
/// (`specs/kernel-abi.md`, "Buffered events"; `kmod/core` `sbx_evbuf_collect` and
/// `sbx_evbuf_step`), which the differential tests hold the C core to.
extension ThreadMonitor {
    /// The slots of one buffer (`SBX_EVBUF_CAP`).
    public static let eventBufferCapacity = BufferedEvents.capacity

    /// The events a drain takes from a buffer, in replay order: with `c` the count
    /// clamped to the capacity, the non-zero slots below `c` in index order, then
    /// the slots from `c` on while non-zero. `end`: the leading slots it clears.
    public static func bufferedEvents(slots: [UInt64], count: UInt64) -> (events: [UInt64], end: Int) {
        let c = Int(min(count, UInt64(slots.count)))
        var events = slots[..<c].filter { $0 != 0 }
        var i = c
        while i < slots.count, slots[i] != 0 {
            events.append(slots[i])
            i += 1
        }
        return (events, i)
    }

    /// Replays one buffer word, `kind << 32 | id`: a kind that may be buffered
    /// (`LIBC`, `CALL`, `RET`, `TAIL`, `CB_ENTER`, `CB_EXIT`) with an id in range, and
    /// for `LIBC` a symbol whose flag in `bufferable` is set, is stepped as its
    /// marker (`step(_:)`); anything else is `.bufferedEvent`. `bufferable` is the
    /// blob's per-symbol flags; nil for a blob that buffers nothing.
    public mutating func stepBuffered(word: UInt64, bufferable: [Bool]?) -> Refusal? {
        let kind = Int(word >> 32)
        let id = Int(word & 0xffff_ffff)
        guard let bufferable, let markerKind = MarkerKind(rawValue: kind) else { return .bufferedEvent }
        let policy = tables.policy
        let inRange: Bool
        switch markerKind {
        case .libc: inRange = id < policy.symbols.count && id < bufferable.count && bufferable[id]
        case .call, .ret, .tail: inRange = id < policy.sites.count
        case .callbackEnter, .callbackExit: inRange = id < policy.functions.count
        case .setjmpSave, .setjmpResume: inRange = false
        }
        guard inRange else { return .bufferedEvent }
        return step(Marker(kind: kind, id: id))
    }
}
