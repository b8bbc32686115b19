import CBuildInfo
import Foundation
import DyckAnalysis
#if canImport(Glibc)
import Glibc
#endif

/// `dyck-cc`, a drop-in `cc`: compiles like clang-19, keeps bitcode in the objects, and
/// at link time derives the program's policy (`EXE.dyck`) and links the program
/// instrumented with marker system calls.
///
/// - `-c`: the user's compile runs unchanged; the same compile is repeated to bitcode
///   (with `-gline-tables-only` unless the user asked for debug information, so that
///   policies name source lines) and added to the object in SHF_EXCLUDE sections
///   (`Compiler`). The object's code and debug information are the user's.
/// - A link to an executable gathers the bitcode of the objects, of the sources on the
///   line and of the archive members the linker would take, links it with llvm-link,
///   analyses and instruments the whole program, compiles it with the compile lines'
///   optimization level and backend flags, and links it with everything that has no
///   bitcode (`Linker`). Debug information reaches the executable only if asked for.
/// - Everything else (`-E`, `-S`, `-M`, queries, `-shared`, `-r`, `-flto` compiles,
///   stdin input, missing inputs, ...) is clang-19's job, unchanged.
///
/// Limits: the policy covers code with bitcode only (prebuilt objects, libraries
/// without bitcode and shared libraries are warned about and linked as they are);
/// shared libraries get no policy; `-MD` on a link line that compiles sources writes
/// no dependency file; concatenated bitcode in one section (from `ld -r`) is not split.
public enum Driver {
    /// `dyck-cc --dyck-help`; `--help` and every other clang option go to clang.
    public static let help = """
        dyck-cc: a drop-in C compiler (clang-19) that builds programs together with their
        Dyck libc-call policy and marker instrumentation.

        USAGE: dyck-cc [clang options] [--dyck-OPTION...] FILES...

          -c            compile as clang does; the object also carries the file's bitcode
          (link)        gather the bitcode of every object, source and static library
                        linked, analyse and instrument the whole program, write the
                        executable and EXE.dyck next to it
          -E, -S, -M*, --version, -print-*, ...   passed to clang-19 unchanged

        dyck-cc options (removed before clang sees the command):
          --dyck-entry=NAME   the function where runs start (default main)
          --dyck-libc=PATH    the C library whose exported functions count as libc
          --dyck-libc-events=effectful|all
                              which libc calls are events (default effectful:
                              not memcpy, strlen, malloc, free, gettimeofday and
                              others whose effects stay in the process; see
                              specs/analysis.md)
          --dyck-inline=K     inline small callees: a direct call of a function whose
                              automaton has at most K states (its own sites kept) gets
                              no CALL/RET markers (default \(defaultInlineLimit); 0: none)
          --dyck-buffer       buffered events: CALL/RET/TAIL, callback events and the
                              LIBC events of libc functions that cannot make a
                              sensitive system call are appended to a per-thread
                              buffer, which the monitor replays at the thread's next
                              system call, instead of each being a marker system call
                              (a full buffer makes a marker); other events stay
                              markers (specs/marker-abi.md, "Buffered events")
          --dyck-verbose      print the commands run (also DYCK_CC_VERBOSE=1)
          --dyck-time-report  after a link, print to stderr the wall and CPU time of
                              each phase (inputs, llvm-link, read bitcode, analysis,
                              instrumentation, write bitcode, codegen, final link) and
                              the peak memory (also DYCK_CC_TIME_REPORT=1)
          --dyck-help         this text
          --dyck-version      dyck-cc's version and git commit (--version is clang's)

        Inputs without bitcode (prebuilt objects, libraries built without dyck-cc) still
        link, with a warning: the policy does not cover them.

        Exit status: clang's when clang fails; 2 bad input, 3 an output could not be
        written, 4 a required tool is missing, 70 internal error.
        """

    /// Runs the driver on `arguments` (without the program name). Returns the exit
    /// status on success; throws `ToolFailed` when clang or a tool failed (the caller
    /// exits with its status) and `CategorizedError`s for the driver's own failures.
    /// For commands passed to clang unchanged it does not return: clang replaces the
    /// process.
    public static func run(arguments: [String]) throws -> Int32 {
        let expanded = expandResponseFiles(arguments)
        let command = try CommandLineArguments(expanded)
        if command.help {
            print(Driver.help)
            return 0
        }
        if command.version {
            print("dyck-cc \(String(cString: sbx_build_version())) (commit \(String(cString: sbx_build_commit())))")
            return 0
        }
        ToolRunner.verbose =
            command.verbose
            || ProcessInfo.processInfo.environment["DYCK_CC_VERBOSE"].map { !$0.isEmpty && $0 != "0" } ?? false
        let toolchain = try Toolchain.find()

        var mode = command.mode
        if mode != .passThrough(.noInputFiles) {
            // A missing input is clang's to report, in its words.
            for input in command.inputs where input.path != "-" && access(input.path, F_OK) != 0 {
                mode = .passThrough(.missingInput(input.path))
            }
        }
        switch mode {
        case let .passThrough(reason):
            if reason == .sharedLibrary {
                Log.warning(
                    "shared library: linked without instrumentation, no policy (policies are made for executables)")
            }
            if ToolRunner.verbose { Log.note("passing the command to clang unchanged (\(reason))") }
            // The user's words as given (response files unexpanded), minus dyck-cc's own.
            throw ToolRunner.exec([toolchain.clang] + arguments.filter { !$0.hasPrefix("--dyck-") })
        case .compile:
            let temporaries = try Temporaries()
            Temporaries.installSignalHandlers()
            defer { Temporaries.removeAll() }
            try Compiler(toolchain: toolchain, temporaries: temporaries).compile(command)
            return 0
        case .link:
            let temporaries = try Temporaries()
            Temporaries.installSignalHandlers()
            defer { Temporaries.removeAll() }
            if let summary = try Linker(toolchain: toolchain, temporaries: temporaries, command: command).link() {
                Log.note(summary.description)
            }
            return 0
        }
    }
}

extension LinkSummary: CustomStringConvertible {
    public var description: String {
        "\(executable): wrote \(policyPath): \(functions) functions, \(sites) call sites, \(symbols) libc functions; "
            + "instrumented \(report.instrumentedSites) of \(report.programCalls) program calls as sites, "
            + "\(report.libcMarkers) libc calls, \(report.markers) markers in all"
            + (report.appends > 0 ? ", \(report.appends) of them buffered" : "")
    }
}
