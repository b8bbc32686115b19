/// The next-libc sets of monitor configurations: the per-position measure of the
/// run-based average branching factor (`specs/checking.md`, "Run-based ABF").
///
/// For a configuration of a `ThreadMonitor` (a stack of frames, each with a frontier
/// of states), the next set is the set of libc ids `l` such that some sequence of
/// call, tail and return markers that the monitor accepts from this exact
/// configuration, followed by `libc l`, is accepted. With frames `0...top`:
///
///     N(i) = FIRST(frontier_i) ∪ (frame i is a call-site frame and some state of
///            frontier_i is in NULL ? N(i - 1) : ∅)
///
/// and the next set is `N(top)`. FIRST(q) and NULL(q) are the least fixpoints of
/// `Policy.branchingFactor()`: the libc labels that can be the next libc event from
/// q without returning from q's function (taking libc edges, entering callees through
/// call edges, and passing callees that can complete without a libc event), and
/// whether the function can return from q without a libc event. A lower frame's
/// frontier is the one it saved at the call (the call edge's targets), so `N(top)` is
/// exact for the pushdown monitor. The walk stops at the root frame and at callback
/// frames: returning from a callback resumes libc, which the next set does not model.
/// Callback entries and setjmp/longjmp markers are not among the moves considered.
///
/// On a flattened (`.nfa`) policy there are no call edges and every frame is a root
/// or callback frame, so the next set is the set of labels leaving the top frontier.
public final class NextLibcSets: Sendable {
    public let policy: Policy
    /// Words per label set.
    let words: Int
    /// Global number of state 0 of each function.
    let base: [Int]
    /// Per global state: where its FIRST set starts in `first`.
    let firstOffset: [Int]
    let first: [UInt64]
    let nullable: [Bool]
    /// libc symbol id of each bit.
    let labelIDs: [Int]

    /// Precomputes FIRST and NULL for every state of `policy`: linear in states and
    /// edges times the number of distinct libc labels over 64.
    public init(policy: Policy) {
        self.policy = policy
        let computation = BranchingFactorComputation(policy)
        let nullable = computation.returnable(throughLibc: false)
        let closure = computation.firstSets(nullable: nullable)
        words = closure.words
        base = computation.base
        firstOffset = closure.component.map { $0 * closure.words }
        first = closure.bits
        self.nullable = nullable
        labelIDs = computation.labelIDs
    }

    /// |N(top)| for `monitor`'s configuration, with no memo.
    public func count(_ monitor: ThreadMonitor) -> Int {
        var cursor = NextLibcCursor(monitor)
        return count(monitor, cursor: &cursor)
    }

    /// N(top) for `monitor`'s configuration as sorted libc ids, with no memo.
    public func labels(_ monitor: ThreadMonitor) -> [Int] {
        var cursor = NextLibcCursor(monitor)
        return labels(monitor, cursor: &cursor)
    }

    /// |N(top)|, memoizing N of the lower frames in `cursor`, which must have seen every
    /// change of `monitor` (`NextLibcCursor.observe`).
    public func count(_ monitor: ThreadMonitor, cursor: inout NextLibcCursor) -> Int {
        compute(monitor, &cursor)
        var total = 0
        for word in cursor.scratch { total += word.nonzeroBitCount }
        return total
    }

    /// N(top) as sorted libc ids, memoizing as `count(_:cursor:)`.
    public func labels(_ monitor: ThreadMonitor, cursor: inout NextLibcCursor) -> [Int] {
        compute(monitor, &cursor)
        var result: [Int] = []
        for (word, value) in cursor.scratch.enumerated() where value != 0 {
            for bit in 0..<64 where value & (1 << UInt64(bit)) != 0 { result.append(labelIDs[word * 64 + bit]) }
        }
        return result.sorted()
    }

    // MARK: Computation

    private func global(_ state: ThreadMonitor.State) -> Int? {
        guard state.function >= 0, state.function < base.count else { return nil }
        let g = base[state.function] + state.state
        let end = state.function + 1 < base.count ? base[state.function + 1] : firstOffset.count
        return state.state >= 0 && g < end ? g : nil
    }

    /// ORs FIRST(frontier) into `bits[offset..<offset+words]`.
    private func addFirst(of frontier: [ThreadMonitor.State], into bits: inout [UInt64], at offset: Int) {
        for state in frontier {
            guard let g = global(state) else { continue }
            let from = firstOffset[g]
            for word in 0..<words { bits[offset + word] |= first[from + word] }
        }
    }

    /// Whether N(frame) continues into the frame below.
    private func continues(_ frame: ThreadMonitor.Frame) -> Bool {
        guard case .site = frame.kind else { return false }
        return frame.frontier.contains { state in global(state).map { nullable[$0] } ?? false }
    }

    /// Leaves N(top) in `cursor.scratch`.
    private func compute(_ monitor: ThreadMonitor, _ cursor: inout NextLibcCursor) {
        let stack = monitor.stack
        if cursor.scratch.count != words { cursor.scratch = [UInt64](repeating: 0, count: words) }
        for word in 0..<words { cursor.scratch[word] = 0 }
        guard let top = stack.last else { return }
        addFirst(of: top.frontier, into: &cursor.scratch, at: 0)
        guard stack.count >= 2, continues(top) else { return }
        let below = stack.count - 2
        ensure(below, stack, &cursor)
        for word in 0..<words { cursor.scratch[word] |= cursor.memo[below * words + word] }
    }

    /// Makes `cursor.memo` hold N(i) for frame i of `stack` (i below the top).
    private func ensure(_ i: Int, _ stack: [ThreadMonitor.Frame], _ cursor: inout NextLibcCursor) {
        cursor.reserve(depth: i + 1, words: words)
        // Down to a frame whose N is known or does not depend on the frames below it.
        var k = i
        while !cursor.known[k] && continues(stack[k]) && k > 0 { k -= 1 }
        if !cursor.known[k] {
            let offset = k * words
            for word in 0..<words { cursor.memo[offset + word] = 0 }
            addFirst(of: stack[k].frontier, into: &cursor.memo, at: offset)
            cursor.markKnown(k)
        }
        var m = k + 1
        while m <= i {
            let offset = m * words
            for word in 0..<words { cursor.memo[offset + word] = cursor.memo[offset - words + word] }
            addFirst(of: stack[m].frontier, into: &cursor.memo, at: offset)
            cursor.markKnown(m)
            m += 1
        }
    }
}

/// Per thread: N of the frames below the top, kept while those frames do not change.
///
/// A marker changes at most the frames from index `min(depth before, depth after) - 1`
/// up (libc, tail and setjmp resume change the top; a call changes the caller's
/// frontier and pushes; returns pop), so after every accepted marker `observe` drops
/// the memo from there up. Forked threads copy their parent's cursor with its monitor.
public struct NextLibcCursor: Sendable {
    var depth: Int
    /// N(i) at `i * words`, valid where `known[i]`.
    var memo: [UInt64] = []
    var known: [Bool] = []
    /// Every `known[i]` with i >= knownEnd is false.
    var knownEnd = 0
    /// The last result.
    var scratch: [UInt64] = []

    /// A cursor for a thread whose monitor is `monitor` (new, or just copied).
    public init(_ monitor: ThreadMonitor) {
        depth = monitor.stack.count
    }

    /// Call after every marker `monitor` accepted, with the monitor after it.
    public mutating func observe(_ monitor: ThreadMonitor) {
        let newDepth = monitor.stack.count
        let unchanged = max(min(depth, newDepth) - 1, 0)
        if unchanged < knownEnd {
            for i in unchanged..<knownEnd { known[i] = false }
            knownEnd = unchanged
        }
        depth = newDepth
    }

    mutating func reserve(depth: Int, words: Int) {
        if known.count < depth {
            known.append(contentsOf: repeatElement(false, count: depth - known.count))
            memo.append(contentsOf: repeatElement(0, count: depth * words - memo.count))
        }
    }

    mutating func markKnown(_ i: Int) {
        known[i] = true
        knownEnd = max(knownEnd, i + 1)
    }
}
