import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `--dyck-time-report` (or `DYCK_CC_TIME_REPORT=1`): where a link's time goes.
///
/// Each phase of `Linker.link()` is timed by wall clock and by CPU time, the
/// process's own (`RUSAGE_SELF`) plus that of the tools it waited for
/// (`RUSAGE_CHILDREN`: llvm-link, clang), so that a phase run by a subprocess is
/// charged to that phase. The report goes to stderr after the link, one line per
/// phase, then the total and the peak resident set of dyck-cc itself and of its
/// largest child.
struct TimeReport {
    struct Phase {
        var name: String
        var wall: Double
        var cpu: Double
    }

    var enabled: Bool
    private(set) var phases: [Phase] = []
    private var startWall: Double
    private var startCPU: Double
    private let origin: Double

    init(enabled: Bool) {
        self.enabled = enabled
        startWall = Self.now()
        startCPU = Self.cpu()
        origin = startWall
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    private static func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }

    /// CPU seconds (user + system) of this process and of its waited-for children.
    static func cpu() -> Double {
        var total = 0.0
        for who in [RUSAGE_SELF.rawValue, RUSAGE_CHILDREN.rawValue] {
            var usage = rusage()
            getrusage(who, &usage)
            total += seconds(usage.ru_utime) + seconds(usage.ru_stime)
        }
        return total
    }

    /// Ends the running phase as `name` and starts the next.
    mutating func lap(_ name: String) {
        guard enabled else { return }
        let wall = Self.now(), cpu = Self.cpu()
        phases.append(Phase(name: name, wall: wall - startWall, cpu: cpu - startCPU))
        startWall = wall
        startCPU = cpu
    }

    /// The report, one line per phase, then the totals.
    func lines() -> [String] {
        let total = phases.reduce(0) { $0 + $1.wall }
        let totalCPU = phases.reduce(0) { $0 + $1.cpu }
        var out = ["dyck-cc time report (seconds; cpu includes the tools run):"]
        out.append("  " + pad("phase", 18, left: true) + pad("wall", 9) + pad("cpu", 9) + pad("share", 8))
        for phase in phases {
            let share = total > 0 ? phase.wall / total * 100 : 0
            out.append(
                "  " + pad(phase.name, 18, left: true) + pad(format(phase.wall), 9) + pad(format(phase.cpu), 9)
                    + pad(String(format: "%.1f%%", share), 8))
        }
        out.append("  " + pad("total", 18, left: true) + pad(format(total), 9) + pad(format(totalCPU), 9))
        var me = rusage(), children = rusage()
        getrusage(RUSAGE_SELF.rawValue, &me)
        getrusage(RUSAGE_CHILDREN.rawValue, &children)
        out.append("  peak memory: dyck-cc \(me.ru_maxrss / 1024) MB, largest tool \(children.ru_maxrss / 1024) MB")
        return out
    }

    func emit() {
        guard enabled else { return }
        FileHandle.standardError.write(Data((lines().joined(separator: "\n") + "\n").utf8))
    }

    private func format(_ value: Double) -> String { String(format: "%.2f", value) }

    private func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - text.count))
        return left ? text + fill : fill + text
    }
}
