import ArgumentParser
import SbxBlob

/// The two bounds of a thread's monitor stack that a blob carries (specs/kernel-abi.md,
/// "Stepping"): `sbx blob`, `sbx run` and `sbx policy install` take them alike.
struct StackBoundOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Slots per thread for distinct frames and setjmp records (1...\(BlobLimits.maxStackLimit)).",
            discussion: "Recursion through one call site folds into one slot; the kernel preallocates 16 bytes a slot.")
    )
    var stackLimit: Int = BlobLimits.defaultStackLimit

    @Option(
        help:
            "Frames per thread, folded recursion included, before a call is a violation (1...\(BlobLimits.maxMaxDepth))."
    )
    var maxDepth: Int = BlobLimits.defaultMaxDepth

    func validate() throws {
        guard (1...BlobLimits.maxStackLimit).contains(stackLimit) else {
            throw ValidationError("--stack-limit must be within 1...\(BlobLimits.maxStackLimit)")
        }
        guard (1...BlobLimits.maxMaxDepth).contains(maxDepth) else {
            throw ValidationError("--max-depth must be within 1...\(BlobLimits.maxMaxDepth)")
        }
    }
}
