import Foundation
import DyckAnalysis

/// One command-line argument of the compiler driver, or an option together with its
/// separate value (`-o out`, `-MF dep.d`), classified by what `dyck-cc` must do with
/// it. `words` are exactly as the user wrote them, so a command can be rebuilt by
/// concatenating the words of the entries it keeps.
struct Argument: Equatable {
    enum Kind: Equatable {
        /// A file operand; `language` is the `-x` in effect (nil: from the file name).
        case input(path: String, language: String?)
        /// `-lNAME`, `-l NAME`, `-l:FILE`.
        case library(String)
        /// `-o PATH`.
        case output(String)
        /// `-L DIR`.
        case libraryDirectory(String)
        /// `-x LANG`.
        case language(String)
        /// Options that make clang write dependency files (`-MD`, `-MF x`, `-Wp,-MD,x`, ...).
        case dependencies
        /// Words that reach the linker: from `-Wl,a,b`, `-Xlinker a`, or `-u sym`.
        case linker([String])
        /// Any other option, with its separate value if it takes one.
        case option
    }

    var words: [String]
    var kind: Kind

    var flag: String { words[0] }
}

/// Why a command line goes to clang unchanged.
enum PassThroughReason: Equatable, CustomStringConvertible {
    /// An option that asks for something other than an object or an executable
    /// (`-E`, `-S`, `--version`, `-print-…`, `-flto`, …).
    case option(String)
    case noInputFiles
    case inputFromStandardInput
    case precompiledHeader
    case noCSourceToCompile
    /// `-shared`: policies are made for executables.
    case sharedLibrary
    /// An input that does not exist: clang reports it, in its words.
    case missingInput(String)

    var description: String {
        switch self {
        case let .option(flag): return flag
        case .noInputFiles: return "no input files"
        case .inputFromStandardInput: return "input from stdin"
        case .precompiledHeader: return "precompiled header"
        case .noCSourceToCompile: return "no C source to compile"
        case .sharedLibrary: return "-shared"
        case let .missingInput(path): return "missing input \(path)"
        }
    }
}

/// What kind of job a command line asks for.
enum Mode: Equatable {
    /// Run clang unchanged: preprocessing, assembly output, queries, shared libraries...
    case passThrough(PassThroughReason)
    /// `-c`: objects that also carry their bitcode.
    case compile
    /// A link to an executable, with a policy.
    case link
}

/// A parsed command line.
struct CommandLineArguments {
    var arguments: [Argument] = []
    /// Options for `dyck-cc` itself (`--dyck-...`), removed from what clang sees.
    var entry = "main"
    var libc: String?
    var libcEvents: LibcEventSelection = .effectful
    /// `--dyck-inline=K` (`AnalysisOptions.inlineLimit`).
    var inlineLimit = defaultInlineLimit
    /// `--dyck-buffer`: buffered events (`InstrumentOptions.bufferEvents`).
    var bufferEvents = false
    var verbose = false
    /// `--dyck-time-report` or `DYCK_CC_TIME_REPORT=1`: a link prints where its
    /// time went (`TimeReport`).
    var timeReport =
        ProcessInfo.processInfo.environment["DYCK_CC_TIME_REPORT"].map { !$0.isEmpty && $0 != "0" } ?? false
    var help = false
    /// `--dyck-version`: print dyck-cc's version and commit (`--version` is clang's).
    var version = false

    /// Options that take their value in the next word when written alone.
    static let separateValue: Set<String> = [
        "-o", "-I", "-L", "-l", "-D", "-U", "-x", "-MF", "-MT", "-MQ", "-MJ",
        "-include", "-imacros", "-isystem", "-idirafter", "-iquote", "-isysroot", "-iprefix",
        "-iwithprefix", "-iwithprefixbefore", "-iframework", "-cxx-isystem", "-isystem-after",
        "-ivfsoverlay", "-imultilib", "-F", "-Xlinker", "-Xassembler", "-Xpreprocessor", "-Xclang",
        "-Xanalyzer", "-Xopenmp-target", "-mllvm", "-target", "-arch", "-dependency-file",
        "-dependency-dot", "-serialize-diagnostics", "--serialize-diagnostics", "-working-directory",
        "-resource-dir", "--param", "-u", "-e", "-T", "-Ttext", "-Tdata", "-Tbss", "-z", "-B", "-A",
        "--output", "--include-directory", "--library-directory", "--language", "--define-macro",
        "--undefine-macro", "--include", "--for-linker", "--sysroot", "--prefix", "--config",
        "--assert", "-aux-info", "--gcc-toolchain", "-G"
    ]

    /// Parses `words` (already expanded from response files). `--dyck-*` options are
    /// taken out; everything else is kept in order.
    init(_ words: [String]) throws {
        var result: [Argument] = []
        var language: String? = nil
        var index = 0
        var onlyInputs = false
        while index < words.count {
            let word = words[index]
            index += 1
            if onlyInputs || word == "-" || !word.hasPrefix("-") {
                result.append(Argument(words: [word], kind: .input(path: word, language: language)))
                continue
            }
            if word == "--" {
                onlyInputs = true
                result.append(Argument(words: [word], kind: .option))
                continue
            }
            if word.hasPrefix("--dyck-") {
                try takeDriverOption(word)
                continue
            }
            var group = [word]
            var value: String? = nil
            if CommandLineArguments.separateValue.contains(word) {
                guard index < words.count else {
                    // Let clang report the missing value in its own words.
                    result.append(Argument(words: group, kind: .option))
                    continue
                }
                value = words[index]
                group.append(words[index])
                index += 1
            }
            result.append(
                Argument(words: group, kind: CommandLineArguments.classify(word, value: value, language: &language)))
        }
        arguments = result
    }

    private mutating func takeDriverOption(_ word: String) throws {
        if word.hasPrefix("--dyck-entry=") {
            entry = String(word.dropFirst("--dyck-entry=".count))
            if entry.isEmpty { throw DriverError.usage("--dyck-entry= needs a function name") }
        } else if word.hasPrefix("--dyck-libc=") {
            libc = String(word.dropFirst("--dyck-libc=".count))
        } else if word.hasPrefix("--dyck-libc-events=") {
            let value = String(word.dropFirst("--dyck-libc-events=".count))
            guard let selection = LibcEventSelection(rawValue: value) else {
                throw DriverError.usage("--dyck-libc-events= takes 'effectful' or 'all', not '\(value)'")
            }
            libcEvents = selection
        } else if word.hasPrefix("--dyck-inline=") {
            let value = String(word.dropFirst("--dyck-inline=".count))
            guard let limit = Int(value), limit >= 0 else {
                throw DriverError.usage("--dyck-inline= takes a number of states (0 inlines nothing), not '\(value)'")
            }
            inlineLimit = limit
        } else if word == "--dyck-buffer" {
            bufferEvents = true
        } else if word == "--dyck-verbose" {
            verbose = true
        } else if word == "--dyck-time-report" {
            timeReport = true
        } else if word == "--dyck-help" {
            help = true
        } else if word == "--dyck-version" {
            version = true
        } else {
            throw DriverError.usage(
                "unknown option '\(word)' (dyck-cc knows --dyck-entry=NAME, --dyck-libc=PATH, --dyck-libc-events=effectful|all, --dyck-inline=K, --dyck-buffer, --dyck-verbose, --dyck-time-report, --dyck-help, --dyck-version)"
            )
        }
    }

    /// Classifies an option given its separate value, if any; updates the `-x` state.
    private static func classify(_ word: String, value: String?, language: inout String?) -> Argument.Kind {
        func joined(_ prefix: String) -> String? {
            if word == prefix { return value }
            if word.hasPrefix(prefix) { return String(word.dropFirst(prefix.count)) }
            return nil
        }
        if word == "-o" || word == "--output" { return .output(value ?? "") }
        if let path = joined("--output=") { return .output(path) }
        if word.hasPrefix("-o"), !word.hasPrefix("-objc") { return .output(String(word.dropFirst(2))) }
        if word == "-x" || (word.hasPrefix("-x") && word.count > 2) || word == "--language"
            || word.hasPrefix("--language=")
        {
            let lang = value ?? (word.hasPrefix("--language=") ? String(word.dropFirst(11)) : String(word.dropFirst(2)))
            language = (lang == "none") ? nil : lang
            return .language(lang)
        }
        if let name = joined("-l") { return .library(name) }
        if let dir = joined("-L") ?? joined("--library-directory=") ?? (word == "--library-directory" ? value : nil) {
            return .libraryDirectory(dir)
        }
        if word == "-Xlinker" || word == "--for-linker" { return .linker(value.map { [$0] } ?? []) }
        if word.hasPrefix("-Wl,") {
            return .linker(word.dropFirst(4).split(separator: ",", omittingEmptySubsequences: false).map(String.init))
        }
        if word == "-u" { return .linker(["-u"] + (value.map { [$0] } ?? [])) }
        if isDependencyOption(word) { return .dependencies }
        return .option
    }

    /// Options that write dependency files: the bitcode compile must not write them a
    /// second time (or to a temporary name).
    static func isDependencyOption(_ word: String) -> Bool {
        if ["-MD", "-MMD", "-MG", "-MP", "-MV"].contains(word) { return true }
        for prefix in [
            "-MF", "-MT", "-MQ", "-MJ", "-dependency-file", "-dependency-dot", "--write-dependencies",
            "--write-user-dependencies", "--user-dependencies"
        ] where word.hasPrefix(prefix) {
            return true
        }
        if word.hasPrefix("-Wp,-M") { return true }
        return false
    }

    // MARK: Queries

    /// The language of an input for `dyck-cc`'s purposes.
    enum InputKind: Equatable {
        /// C, C++, Objective-C and their preprocessed forms: compiled with bitcode.
        case source
        /// Assembly: compiled, but no bitcode.
        case assembly
        /// LLVM IR (.bc, .ll): is bitcode already.
        case ir
        /// Headers: a precompiled header job, not something dyck-cc handles.
        case header
        /// Objects, archives, shared libraries, linker scripts.
        case linkerInput
    }

    static func inputKind(path: String, language: String?) -> InputKind {
        if let language {
            switch language {
            case "c", "c++", "objective-c", "objective-c++", "cpp-output", "c++-cpp-output",
                "objective-c-cpp-output", "objc-cpp-output", "objective-c++-cpp-output", "objc++-cpp-output":
                return .source
            case "assembler", "assembler-with-cpp": return .assembly
            case "ir", "ll", "bc": return .ir
            default:
                return language.hasSuffix("header") || language.hasSuffix("-header") ? .header : .linkerInput
            }
        }
        let ext = URL(fileURLWithPath: path).pathExtension
        switch ext {
        case "c", "i", "cc", "cp", "cpp", "cxx", "c++", "C", "CC", "CPP", "ii", "m", "mi", "mm", "mii", "M":
            return .source
        case "s", "S", "sx", "asm": return .assembly
        case "bc", "ll": return .ir
        case "h", "hh", "hpp", "hxx", "H", "h++", "tcc", "inc": return .header
        default: return .linkerInput
        }
    }

    func hasFlag(_ flag: String) -> Bool {
        arguments.contains { $0.kind == .option && $0.flag == flag }
    }

    var inputs: [(path: String, language: String?)] {
        arguments.compactMap {
            if case let .input(path, language) = $0.kind { return (path, language) }
            return nil
        }
    }

    var outputPath: String? {
        arguments.reduce(nil) { last, argument in
            if case let .output(path) = argument.kind { return path }
            return last
        }
    }

    /// Decides the job, conservatively: anything `dyck-cc` does not fully understand
    /// goes to clang unchanged.
    var mode: Mode {
        var compile = false
        for argument in arguments where argument.kind == .option {
            let flag = argument.flag
            switch flag {
            case "-c": compile = true
            case "-E", "-S", "-M", "-MM", "-fsyntax-only", "-emit-llvm", "-emit-ast", "-###", "--version",
                "-dumpversion", "-dumpmachine", "-dumpspecs", "-dumpfullversion", "--help", "-help",
                "-r", "-relocatable", "--relocatable", "-precompile", "--precompile", "-save-temps",
                "-fdriver-only", "-Xarch_device", "-cc1", "-cc1as":
                return .passThrough(.option(flag))
            default:
                if flag.hasPrefix("-print-") || flag.hasPrefix("--print-") || flag.hasPrefix("-save-temps=") {
                    return .passThrough(.option(flag))
                }
            }
        }
        let inputs = self.inputs
        if inputs.isEmpty { return .passThrough(.noInputFiles) }
        if inputs.contains(where: { $0.path == "-" }) { return .passThrough(.inputFromStandardInput) }
        let kinds = inputs.map { CommandLineArguments.inputKind(path: $0.path, language: $0.language) }
        if kinds.contains(.header) { return .passThrough(.precompiledHeader) }
        if compile {
            // -flto and -fembed-bitcode already put bitcode in (or as) the object.
            for argument in arguments where argument.kind == .option {
                let flag = argument.flag
                if flag.hasPrefix("-flto") || flag.hasPrefix("-fembed-bitcode") {
                    return .passThrough(.option(flag))
                }
            }
            if !kinds.contains(.source) { return .passThrough(.noCSourceToCompile) }
            return .compile
        }
        if hasFlag("-shared") { return .passThrough(.sharedLibrary) }
        return .link
    }

    /// Whether debug information was asked for: the last `-g…` option that sets a level
    /// is not `-g0`.
    var debugRequested: Bool {
        var requested = false
        for argument in arguments where argument.kind == .option {
            if let level = CommandLineArguments.debugLevel(argument.flag) { requested = level }
        }
        return requested
    }

    /// true for options that turn debug information on, false for `-g0`, nil for the
    /// `-g…` options that only tune it (`-gsplit-dwarf`, `-gz`, `-gcolumn-info`, ...).
    static func debugLevel(_ flag: String) -> Bool? {
        guard flag.hasPrefix("-g") else { return nil }
        switch flag {
        case "-g0", "-ggdb0":
            return false
        default: break
        }
        if flag == "-g" || flag == "-g1" || flag == "-g2" || flag == "-g3" || flag == "-gfull" || flag == "-gmlt"
            || flag == "-gline-tables-only" || flag.hasPrefix("-ggdb") || flag.hasPrefix("-gdwarf")
            || flag == "-glldb" || flag == "-gsce" || flag == "-gdbx" || flag == "-gcodeview" || flag == "-gstabs"
        {
            return true
        }
        return nil
    }
}

/// Expands `@file` response files (GNU quoting: whitespace separates, single and double
/// quotes group, backslash escapes), recursively, as clang and gcc do. A file that
/// cannot be read stays as the literal word, which is also what they do.
func expandResponseFiles(_ words: [String], depth: Int = 0) -> [String] {
    var result: [String] = []
    for word in words {
        guard word.hasPrefix("@"), word.count > 1, depth < 16,
            let data = FileManager.default.contents(atPath: String(word.dropFirst()))
        else {
            result.append(word)
            continue
        }
        result += expandResponseFiles(splitResponseFile(String(decoding: data, as: UTF8.self)), depth: depth + 1)
    }
    return result
}

func splitResponseFile(_ text: String) -> [String] {
    var words: [String] = []
    var current = ""
    var inWord = false
    var quote: Character? = nil
    var escaped = false
    for ch in text {
        if escaped {
            current.append(ch)
            escaped = false
            inWord = true
        } else if ch == "\\" {
            escaped = true
            inWord = true
        } else if let q = quote {
            if ch == q { quote = nil } else { current.append(ch) }
        } else if ch == "\"" || ch == "'" {
            quote = ch
            inWord = true
        } else if ch.isWhitespace {
            if inWord { words.append(current) }
            current = ""
            inWord = false
        } else {
            current.append(ch)
            inWord = true
        }
    }
    if inWord { words.append(current) }
    return words
}
