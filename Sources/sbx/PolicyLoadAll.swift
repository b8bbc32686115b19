import ArgumentParser
import DyckModel
import SbxCLI
import SbxRun

extension PolicyCommand {
    struct LoadAll: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "load-all",
            abstract: "Install every saved policy of the policy directory into the kernel (at boot).",
            discussion: """
                Reads the files NAME.policy of the policy directory (/etc/sbx/policies, or \
                $SBX_POLICY_DIR, or --policy-dir) in name order and installs each as \
                `sbx policy install --replace --runtime` would: an executable that already \
                has an entry gets the saved policy again, so running it twice is harmless. \
                A file that cannot be installed (malformed, its executable or policy \
                missing, the policy no longer the executable's, ...) is reported on stderr \
                by its path with the reason, and the others are still installed. Two files \
                naming one executable: the first in name order is installed, the other \
                reported. A missing directory holds no policy. sbx-policies.service runs \
                this at boot, after the module is loaded. Format: specs/policy-directory.md.

                Exit status: 0 every saved policy installed (or none saved); 1 at least one \
                file failed (each reported; the others installed); 2 the directory cannot \
                be read; 101 the module is not loaded; 104 not privileged (nothing is \
                installed then).
                """)

        @Option(name: .long, help: "The policy directory (default: $SBX_POLICY_DIR, else /etc/sbx/policies).")
        var policyDir: String?

        @Option(name: .long, help: "The module's device.")
        var device: String = SandboxDevice.defaultPath

        func run() throws {
            let directory = PolicyDirectory.path(option: policyDir)
            let names = try PolicyDirectory.fileNames(in: directory)
            // Opened first: without the module or the privilege nothing can load, and
            // that is one error, not one per file.
            let handle = try SandboxDevice(path: device)
            var failed = 0
            var loaded = 0
            var firstFile: [String: String] = [:]
            for name in names {
                let path = directory + "/" + name
                do {
                    let entry = try PolicyDirectory.read(path)
                    if let first = firstFile[entry.executable] {
                        throw UsageError("\(entry.executable) is already saved in \(first), which was loaded instead")
                    }
                    firstFile[entry.executable] = path
                    let installed = try Registry.install(
                        policyPath: entry.policy, executable: entry.executable, mode: entry.mode, action: entry.action,
                        exec: entry.exec, replace: true, bounds: entry.bounds, device: handle)
                    loaded += 1
                    print(
                        "loaded: \(path): \(entry.executable) policy \(installed.policyID) mode \(entry.mode.rawValue) "
                            + "action \(entry.action.rawValue) exec \(entry.exec.rawValue)")
                } catch RunError.moduleNotLoaded(let device) {
                    throw RunError.moduleNotLoaded(device: device)
                } catch RunError.notPrivileged(let device, let operation) {
                    throw RunError.notPrivileged(device: device, operation: operation)
                } catch let error as PolicyDirectory.Malformed {
                    failed += 1
                    Diagnostics.printError("sbx: error: \(error.description); not loaded")
                } catch let error as CategorizedError {
                    failed += 1
                    Diagnostics.printError("sbx: error: \(path): not loaded: \(error.description)")
                }
            }
            print("load-all: \(loaded) loaded, \(failed) failed, from \(directory)")
            if failed > 0 { throw CommandOutcome(.refused) }
        }
    }
}
