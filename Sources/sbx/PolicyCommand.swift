import ArgumentParser
import SbxBlob
import SbxCLI
import SbxRun

struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Install, remove and list per-executable policies in the kernel.",
        discussion: """
            An installed policy is enforced by the sbx_dyck module on every exec of the \
            executable's inode, by any process, without sbx run, until it is removed or \
            the module is unloaded, and only while the file's content is the one \
            installed: the kernel hashes the file at install, and an exec of a file \
            rebuilt in place is refused ("this executable was rebuilt; its policy is \
            not installed": install it again with --replace). Exit statuses as for sbx \
            run (101 module not loaded, 102 policy missing or corrupt, 103 not \
            instrumented, 104 not privileged, 105 wrong policy), and 106 already \
            installed (without --replace).
            """,
        subcommands: [Install.self, Remove.self, List.self]
    )

    struct Install: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Enforce POLICY on every exec of an executable.")

        @Argument(help: "The policy file (dyck-cc's PROG.dyck).")
        var policy: String

        @Option(name: .long, help: "The executable it was built for.")
        var exe: String

        @Option(name: .long, help: "dyck (default) or nfa.")
        var mode: String = "dyck"

        @Option(name: .long, help: "kill (default) or log.")
        var action: String = "kill"

        @Option(name: .long, help: "What its execs do: registry (default), deny or unconfined (as sbx run --exec).")
        var exec: String = "registry"

        @Flag(name: .long, help: "Replace the executable's installed policy (e.g. after a rebuild).")
        var replace = false

        @OptionGroup var bounds: StackBoundOptions

        @Option(name: .long, help: "The module's device.")
        var device: String = SandboxDevice.defaultPath

        func run() throws {
            guard let blobMode = BlobMode(rawValue: mode) else { throw UsageError("--mode must be dyck or nfa, not '\(mode)'") }
            guard let enforcement = EnforcementAction(rawValue: action) else {
                throw UsageError("--action must be kill or log, not '\(action)'")
            }
            guard let transition = ExecTransition(rawValue: exec) else {
                throw UsageError("--exec must be registry, deny or unconfined, not '\(exec)'")
            }
            let handle = try SandboxDevice(path: device)
            let entry = try Registry.install(policyPath: policy, executable: exe, mode: blobMode, action: enforcement,
                                             exec: transition, replace: replace,
                                             bounds: StackBounds(stackLimit: bounds.stackLimit, maxDepth: bounds.maxDepth),
                                             device: handle)
            print("installed: \(exe) (inode \(Registry.key(device: entry.device, inode: entry.inode))) policy \(entry.policyID) mode \(mode) action \(action) exec \(exec)"
                  + (entry.replaced != 0 ? " (replaced policy \(entry.replaced))" : ""))
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop enforcing the installed policy of an executable.",
            discussion: "Processes it already enforces stay enforced. Exit status 1 when nothing was installed for it.")

        @Option(name: .long, help: "The executable.")
        var exe: String?

        @Option(name: .long, help: "DEV:INO as `sbx policy list` shows it (for a deleted file).")
        var inode: String?

        @Option(name: .long, help: "The module's device.")
        var device: String = SandboxDevice.defaultPath

        func run() throws {
            var dev: UInt64 = 0, ino: UInt64 = 0
            if let inode {
                let parts = inode.split(separator: ":")
                guard exe == nil, parts.count == 2, let d = UInt64(parts[0]), let i = UInt64(parts[1]) else {
                    throw UsageError("--inode must be DEV:INO (numbers), without --exe")
                }
                dev = d
                ino = i
            } else if exe == nil {
                throw UsageError("give --exe PATH or --inode DEV:INO")
            }
            let handle = try SandboxDevice(path: device)
            guard let removed = try Registry.remove(executable: exe, device: dev, inode: ino, device: handle) else {
                Diagnostics.note("\(exe ?? inode!): no installed policy")
                throw CommandOutcome(.refused)
            }
            print("removed: \(exe ?? inode!) policy \(removed.policyID)"
                  + (removed.unloaded ? "" : " (still used by running processes: stays loaded until they end)"))
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the installed policies.")

        @Option(name: .long, help: "The module's device.")
        var device: String = SandboxDevice.defaultPath

        func run() throws {
            let handle = try SandboxDevice(path: device)
            let entries = try handle.installed()
            print("POLICY  MODE  ACTION  EXEC        PROCESSES  EXECS  REFUSED  INODE            EXECUTABLE")
            var notes: [String] = []
            for e in entries {
                let key = Registry.key(device: e.device, inode: e.inode)
                let (path, state) = Registry.pathState(device: e.device, inode: e.inode)
                var shown = path ?? "?"
                switch state {
                case .rebuilt:
                    shown += "  [REBUILT]"
                    notes.append("\(path ?? key): this executable was rebuilt; its policy is not installed "
                                 + "(its execs are refused: sbx policy install --replace POLICY --exe \(path ?? "PATH"))")
                case .otherFile:
                    shown += "  [PATH NOW NAMES ANOTHER FILE]"
                    notes.append("\(path ?? key): the path now names another file; the entry covers the old inode "
                                 + "\(key) only (sbx policy remove --inode \(key), then install the new file)")
                case .gone:
                    shown += "  [DELETED]"
                case .current, .unknown:
                    if e.refused > 0 { shown += "  [REBUILT, since restored]" }
                }
                print(pad("\(e.policyID)", 8) + pad(e.mode, 6) + pad(e.action, 8) + pad(e.exec, 12) + pad("\(e.processes)", 11)
                      + pad("\(e.execs)", 7) + pad("\(e.refused)", 9) + pad(key, 17) + shown)
            }
            for note in notes { print("note: " + note) }
        }
    }
}

func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
}
