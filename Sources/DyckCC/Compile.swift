import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `dyck-cc -c`: the user's compile, unchanged, then the same compile once more to
/// bitcode, which is added to the object as section `.dyck.bc` (with the backend flags
/// in `.dyck.cc`; see `ELFObject.bitcodeSection` for why not `.llvmbc`). Both sections
/// are marked SHF_EXCLUDE, so a link that does not go through `dyck-cc` drops them and
/// the executable is what `clang-19` alone makes.
///
/// Why two compiles rather than `-fembed-bitcode=all`: the bitcode gets line tables
/// (`-gline-tables-only`, unless the user asked for debug information) so that policy
/// reports can name source lines, while the object must stay exactly what the user's
/// flags produce; clang's `-fembed-bitcode` section is not SHF_EXCLUDE on ELF, so it
/// would end up in every executable; and it is named `.llvmbc`.
struct Compiler {
    var toolchain: Toolchain
    var temporaries: Temporaries

    func compile(_ command: CommandLineArguments) throws {
        // The user's command first, verbatim: its diagnostics, its dependency files and
        // its exit status are exactly clang's.
        let allWords = command.arguments.flatMap(\.words)
        try ToolRunner.check([toolchain.clang] + allWords)

        let sources = command.arguments.indices.filter {
            if case let .input(path, language) = command.arguments[$0].kind {
                return CommandLineArguments.inputKind(path: path, language: language) == .source
            }
            return false
        }
        let explicitOutput = command.outputPath
        var objects: [(index: Int, path: String, object: String)] = []
        for index in sources {
            guard case let .input(path, _) = command.arguments[index].kind else { continue }
            let object = (sources.count == 1 ? explicitOutput : nil) ?? Compiler.defaultObjectName(for: path)
            // `-o /dev/null` and the like: there is nothing to carry the bitcode.
            guard isRegularFile(object) else { continue }
            objects.append((index, path, object))
            // An object without its bitcode would silently escape the policy at link
            // time: until it has it, a failure or an interruption removes it, so that
            // make does not consider it up to date.
            Temporaries.guardOutput(object)
        }
        var pending = objects.map(\.object)
        defer {
            for object in pending {
                unlink(object)
                Temporaries.releaseOutput(object)
            }
        }
        for entry in objects {
            let bitcode = try bitcode(for: entry.index, in: command)
            let record = CompileRecord(arguments: command.arguments, debug: command.debugRequested)
            try embed(bitcode: bitcode, record: record, into: entry.object)
            Temporaries.releaseOutput(entry.object)
            pending.removeAll { $0 == entry.object }
        }
    }

    /// Compiles input `index` of `command` to a bitcode file in the temporary
    /// directory and returns its path: the command with only that input, without its
    /// output, dependency-file and linker options (`-x` options stay where they are, so
    /// the input keeps its language), plus `-emit-llvm` and line tables.
    func bitcode(for index: Int, in command: CommandLineArguments, showDiagnostics: Bool = false) throws -> String {
        guard case let .input(path, _) = command.arguments[index].kind else {
            throw DriverError.badInput(path: "?", reason: "internal: not an input")
        }
        let output = try temporaries.newPath(
            URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent + ".bc")
        var words: [String] = [toolchain.clang]
        var skipNext = false
        for (position, argument) in command.arguments.enumerated() {
            if skipNext { skipNext = false; continue }
            switch argument.kind {
            case .input:
                if position == index { words += argument.words }
            case .output, .dependencies, .library, .libraryDirectory, .linker:
                continue
            case .language:
                words += argument.words
            case .option:
                if Compiler.droppedForBitcode(argument.flag) { continue }
                words += argument.words
            }
        }
        words += ["-c", "-emit-llvm", "-o", output, "-Qunused-arguments"]
        if !command.debugRequested { words.append("-gline-tables-only") }
        if showDiagnostics {
            // Link lines compile their sources only to bitcode: this is the one compile
            // the user sees, with its diagnostics.
            try ToolRunner.check(words)
        } else {
            // The object compile has already shown the diagnostics; do not repeat them.
            words.append("-w")
            let errors = try temporaries.newPath("bitcode-stderr.txt")
            let status = try ToolRunner.run(words, stderrPath: errors)
            if status != 0 {
                let text = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
                Log.write(text)
                let first = text.split(separator: "\n").first.map(String.init) ?? "exit status \(status)"
                throw DriverError.bitcodeCompileFailed(source: path, message: first)
            }
        }
        return output
    }

    /// Options of a compile that must not be repeated in the bitcode compile: they
    /// write files of their own or print what the first compile already printed.
    static func droppedForBitcode(_ flag: String) -> Bool {
        if [
            "-v", "-gsplit-dwarf", "-ftime-report", "-fproc-stat-report", "-serialize-diagnostics",
            "--serialize-diagnostics", "-c"
        ].contains(flag) {
            return true
        }
        return flag.hasPrefix("-ftime-trace") || flag.hasPrefix("-gsplit-dwarf=")
            || flag.hasPrefix("-fproc-stat-report=")
            || flag.hasPrefix("-save-stats") || flag.hasPrefix("-fdiagnostics-format=sarif")
    }

    /// Adds the bitcode and the compile record to `object`, replacing it atomically.
    func embed(bitcode: String, record: CompileRecord, into object: String) throws {
        guard let head = try? readPrefix(object, count: 64), ELFObject.fileType(head[...]) == 1 else {
            Log.warning("\(object): not an ELF64 relocatable object; no bitcode embedded, the policy will not cover it")
            return
        }
        let recordPath = try temporaries.newPath("record.txt")
        do {
            try record.serialized.write(toFile: recordPath, atomically: false, encoding: .utf8)
        } catch {
            throw DriverError.temporary(path: recordPath, reason: error.localizedDescription)
        }
        let staged = Temporaries.sibling(of: object)
        do {
            try ToolRunner.check([
                toolchain.llvmObjcopy,
                "--add-section", "\(ELFObject.bitcodeSection)=\(bitcode)",
                "--set-section-flags", "\(ELFObject.bitcodeSection)=readonly,exclude",
                "--add-section", "\(ELFObject.flagsSection)=\(recordPath)",
                "--set-section-flags", "\(ELFObject.flagsSection)=readonly,exclude",
                object, staged
            ])
            try Temporaries.commit(staged, to: object)
        } catch {
            Temporaries.discard(staged)
            throw error
        }
    }

    /// Where `clang -c dir/name.c` puts its object: `name.o` in the current directory.
    static func defaultObjectName(for source: String) -> String {
        URL(fileURLWithPath: source).deletingPathExtension().lastPathComponent + ".o"
    }
}

func isRegularFile(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
}

/// The first `count` bytes of a file (fewer if it is shorter).
func readPrefix(_ path: String, count: Int) throws -> [UInt8] {
    guard let handle = FileHandle(forReadingAtPath: path) else {
        throw DriverError.badInput(path: path, reason: "cannot open")
    }
    defer { try? handle.close() }
    return Array((try handle.read(upToCount: count)) ?? Data())
}
