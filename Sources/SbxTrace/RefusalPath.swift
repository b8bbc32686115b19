import DyckModel

/// Where a recorded run left a Dyck policy, in the policy's own terms, for `sbx dot
/// --trace`: the refusing thread's frames at the refusal and, in each frame still on
/// its stack, the edges the run took there.
public struct RefusalPath: Sendable {
    /// An automaton edge: `function`'s `from --label--> to`.
    public struct Step: Hashable, Sendable {
        public var function: Int
        public var from: Int
        public var label: Label
        public var to: Int
    }

    public var refusal: TraceChecker.Refusal
    /// The call sites of the site frames, outermost first.
    public var sites: [Int]
    /// The functions of the frames, outermost first (the root's, each site's caller
    /// and each callback), then the function of the top frontier.
    public var functions: [Int]
    /// The top frame's (function, state) pairs at the refusal.
    public var frontier: [ThreadMonitor.State]
    /// The edges taken in the frames still on the stack (libc and call edges).
    public var steps: Set<Step>
}

extension TraceChecker {
    /// Replays `trace` in dyck mode and, if a marker is refused, says where; nil if the
    /// trace stays inside the policy or the refusal is of a system call (no edge).
    /// Edges are found by comparing each frame's frontier before and after the step
    /// with the marker's label; markers that reshape the stack otherwise (tail calls,
    /// callbacks, longjmp) start their frames' paths afresh.
    public func refusalPath(_ trace: Trace) -> RefusalPath? {
        guard mode == .dyck else { return nil }
        let policy = tables.policy
        var monitors: [Int32: ThreadMonitor] = [:]
        var paths: [Int32: [[RefusalPath.Step]]] = [:]
        func edges(_ before: [ThreadMonitor.State], _ label: Label, _ after: [ThreadMonitor.State]) -> [RefusalPath
            .Step]
        {
            let targets = Set(after.map { [$0.function, $0.state] })
            var result: [RefusalPath.Step] = []
            for pair in before {
                for edge in policy.functions[pair.function].automaton.edges
                where edge.from == pair.state && edge.label == label
                    && targets.contains([pair.function, edge.to])
                {
                    result.append(RefusalPath.Step(function: pair.function, from: edge.from, label: label, to: edge.to))
                }
            }
            return result
        }
        let outcome = replay(trace, systemCalls: false) { index, step, monitor in
            switch step {
            case .started(let tid):
                monitors[tid] = monitor
                paths[tid] = Array(repeating: [], count: monitor.depth)
            case .forked(let parent, let child):
                monitors[child] = monitor
                paths[child] = paths[parent] ?? Array(repeating: [], count: monitor.depth)
            case .stepped(let tid, let kind):
                var path = paths[tid] ?? []
                let before = monitors[tid]
                var id = 0
                if case let .marker(_, _, _, raw) = trace.events[index] { id = Int(clamping: raw) }
                if let before, kind == .known(.libc), before.depth == monitor.depth, !path.isEmpty {
                    path[path.count - 1] += edges(before.top.frontier, .libc(id), monitor.top.frontier)
                } else if let before, kind == .known(.call), monitor.depth == before.depth + 1,
                    path.count == before.depth,
                    !path.isEmpty
                {
                    // CALL moves the caller to the call edges' targets at once.
                    path[path.count - 1] += edges(
                        before.top.frontier, .call(id), monitor.stack[before.depth - 1].frontier)
                    path.append([])
                } else if let before, kind == .known(.ret), monitor.depth == before.depth - 1,
                    path.count == before.depth
                {
                    path.removeLast()
                } else {
                    // Tail calls, callbacks, longjmp, folded recursion: the frames
                    // that changed start afresh.
                    if path.count > monitor.depth { path.removeLast(path.count - monitor.depth) }
                    if kind != .known(.callbackEnter) && !path.isEmpty { path[path.count - 1] = [] }
                    while path.count < monitor.depth { path.append([]) }
                }
                paths[tid] = path
                monitors[tid] = monitor
            }
        }
        guard let refusal = outcome.refusal, refusal.window == nil, let monitor = monitors[refusal.tid] else {
            return nil
        }
        var sites: [Int] = []
        var functions: [Int] = []
        for frame in monitor.stack {
            switch frame.kind {
            case .root: functions.append(policy.entry)
            case .site(let c):
                sites.append(c)
                if policy.sites.indices.contains(c) { functions.append(policy.sites[c].caller) }
            case .callback(let f): functions.append(f)
            }
        }
        if let first = monitor.top.frontier.first { functions.append(first.function) }
        return RefusalPath(
            refusal: refusal, sites: sites, functions: functions, frontier: monitor.top.frontier,
            steps: Set((paths[refusal.tid] ?? []).joined()))
    }
}
