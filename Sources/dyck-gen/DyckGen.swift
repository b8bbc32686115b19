import ArgumentParser
import DyckAnalysis
import DyckInstrument
import DyckModel
import Foundation
import LibcSyscalls
import SbxCLI

@main
struct DyckGen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dyck-gen",
        abstract: "Derive a Dyck libc-call policy from a program's LLVM IR.",
        discussion: """
            Reads textual (.ll) or bitcode (.bc) LLVM 19 IR, as produced by clang-19 \
            (use -g for source lines in reports), and writes NAME.dyck next to the \
            input or into the directory given with -o. Each defined function becomes \
            an automaton over its libc calls and its calls into the program; the \
            libc functions are those exported by the system's C library.

            Exit status: 0 success, 2 bad input (unreadable file, IR that does not \
            parse, no entry function), 3 the policy could not be written, 4 the C \
            library's symbols could not be read, 70 internal error.

            With --instrument, also writes NAME.inst.ll (NAME.inst.bc for bitcode \
            input) beside the policy: the program rewritten to make the marker system \
            calls of specs/marker-abi.md, with the ids of that very policy.

            With --libc-syscalls, the arguments are libc function names instead: prints \
            the system calls each can make, as derived from libc.so.6 and the dynamic \
            loader (specs/libc-syscalls.md); without names, every exported function.
            """,
        version: "dyck-gen " + ToolVersion.text
    )

    @Argument(help: "LLVM IR of the whole program (.ll or .bc); with --libc-syscalls, libc function names.")
    var arguments: [String] = []

    @Flag(help: "Print the system-call set of each named libc function (all exported functions when none is named).")
    var libcSyscalls = false

    @Option(
        help: "The dynamic loader whose code dlopen and process start-up run (default /lib64/ld-linux-x86-64.so.2).")
    var loader: String?

    var input: String { arguments[0] }

    func validate() throws {
        if inlineLimit < 0 { throw ValidationError("--inline-limit takes a number of states (0 inlines nothing)") }
        if bufferEvents && !instrument { throw ValidationError("--buffer-events needs --instrument") }
        if !libcSyscalls && arguments.count != 1 {
            throw ValidationError(
                arguments.isEmpty
                    ? "Missing expected argument '<input>'" : "Expected one input file, got \(arguments.count)")
        }
    }

    @Option(
        name: .shortAndLong,
        help: "Directory for the policy (default: next to the input); created if missing, but not its parents.")
    var output: String?

    @Option(help: "The function where a run starts.")
    var entry: String = "main"

    @Option(
        help: "The C library to take libc's symbols from (libc.so.6, libc_nonshared.a, or the libc.so linker script).")
    var libc: String?

    @Option(
        help: ArgumentHelp(
            "Which libc calls are events: 'effectful' (default) leaves out functions whose effects stay in the process (memcpy, strlen, malloc, free, gettimeofday, ...; specs/analysis.md), 'all' keeps every libc call.",
            valueName: "effectful|all"))
    var libcEvents: LibcEventSelection = .effectful

    @Option(
        help: ArgumentHelp(
            "Inline small callees: a direct call whose callee's automaton has at most K states gets no CALL/RET markers (the callee's own call sites stay sites); 0 inlines nothing (specs/analysis.md).",
            valueName: "K"))
    var inlineLimit: Int = defaultInlineLimit

    @Flag(
        help: "Also write the instrumented program (NAME.inst.ll, or NAME.inst.bc for bitcode input) beside the policy."
    )
    var instrument = false

    @Flag(
        help:
            "With --instrument: buffered events (as dyck-cc --dyck-buffer): site and callback events and the libc calls that cannot make a sensitive system call are appended to a per-thread buffer instead of being marker system calls (specs/marker-abi.md, \"Buffered events\")."
    )
    var bufferEvents = false

    @Flag(name: .shortAndLong, help: "Print warnings only, no summary.")
    var quiet = false

    static func main() {
        mainWithExitStatus(toolName: "dyck-gen")
    }

    func run() throws {
        if libcSyscalls { return try printLibcSyscalls() }
        var options = AnalysisOptions()
        options.entry = entry
        options.libcPath = libc
        options.libcEvents = libcEvents
        options.inlineLimit = inlineLimit
        options.loaderPath = loader
        if !quiet { options.progress = { @Sendable line in Diagnostics.note("libc system calls: \(line)") } }
        let program =
            instrument
            ? try instrumentIR(
                atPath: input, analysisOptions: options, options: InstrumentOptions(bufferEvents: bufferEvents)) : nil
        let result = try program?.analysis ?? analyzeIR(atPath: input, options: options)
        for finding in result.warnings + (program?.report.warnings ?? []) {
            Diagnostics.printError("dyck-gen: warning: \(finding)")
        }
        try result.policy.validate()
        let path = try outputPath()
        try result.policy.write(to: path)
        let instrumentedPath = try program.map { program in
            let name = base() + ".inst." + program.format.fileExtension
            let target = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(name).path
            try program.write(to: target)
            return target
        }
        if !quiet {
            let policy = result.policy
            let states = policy.functions.reduce(0) { $0 + $1.automaton.stateCount }
            Diagnostics.note(
                "wrote \(path): \(policy.functions.count) functions, \(policy.sites.count) call sites, \(policy.symbols.count) libc functions, \(states) states"
            )
            if let program, let instrumentedPath {
                let report = program.report
                Diagnostics.note(
                    "wrote \(instrumentedPath): \(report.markers) markers, \(report.libcMarkers) before libc calls, \(report.instrumentedSites) of \(report.programCalls) program calls instrumented as sites, \(report.thunks) callback thunks, \(report.setjmpPoints) setjmp points\(bufferEvents ? ", \(report.appends) events buffered" : "")"
                )
            }
        }
    }

    /// `--libc-syscalls`: one line per function, `NAME [exec] [write] [callback]: call call ...`.
    private func printLibcSyscalls() throws {
        let path = try libcSharedObjectPath(libc)
        let table = try LibcSyscallCache.load(
            libcPath: path, loaderPath: loader ?? LibcSyscallAnalysis.defaultLoaderPath,
            progress: quiet ? nil : { Diagnostics.note("libc system calls: \($0)") })
        let names = arguments.isEmpty ? table.functions.keys.sorted() : arguments
        var output = ""
        func line(_ name: String, _ set: SystemCallSet, callback: Bool) {
            output += name
            if set.mapsExecutable { output += " [exec]" }
            if set.opensForWriting { output += " [write]" }
            if callback { output += " [callback]" }
            output += ":"
            for number in set.numbers { output += " " + SystemCallNames.describe(number) }
            output += "\n"
        }
        var missing: [String] = []
        for name in names {
            if name == "<start>" {
                line(name, table.startSet, callback: false)
            } else if name == "<ambient>" {
                line(name, LibcSyscallTable.ambient, callback: false)
            } else if let summary = table[name] {
                line(name, summary.set, callback: summary.mayCallBack)
            } else {
                missing.append(name)
            }
        }
        print(output, terminator: "")
        if !missing.isEmpty {
            throw ValidationError("not exported by \(path): \(missing.joined(separator: ", "))")
        }
    }

    /// The input's file name without its .ll or .bc suffix.
    private func base() -> String {
        var base = URL(fileURLWithPath: input).lastPathComponent
        for suffix in [".ll", ".bc"] where base.hasSuffix(suffix) && base.count > suffix.count {
            base.removeLast(suffix.count)
            break
        }
        return base
    }

    private func outputPath() throws -> String {
        let inputURL = URL(fileURLWithPath: input)
        let name = base() + ".dyck"
        guard let output else {
            return inputURL.deletingLastPathComponent().appendingPathComponent(name).path
        }
        // The directory itself may be new, as with mkdir(1); a missing parent is a
        // mistyped path, never created behind the user's back.
        var info = stat()
        if stat(output, &info) != 0 {
            guard mkdir(output, 0o777) == 0 else {
                throw OutputError(path: output, reason: "cannot create directory: \(String(cString: strerror(errno)))")
            }
        } else if info.st_mode & S_IFMT != S_IFDIR {
            throw OutputError(path: output, reason: "not a directory")
        }
        return URL(fileURLWithPath: output).appendingPathComponent(name).path
    }
}

extension LibcEventSelection: ExpressibleByArgument {}
