import ArgumentParser
import DyckModel
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

            The kernel forgets installed policies at a reboot or a module reload. So \
            install also saves each one as a file of the policy directory \
            (/etc/sbx/policies, or $SBX_POLICY_DIR, or --policy-dir; --runtime: not \
            saved), remove deletes it, and load-all installs every saved policy again: \
            sbx-policies.service runs it at boot, after the module is loaded. The file \
            names the policy file, which must stay where it was installed from. Format: \
            specs/policy-directory.md.
            """,
        subcommands: [Install.self, Remove.self, List.self, LoadAll.self]
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

        @OptionGroup var saving: PolicyDirectoryOptions

        @Option(name: .long, help: "The module's device.")
        var device: String = SandboxDevice.defaultPath

        func run() throws {
            guard let blobMode = BlobMode(rawValue: mode) else {
                throw UsageError("--mode must be dyck or nfa, not '\(mode)'")
            }
            guard let enforcement = EnforcementAction(rawValue: action) else {
                throw UsageError("--action must be kill or log, not '\(action)'")
            }
            guard let transition = ExecTransition(rawValue: exec) else {
                throw UsageError("--exec must be registry, deny or unconfined, not '\(exec)'")
            }
            let directory = saving.directory
            // Checked before the kernel changes: a policy that would be lost at the
            // next boot is refused, not installed (status 3).
            if !saving.runtime { try PolicyDirectory.prepare(directory) }
            let handle = try SandboxDevice(path: device)
            let entry = try Registry.install(
                policyPath: policy, executable: exe, mode: blobMode, action: enforcement,
                exec: transition, replace: replace,
                bounds: StackBounds(stackLimit: bounds.stackLimit, maxDepth: bounds.maxDepth),
                device: handle)
            print(
                "installed: \(exe) (inode \(Registry.key(device: entry.device, inode: entry.inode))) policy \(entry.policyID) mode \(mode) action \(action) exec \(exec)"
                    + (entry.replaced != 0 ? " (replaced policy \(entry.replaced))" : ""))
            guard !saving.runtime else { return }
            let saved = PolicyDirectory.Entry(
                executable: PolicyDirectory.absolute(exe), policy: PolicyDirectory.absolute(policy), mode: blobMode,
                action: enforcement, exec: transition,
                bounds: StackBounds(stackLimit: bounds.stackLimit, maxDepth: bounds.maxDepth))
            do {
                print("saved: \(try PolicyDirectory.save(saved, in: directory))")
            } catch let error as CategorizedError {
                throw SaveFailed(underlying: error)
            }
        }

        /// The kernel has the policy, the directory does not: say both.
        struct SaveFailed: CategorizedError {
            var underlying: CategorizedError
            var category: ErrorCategory { underlying.category }
            var description: String {
                "installed in the kernel, but not saved (it will not be loaded at the next boot): \(underlying.description)"
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop enforcing the installed policy of an executable.",
            discussion: """
                Processes it already enforces stay enforced. Also deletes the executable's \
                saved policy from the policy directory (not with --runtime), even when the \
                kernel had none (e.g. after a reboot without load-all). Exit status 1 when \
                nothing was installed or saved for it.
                """)

        @Option(name: .long, help: "The executable.")
        var exe: String?

        @Option(name: .long, help: "DEV:INO as `sbx policy list` shows it (for a deleted file).")
        var inode: String?

        @OptionGroup var saving: PolicyDirectoryOptions

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
            // The path of the saved file: the one given, or the one remembered for the inode.
            let savedPath =
                exe.map(PolicyDirectory.absolute)
                ?? Registry.remembered()[Registry.key(device: dev, inode: ino)]?.path
            let handle = try SandboxDevice(path: device)
            var removed: (policyID: UInt32, unloaded: Bool)?
            do {
                removed = try Registry.remove(executable: exe, device: dev, inode: ino, device: handle)
            } catch RunError.programNotFound(let path) where !saving.runtime {
                // A deleted executable can still have a saved policy to delete.
                guard let savedPath, !(try PolicyDirectory.files(for: savedPath, in: saving.directory)).isEmpty else {
                    throw RunError.programNotFound(path)
                }
            }
            if let removed {
                print(
                    "removed: \(exe ?? inode!) policy \(removed.policyID)"
                        + (removed.unloaded ? "" : " (still used by running processes: stays loaded until they end)"))
            }
            var deleted: [String] = []
            if !saving.runtime, let savedPath {
                deleted = try PolicyDirectory.remove(executable: savedPath, in: saving.directory)
            }
            for path in deleted { print("deleted: \(path)") }
            if removed == nil {
                if deleted.isEmpty {
                    Diagnostics.note("\(exe ?? inode!): no installed policy")
                    throw CommandOutcome(.refused)
                }
                Diagnostics.note("\(exe ?? inode!): was saved but not installed in the kernel")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the installed policies.",
            discussion: """
                Notes follow the table for saved policies (the policy directory) that the \
                kernel does not have (`sbx policy load-all` installs them) and for saved \
                files that are malformed. --json prints one JSON object instead \
                (specs/json-output.md).
                """)

        @Flag(name: .long, help: "Print one JSON object (specs/json-output.md).")
        var json = false

        @Option(name: .long, help: "The policy directory (default: $SBX_POLICY_DIR, else /etc/sbx/policies).")
        var policyDir: String?

        @Option(name: .long, help: "The module's device.")
        var device: String = SandboxDevice.defaultPath

        func run() throws {
            let handle = try SandboxDevice(path: device)
            let entries = try handle.installed()
            let directory = PolicyDirectory.path(option: policyDir)
            // Saved files by executable; an unreadable directory only costs the notes.
            var saved: [String: String] = [:]
            var malformed: [JSONMalformed] = []
            for name in (try? PolicyDirectory.fileNames(in: directory)) ?? [] {
                let path = directory + "/" + name
                do {
                    let entry = try PolicyDirectory.read(path)
                    if saved[entry.executable] == nil { saved[entry.executable] = path }
                } catch let error as CategorizedError {
                    malformed.append(JSONMalformed(file: path, reason: error.description))
                }
            }
            var rows: [JSONEntry] = []
            var notes: [String] = []
            if !json {
                print("POLICY  MODE  ACTION  EXEC        PROCESSES  EXECS  REFUSED  INODE            EXECUTABLE")
            }
            for e in entries {
                let key = Registry.key(device: e.device, inode: e.inode)
                let remembered = Registry.remembered()[key]
                let (path, state) = Registry.pathState(device: e.device, inode: e.inode)
                let savedFile = path.flatMap { saved.removeValue(forKey: $0) }
                rows.append(
                    JSONEntry(
                        policy: e.policyID, mode: e.mode, action: e.action, exec: e.exec, processes: e.processes,
                        execs: e.execs, refused: e.refused, device: e.device, inode: e.inode, executable: path,
                        state: Self.stateName(state, refused: e.refused), policyFile: remembered?.policy,
                        savedFile: savedFile))
                var shown = path ?? "?"
                switch state {
                case .rebuilt:
                    shown += "  [REBUILT]"
                    notes.append(
                        "\(path ?? key): this executable was rebuilt; its policy is not installed "
                            + "(its execs are refused: sbx policy install --replace POLICY --exe \(path ?? "PATH"))")
                case .otherFile:
                    shown += "  [PATH NOW NAMES ANOTHER FILE]"
                    notes.append(
                        "\(path ?? key): the path now names another file; the entry covers the old inode "
                            + "\(key) only (sbx policy remove --inode \(key), then install the new file)")
                case .gone:
                    shown += "  [DELETED]"
                case .current, .unknown:
                    if e.refused > 0 { shown += "  [REBUILT, since restored]" }
                }
                if !json {
                    print(
                        pad("\(e.policyID)", 8) + pad(e.mode, 6) + pad(e.action, 8) + pad(e.exec, 12)
                            + pad("\(e.processes)", 11)
                            + pad("\(e.execs)", 7) + pad("\(e.refused)", 9) + pad(key, 17) + shown)
                }
            }
            let notInstalled = saved.sorted { $0.value < $1.value }.map {
                JSONSaved(file: $0.value, executable: $0.key)
            }
            if json {
                print(
                    try JSONOutput.text(
                        JSONList(
                            directory: directory, installed: rows, savedNotInstalled: notInstalled,
                            malformed: malformed)), terminator: "")
                return
            }
            for note in notes { print("note: " + note) }
            for s in notInstalled {
                print("note: \(s.executable): saved in \(s.file) but not installed (sbx policy load-all installs it)")
            }
            for m in malformed { print("note: \(m.reason) (sbx policy load-all skips it)") }
        }

        static func stateName(_ state: Registry.PathState, refused: UInt32) -> String {
            switch state {
            case .current: return refused > 0 ? "restored" : "current"
            case .rebuilt: return "rebuilt"
            case .otherFile: return "other_file"
            case .gone: return "deleted"
            case .unknown: return "unknown"
            }
        }

        // The JSON document (specs/json-output.md); keys printed snake_case.
        struct JSONList: Encodable {
            var directory: String
            var installed: [JSONEntry]
            var savedNotInstalled: [JSONSaved]
            var malformed: [JSONMalformed]
        }

        struct JSONEntry: Encodable {
            var policy: UInt32
            var mode: String
            var action: String
            var exec: String
            var processes: UInt32
            var execs: UInt64
            var refused: UInt32
            var device: UInt64
            var inode: UInt64
            var executable: String?
            var state: String
            var policyFile: String?
            var savedFile: String?
        }

        struct JSONSaved: Encodable {
            var file: String
            var executable: String
        }

        struct JSONMalformed: Encodable {
            var file: String
            var reason: String
        }
    }
}

/// Where `sbx policy install` saves a policy and `sbx policy remove` deletes it.
struct PolicyDirectoryOptions: ParsableArguments {
    @Option(name: .long, help: "The policy directory (default: $SBX_POLICY_DIR, else /etc/sbx/policies).")
    var policyDir: String?

    @Flag(name: .long, help: "Only change the kernel's registry, not the policy directory (lost at the next boot).")
    var runtime = false

    var directory: String { PolicyDirectory.path(option: policyDir) }
}

func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
}
