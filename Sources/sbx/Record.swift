import ArgumentParser
import SbxCLI
import SbxTrace
#if canImport(Glibc)
import Glibc
#endif

struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a program under ptrace and write its marker events to a trace file.",
        discussion: """
            The program runs natively, with its own standard input, output and error; \
            the recorder only observes. Every marker system call (999) of every thread \
            and process it creates is written to the trace, with its forks, threads, \
            execs and exits (specs/trace-format.md). The trace is written as the program \
            runs; one without its final 'end' line is incomplete. Options of record \
            come before the command.

            A program built with dyck-cc --dyck-buffer keeps most of its events in a \
            buffer in its memory: at each system call the recorder reads and clears that \
            buffer, as the monitor would, and writes its events as markers before the \
            call, so the trace is the one of a build without the option.

            Exit status: the program's own (128+N if a signal N killed it), once every \
            process it started has ended; 2 if the command cannot be run, 3 if the \
            trace cannot be written, 4 if the system refuses to trace it.
            """
    )

    @Option(name: .shortAndLong, help: "Where to write the trace.")
    var output: String

    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments ([--] CMD [ARGS...]).")
    var command: [String] = []

    func run() throws {
        var argv = PassthroughTail.complete(command)
        if argv.first == "--" { argv.removeFirst() }
        guard !argv.isEmpty else {
            throw UsageError("missing the command to record: sbx record -o TRACE [--] CMD [ARGS...]")
        }
        let outcome = try TraceRecorder.record(command: argv, output: output)
        for task in outcome.lostTasks {
            Diagnostics.warning("task \(task) was not recorded: its creator was killed while creating it")
        }
        let status = outcome.termination.shellStatus
        // The program's status is any number, which `CommandOutcome` (a fixed set of
        // tool statuses) cannot carry: exit here, after flushing like the usual path.
        if status != 0 {
            fflush(nil)  // every stream: stdout is a C global Swift 6 will not read
            Glibc.exit(status)
        }
    }
}
