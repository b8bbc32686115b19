import ArgumentParser
import DyckModel
import SbxCLI

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare two policies by what they allow, not by their text.",
        discussion: """
            Functions are matched by name (states, sites and symbols are renumbered \
            between builds, so nothing is compared by number). For each function in \
            both, prints every libc call, call of a function (by callee name) and \
            return that became possible (+) or impossible (-), each with a shortest \
            example: the events of that function up to and including the changed one. \
            A header names a shortest chain of calls from main (or a callback) to the \
            function. Then the functions, callbacks and entry that only one policy has.

            Both policies must be of the same kind (dyck or nfa). Exit status, as \
            diff(1): 0 the policies allow the same, 1 they differ, 2 bad input (usage, \
            unreadable or malformed policy).
            """
    )

    @Argument(help: "The old policy file.")
    var old: String

    @Argument(help: "The new policy file.")
    var new: String

    func run() throws {
        let before = try Policy.load(path: old)
        let after = try Policy.load(path: new)
        guard before.kind == after.kind else {
            throw UsageError(
                "\(old) is a \(before.kind.rawValue) policy and \(new) a \(after.kind.rawValue) one; convert one (sbx convert) to compare them"
            )
        }
        let diff = PolicyDiff(old: before, new: after)
        if diff.isEmpty { return }
        print("--- \(old)\n+++ \(new)")
        print(diff.text(old: old, new: new), terminator: "")
        throw CommandOutcome(.refused)
    }
}
