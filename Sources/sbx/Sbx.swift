import ArgumentParser
import SbxCLI

@main
struct Sbx: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sbx",
        abstract: "Check, convert, draw, measure and enforce Dyck libc-call policies.",
        discussion: """
            Exit status: 0 success or allowed, 1 refused (check) or different (diff), 2 bad input \
            (usage, unreadable or malformed file), 3 an output could not be written, \
            4 a required tool is missing, 70 internal error. sbx vm and sbx record \
            exit with the command's own status; sbx vm also with 124 (the guest timed \
            out) and 125 (the guest failed before the command's status was known). \
            sbx run, sbx policy, sbx status and sbx events: 100 the monitor killed the program, 101 \
            the kernel module is not loaded, 102 the policy is missing or corrupt, 103 \
            the program is not instrumented, 104 not privileged, 105 the policy is not \
            the program's (see their --help).
            """,
        version: "sbx " + ToolVersion.text,
        subcommands: [
            Check.self, Convert.self, DotCommand.self, Diff.self, Stats.self, Record.self, BlobCommand.self, Vm.self,
            Run.self, PolicyCommand.self, Status.self, Events.self
        ]
    )

    static func main() {
        let arguments = PassthroughTail.split(
            Array(CommandLine.arguments.dropFirst()), subcommands: ["run", "record", "vm", "check"])
        mainWithExitStatus(toolName: "sbx", arguments: arguments)
    }
}
