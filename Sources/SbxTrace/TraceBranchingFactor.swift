import DyckModel

/// The run-based average branching factor of a policy along recorded traces, in the
/// dyck and nfa modes at the same positions (`specs/checking.md`, "Run-based ABF").
///
/// Each trace is replayed as `TraceChecker` replays it, once per mode. Positions are,
/// per thread: its configuration at its start when it has an automaton there (the
/// traced program's start or re-exec, a forked process's copy of its parent), the
/// configuration just after the `cb-enter` that gives a thread without an automaton
/// (a new thread, whose only frame is empty) its first frame, and the configuration
/// just after each libc marker. At each the measure is the number of distinct libc
/// symbols the monitor of the mode would accept as the next libc event
/// (`NextLibcSets`).
public struct TraceBranchingFactor {
    /// Where a position was taken: after event `eventIndex` of the trace, on `tid`.
    public struct Position: Hashable, Sendable {
        public var eventIndex: Int
        public var tid: Int32

        public init(eventIndex: Int, tid: Int32) {
            self.eventIndex = eventIndex
            self.tid = tid
        }
    }

    /// The next sets at one position, as sorted libc ids (`measure(keepSets: true)`).
    public struct PositionSets: Hashable, Sendable {
        public var position: Position
        public var dyck: [Int]
        public var nfa: [Int]
    }

    /// Where in the program a position is: the function of the dyck monitor's top
    /// frame and the libc call just made (`nil`: the start of a thread).
    public struct Place: Hashable, Sendable {
        public var function: Int
        public var libc: Int?

        public init(function: Int, libc: Int?) {
            self.function = function
            self.libc = libc
        }
    }

    /// The positions of one place and the sums of their next-set sizes.
    public struct PlaceSums: Hashable, Sendable {
        public var positions = 0
        public var dyckSum = 0
        public var nfaSum = 0

        public init(positions: Int = 0, dyckSum: Int = 0, nfaSum: Int = 0) {
            self.positions = positions
            self.dyckSum = dyckSum
            self.nfaSum = nfaSum
        }

        public mutating func add(_ other: PlaceSums) {
            positions += other.positions
            dyckSum += other.dyckSum
            nfaSum += other.nfaSum
        }
    }

    public struct Measurement: Sendable {
        /// Positions counted (the same in both modes when there is no refusal).
        public var positions = 0
        /// Sums of the next-set sizes over the positions.
        public var dyckSum = 0
        public var nfaSum = 0
        /// Positions after which the thread made another libc call (the next position
        /// of the same thread follows a libc marker): the sum of next-set sizes of the
        /// oracle monitor that accepts exactly the recorded runs.
        public var followed = 0
        /// Positions where the dyck next set is larger than the nfa one: always 0
        /// unless the flattening lost a run of the policy.
        public var dyckAboveNFA = 0
        /// The first refusal, dyck mode first: the figures then stop there and are
        /// not comparable.
        public var refusal: (mode: TraceChecker.Mode, refusal: TraceChecker.Refusal)?
        /// Processes that exec'd another program (their later markers are not replayed).
        public var unchecked: [String] = []
        /// With `keepSets`: the next sets at every position, in order.
        public var sets: [PositionSets] = []
        /// With `byPlace`: the positions and sums of each place (while neither mode
        /// refuses).
        public var places: [Place: PlaceSums] = [:]

        public init() {}

        public var dyckAverage: Double { positions == 0 ? 0 : Double(dyckSum) / Double(positions) }
        public var nfaAverage: Double { positions == 0 ? 0 : Double(nfaSum) / Double(positions) }
        /// The run-based ABF of the oracle monitor: no monitor that accepts the runs
        /// and lets a thread make its next libc call without a callback between goes
        /// below it.
        public var floorAverage: Double { positions == 0 ? 0 : Double(followed) / Double(positions) }

        /// Adds the counts of another measurement (another trace of the same policy).
        public mutating func add(_ other: Measurement) {
            positions += other.positions
            dyckSum += other.dyckSum
            nfaSum += other.nfaSum
            followed += other.followed
            dyckAboveNFA += other.dyckAboveNFA
            places.merge(other.places) { mine, theirs in
                var sum = mine
                sum.add(theirs)
                return sum
            }
        }
    }

    let dyck: TraceChecker
    let nfa: TraceChecker
    let dyckSets: NextLibcSets
    let nfaSets: NextLibcSets

    /// For the policy dyck-gen wrote (kind dyck, whose ids the markers carry);
    /// precomputes the tables of both modes. `flattened`, if given, must be
    /// `policy.flattened()`, which is then not computed again.
    public init(policy: Policy, flattened: Policy? = nil) throws {
        dyck = try TraceChecker(policy: policy, mode: .dyck)
        nfa = try TraceChecker(policy: policy, mode: .nfa, flattened: flattened)
        dyckSets = NextLibcSets(policy: dyck.tables.policy)
        nfaSets = NextLibcSets(policy: nfa.tables.policy)
    }

    /// One replay of `trace` in the mode of `checker`: the positions, the next-set
    /// size at each, the sets if `keepSets`, and the places if `keepPlaces`.
    private func pass(
        _ trace: Trace, _ checker: TraceChecker, _ sets: NextLibcSets, keepSets: Bool, keepPlaces: Bool = false
    ) -> (outcome: TraceChecker.Outcome, positions: [Position], counts: [Int32], sets: [[Int]], places: [Place]) {
        var cursors: [Int32: NextLibcCursor] = [:]
        var positions: [Position] = []
        var counts: [Int32] = []
        var labelSets: [[Int]] = []
        var places: [Place] = []
        func take(_ index: Int, _ tid: Int32, _ monitor: ThreadMonitor) {
            positions.append(Position(eventIndex: index, tid: tid))
            if keepPlaces {
                var libc: Int?
                if case let .marker(_, _, .known(.libc), id) = trace.events[index] { libc = Int(clamping: id) }
                places.append(Place(function: monitor.top.frontier.first?.function ?? -1, libc: libc))
            }
            let fresh = NextLibcCursor(monitor)
            if keepSets {
                let labels = sets.labels(monitor, cursor: &cursors[tid, default: fresh])
                labelSets.append(labels)
                counts.append(Int32(labels.count))
            } else {
                counts.append(Int32(sets.count(monitor, cursor: &cursors[tid, default: fresh])))
            }
        }
        let outcome = checker.replay(trace, systemCalls: false) { index, step, monitor in
            switch step {
            case .started(let tid):
                cursors[tid] = NextLibcCursor(monitor)
                if !monitor.top.frontier.isEmpty { take(index, tid, monitor) }
            case .forked(let parent, let child):
                cursors[child] = cursors[parent] ?? NextLibcCursor(monitor)
                if !monitor.top.frontier.isEmpty { take(index, child, monitor) }
            case .stepped(let tid, let kind):
                cursors[tid, default: NextLibcCursor(monitor)].observe(monitor)
                switch kind {
                case .known(.libc):
                    take(index, tid, monitor)
                case .known(.callbackEnter) where monitor.stack.count == 2 && monitor.stack[0].frontier.isEmpty:
                    take(index, tid, monitor)
                default:
                    break
                }
            }
        }
        return (outcome, positions, counts, labelSets, places)
    }

    /// The run-based ABF figures of one trace; with `byPlace`, also per place
    /// (function and libc call of the dyck replay).
    public func measure(_ trace: Trace, keepSets: Bool = false, byPlace: Bool = false) -> Measurement {
        var result = Measurement()
        let d = pass(trace, dyck, dyckSets, keepSets: keepSets, keepPlaces: byPlace)
        result.unchecked = d.outcome.unchecked
        if let refusal = d.outcome.refusal {
            result.refusal = (.dyck, refusal)
            result.positions = d.positions.count
            result.dyckSum = d.counts.reduce(0) { $0 + Int($1) }
            return result
        }
        let n = pass(trace, nfa, nfaSets, keepSets: keepSets)
        if let refusal = n.outcome.refusal {
            result.refusal = (.nfa, refusal)
        }
        // Both replays take positions at the same events while neither refuses.
        let common = min(d.positions.count, n.positions.count)
        precondition(
            n.outcome.refusal != nil || d.positions == n.positions, "run-based ABF: positions differ between modes")
        result.positions = common
        var nextOnThread: [Int32: Int] = [:]
        for i in (0..<common).reversed() {
            let position = d.positions[i]
            if let next = nextOnThread[position.tid],
                case .marker(_, _, .known(.libc), _) = trace.events[d.positions[next].eventIndex]
            {
                result.followed += 1
            }
            nextOnThread[position.tid] = i
        }
        for i in 0..<common {
            result.dyckSum += Int(d.counts[i])
            result.nfaSum += Int(n.counts[i])
            if d.counts[i] > n.counts[i] { result.dyckAboveNFA += 1 }
            if keepSets {
                result.sets.append(PositionSets(position: d.positions[i], dyck: d.sets[i], nfa: n.sets[i]))
            }
            if byPlace {
                result.places[d.places[i], default: PlaceSums()].add(
                    PlaceSums(positions: 1, dyckSum: Int(d.counts[i]), nfaSum: Int(n.counts[i])))
            }
        }
        return result
    }
}
