import ArgumentParser
import DyckModel
import SbxBlob
import SbxCLI

struct BlobCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "blob",
        abstract: "Compile a policy into the kernel monitor's binary blob.",
        discussion: """
            The blob (specs/kernel-abi.md) is what /dev/sbx loads: a deterministic \
            machine over macro-states, so that the kernel steps each marker with a few \
            table look-ups. Give the policy dyck-gen wrote for the program; --mode nfa \
            builds the single-copy flattened model for the same instrumented binary.
            """
    )

    @Argument(help: "The policy file (.dyck) written by dyck-gen or dyck-cc.")
    var policy: String

    @Option(name: .shortAndLong, help: "Where to write the blob.")
    var output: String

    @Option(help: "dyck: calls and returns must match; nfa: single-copy flattened model.")
    var mode: CheckMode = .dyck

    @Option(help: "Frames per thread before a push is a violation (1...\(BlobLimits.maxStackLimit)).")
    var stackLimit: Int = BlobLimits.defaultStackLimit

    func validate() throws {
        guard (1...BlobLimits.maxStackLimit).contains(stackLimit) else {
            throw ValidationError("--stack-limit must be within 1...\(BlobLimits.maxStackLimit)")
        }
    }

    func run() throws {
        let loaded = try Policy.load(path: policy)
        let bytes = try buildBlob(policy: loaded, mode: mode == .dyck ? .dyck : .nfa, stackLimit: stackLimit)
        try AtomicFile.write(bytes, to: output)
        Diagnostics.note("wrote \(output): \(bytes.count) bytes (\(mode.rawValue) mode, stack limit \(stackLimit))")
    }
}
