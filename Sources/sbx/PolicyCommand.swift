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
            the module is unloaded. Exit statuses as for sbx run (101 module not \
            loaded, 102 policy missing or corrupt, 103 not instrumented, 104 not \
            privileged, 105 wrong policy).
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

        @Option(name: .long, help: "The module's device.")
        var device: String = SandboxDevice.defaultPath

        func run() throws {
            guard let blobMode = BlobMode(rawValue: mode) else { throw UsageError("--mode must be dyck or nfa, not '\(mode)'") }
            guard let enforcement = EnforcementAction(rawValue: action) else {
                throw UsageError("--action must be kill or log, not '\(action)'")
            }
            let handle = try SandboxDevice(path: device)
            let entry = try Registry.install(policyPath: policy, executable: exe, mode: blobMode, action: enforcement,
                                             device: handle)
            print("installed: \(exe) (inode \(Registry.key(device: entry.device, inode: entry.inode))) policy \(entry.policyID) mode \(mode) action \(action)")
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
            let paths = Registry.paths()
            print("POLICY  MODE  ACTION  PROCESSES  EXECS  INODE            EXECUTABLE")
            for e in entries {
                let key = Registry.key(device: e.device, inode: e.inode)
                print(pad("\(e.policyID)", 8) + pad(e.mode, 6) + pad(e.action, 8) + pad("\(e.processes)", 11)
                      + pad("\(e.execs)", 7) + pad(key, 17) + (paths[key] ?? "?"))
            }
        }
    }
}

func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
}
