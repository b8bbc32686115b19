import CLLVM
import DyckAnalysis
import DyckInstrument
import DyckModel
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a link produced, for the summary line and for tests.
public struct LinkSummary: Sendable {
    public var executable: String
    public var policyPath: String
    public var functions: Int
    public var sites: Int
    public var symbols: Int
    public var report: InstrumentReport
}

/// A link to an executable: gathers the bitcode of everything linked, derives the
/// policy of the whole program, instruments it, and links the instrumented program
/// with whatever has no bitcode.
struct Linker {
    var toolchain: Toolchain
    var temporaries: Temporaries
    var command: CommandLineArguments

    /// One program unit that has bitcode.
    private struct Unit {
        var name: String  // for messages: a file, or archive(member)
        var bytes: ArraySlice<UInt8>?  // bitcode in memory (embedded or archive member)
        var path: String?  // or a bitcode/IR file
        var record: CompileRecord?
    }

    /// A symbol-table view of one linked file, for choosing archive members.
    private struct Symbols {
        var defined: Set<String>
        var undefined: Set<String>
    }

    /// An archive on the link line, with what the linker would take from it.
    private struct ArchiveInput {
        var path: String
        var archive: Archive
        /// Per member: its object, or nil when it is neither ELF nor bitcode.
        var objects: [ELFObject?]
        var symbols: [Symbols]
        var chosen: [Bool]
        /// Found by `-l` in the compiler's own directories (the C library and its
        /// companions): not warned about.
        var system: Bool
        var hasBitcode: Bool {
            objects.indices.contains { objects[$0]?.bitcode != nil || isBitcodeMagic(archive.members[$0].bytes) }
        }
    }

    /// How each argument of the link line is treated.
    private enum Role {
        case keep
        /// A source or IR file compiled or taken as bitcode.
        case unit(Int)
        /// An object on the command line (possibly with bitcode: `unit`).
        case object(ELFObject, unit: Int?)
        /// An assembly source compiled to a native object.
        case nativeObject(String)
        case archive(Int)
    }

    /// What the link line holds, read in order (phase 1): the units with bitcode, each
    /// argument's role, the archives, and the linker's own view of the line (link
    /// order, entry points) that decides which archive members are taken.
    private struct Inputs {
        var units: [Unit] = []
        var roles: [Role]
        var archives: [ArchiveInput] = []
        var warnings: [String] = []
        /// In link order: files, and group/whole-archive markers.
        var events: [Event] = []
        /// Symbols the linker must define from the start (the entry, `-u`).
        var initialUndefined: Set<String>
    }

    /// The whole program's module, linked from every unit (phase 3).
    private struct LinkedModule {
        /// A private directory for the link's intermediate files.
        var workDirectory: String
        var path: String
    }

    /// The analysed and instrumented program, compiled to one object (phase 4).
    private struct InstrumentedObject {
        var path: String
        var policy: Policy
        var report: InstrumentReport
    }

    func link() throws -> LinkSummary? {
        let output = command.outputPath ?? "a.out"
        let policyPath = output + ".dyck"
        var timer = TimeReport(enabled: command.timeReport)
        defer { timer.emit() }
        var inputs = try readInputs()
        try selectArchiveMembers(&inputs)
        timer.lap("inputs")
        guard !inputs.units.isEmpty else {
            // Nothing to analyse: link as clang would, and make sure no policy of an
            // earlier build stays next to an executable it does not describe.
            Log.warning("\(output): no input has bitcode: linked without instrumentation, no policy written")
            removeStalePolicy(policyPath)
            try ToolRunner.check([toolchain.clang] + command.arguments.flatMap(\.words))
            return nil
        }
        for warning in inputs.warnings { Log.warning(warning) }
        let linked = try linkModule(inputs.units, output: output)
        timer.lap("llvm-link")
        let object = try instrumentAndCompile(linked, units: inputs.units, output: output, timer: &timer)
        try commit(object, inputs: inputs, output: output, policyPath: policyPath)
        timer.lap("final link")
        return LinkSummary(
            executable: output, policyPath: policyPath, functions: object.policy.functions.count,
            sites: object.policy.sites.count, symbols: object.policy.symbols.count, report: object.report)
    }

    /// Phase 1: every argument of the link line, in order: sources compiled to
    /// bitcode, objects and archives read, `-l` resolved as the linker would, the
    /// linker options that change how later arguments resolve followed.
    private func readInputs() throws -> Inputs {
        var inputs = Inputs(
            roles: [Role](repeating: .keep, count: command.arguments.count), initialUndefined: [command.entry])
        let compiler = Compiler(toolchain: toolchain, temporaries: temporaries)
        // Linker state that decides how `-l` resolves.
        var staticLibraries = command.hasFlag("-static") || command.hasFlag("-static-pie")
        var libraryDirectories: [String] = command.arguments.compactMap {
            if case let .libraryDirectory(dir) = $0.kind { return dir }
            return nil
        }
        var systemDirectories: [String]? = nil

        for (index, argument) in command.arguments.enumerated() {
            switch argument.kind {
            case let .input(path, language):
                switch CommandLineArguments.inputKind(path: path, language: language) {
                case .source:
                    let bitcode = try compiler.bitcode(for: index, in: command, showDiagnostics: true)
                    inputs.units.append(
                        Unit(
                            name: path, path: bitcode,
                            record: CompileRecord(arguments: command.arguments, debug: command.debugRequested)))
                    inputs.roles[index] = .unit(inputs.units.count - 1)
                    inputs.events.append(.file(index))
                case .ir:
                    inputs.units.append(Unit(name: path, path: path, record: nil))
                    inputs.roles[index] = .unit(inputs.units.count - 1)
                    inputs.events.append(.file(index))
                case .assembly:
                    let object = try compileNative(index)
                    inputs.warnings.append("\(path): assembly has no bitcode: the policy does not cover it")
                    inputs.roles[index] = .nativeObject(object)
                case .header:
                    continue
                case .linkerInput:
                    inputs.roles[index] = try classify(file: path, system: false, inputs: &inputs)
                    inputs.events.append(.file(index))
                }
            case let .library(name):
                if systemDirectories == nil { systemDirectories = try searchDirectories() }
                guard
                    let (path, system) = resolve(
                        library: name, static: staticLibraries,
                        userDirectories: libraryDirectories, systemDirectories: systemDirectories ?? []),
                    let bytes = try? readPrefix(path, count: 8), Archive.isArchive(bytes[...])
                else {
                    continue  // a shared library, a linker script, or unresolved: the linker's business
                }
                inputs.roles[index] = try classify(file: path, system: system, inputs: &inputs)
                inputs.events.append(.file(index))
            case let .linker(words):
                var position = 0
                while position < words.count {
                    let word = words[position]
                    switch word {
                    case "-Bstatic", "-dn", "-non_shared", "-static": staticLibraries = true
                    case "-Bdynamic", "-dy", "-call_shared": staticLibraries = false
                    case "--whole-archive": inputs.events.append(.wholeArchive(true))
                    case "--no-whole-archive": inputs.events.append(.wholeArchive(false))
                    case "--start-group", "-(": inputs.events.append(.startGroup)
                    case "--end-group", "-)": inputs.events.append(.endGroup)
                    case "-u", "--undefined", "--require-defined":
                        if position + 1 < words.count {
                            inputs.initialUndefined.insert(words[position + 1])
                            position += 1
                        }
                    case "-L":
                        if position + 1 < words.count { libraryDirectories.append(words[position + 1]); position += 1 }
                    default:
                        if word.hasPrefix("--undefined=") { inputs.initialUndefined.insert(String(word.dropFirst(12))) }
                        if word.hasPrefix("--require-defined=") {
                            inputs.initialUndefined.insert(String(word.dropFirst(18)))
                        }
                        if word.hasPrefix("-L"), word.count > 2 { libraryDirectories.append(String(word.dropFirst(2))) }
                    }
                    position += 1
                }
            default:
                continue
            }
        }
        return inputs
    }

    /// Phase 2: chooses archive members as the linker does, then takes their bitcode
    /// as units; members without bitcode are warned about (except the compiler's own
    /// libraries').
    private func selectArchiveMembers(_ inputs: inout Inputs) throws {
        try chooseMembers(
            events: inputs.events, roles: inputs.roles, units: inputs.units, archives: &inputs.archives,
            undefined: inputs.initialUndefined)
        for input in inputs.archives {
            var uncovered: [String] = []
            for (m, member) in input.archive.members.enumerated() where input.chosen[m] {
                if let bitcode = input.objects[m]?.bitcode {
                    inputs.units.append(
                        Unit(
                            name: "\(input.path)(\(member.name))", bytes: bitcode,
                            record: input.objects[m].flatMap { CompileRecord(lines: $0.flags) }))
                } else if isBitcodeMagic(member.bytes) {
                    inputs.units.append(Unit(name: "\(input.path)(\(member.name))", bytes: member.bytes, record: nil))
                } else {
                    uncovered.append(member.name)
                }
            }
            if !uncovered.isEmpty && !input.system {
                let shown = uncovered.prefix(5).joined(separator: ", ") + (uncovered.count > 5 ? ", ..." : "")
                inputs.warnings.append(
                    "\(input.path): member\(uncovered.count == 1 ? "" : "s") \(shown) without bitcode: the policy does not cover \(uncovered.count == 1 ? "it" : "them")"
                )
            }
        }
    }

    /// Phase 3: one module for the whole program (llvm-link). A symbol defined twice
    /// is reported with the files that define it.
    private func linkModule(_ units: [Unit], output: String) throws -> LinkedModule {
        let workDirectory = try temporaries.newPath("link")
        guard mkdir(workDirectory, 0o700) == 0 else {
            throw DriverError.temporary(path: workDirectory, reason: String(cString: strerror(errno)))
        }
        let moduleName = URL(fileURLWithPath: output).lastPathComponent
        let linked = "\(workDirectory)/\(moduleName)"
        var unitPaths: [String] = []
        for unit in units {
            if let path = unit.path {
                unitPaths.append(path)
            } else if let bytes = unit.bytes {
                let path = try temporaries.newPath("unit.bc")
                guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
                    throw DriverError.temporary(path: path, reason: "cannot write")
                }
                unitPaths.append(path)
            }
        }
        let linkErrors = try temporaries.newPath("llvm-link.err")
        let linkStatus = try ToolRunner.run([toolchain.llvmLink, "-o", linked] + unitPaths, stderrPath: linkErrors)
        if linkStatus != 0 {
            let text =
                FileManager.default.contents(atPath: linkErrors).map { String(decoding: $0, as: UTF8.self) } ?? ""
            FileHandle.standardError.write(Data(text.utf8))
            // llvm-link names the symbol but not the files: find them.
            if let symbol = Self.multiplyDefined(in: text) {
                let definers = units.filter { unit in
                    guard
                        let bytes = unit.bytes
                            ?? unit.path.flatMap({ FileManager.default.contents(atPath: $0) }).map({ Array($0)[...] }),
                        isBitcodeMagic(bytes)
                    else { return false }
                    return (try? bitcodeSymbols(bytes, name: unit.name).defined.contains(symbol)) == true
                }.map(\.name)
                if definers.count > 1 { throw DriverError.duplicateSymbol(symbol: symbol, definedIn: definers) }
            }
            throw ToolFailed(tool: toolchain.llvmLink, status: linkStatus)
        }
        return LinkedModule(workDirectory: workDirectory, path: linked)
    }

    /// Phase 4: analysis and instrumentation in this process (the policy's ids are
    /// those the markers carry), then code generation to one object.
    private func instrumentAndCompile(
        _ linked: LinkedModule, units: [Unit], output: String, timer: inout TimeReport
    ) throws
        -> InstrumentedObject
    {
        let module = try IRModule(contentsOf: linked.path)
        timer.lap("read bitcode")
        var analysisOptions = AnalysisOptions()
        analysisOptions.entry = command.entry
        analysisOptions.libcPath = command.libc
        analysisOptions.libcEvents = command.libcEvents
        analysisOptions.inlineLimit = command.inlineLimit
        let analysis: ModuleAnalysis
        do {
            analysis = try analyzeModule(module, options: analysisOptions)
        } catch AnalysisError.entryNotDefined {
            throw DriverError.entryWithoutBitcode(output: output, entry: command.entry)
        }
        for finding in analysis.result.warnings { Log.warning(finding.description) }
        timer.lap("analysis")
        let report = try instrument(
            module, analysis: analysis, options: InstrumentOptions(bufferEvents: command.bufferEvents))
        for finding in report.warnings { Log.warning(finding.description) }
        timer.lap("instrumentation")

        // Line tables were added to the bitcode for the policy's sake; the executable
        // gets debug information only if some compile asked for it.
        let records = units.map(\.record)
        let debug = command.debugRequested || records.contains { $0 == nil || $0!.debug }
        if !debug { _ = LLVMStripModuleDebugInfo(module.module) }
        let instrumented = "\(linked.workDirectory)/instrumented.bc"
        try module.writeBitcode(to: instrumented)
        timer.lap("write bitcode")
        let object = "\(linked.workDirectory)/instrumented.o"
        try ToolRunner.check(codegenCommand(instrumented, object: object, records: records.compactMap { $0 }))
        timer.lap("codegen")
        return InstrumentedObject(path: object, policy: analysis.result.policy, report: report)
    }

    /// Code generation with the optimization level and backend flags of the
    /// compiles (the link line's own take precedence). The IR optimization
    /// pipeline does not run again: each unit's bitcode is already optimized as its
    /// compile asked, and the policy describes exactly that code. A second run over
    /// the whole program would inline across files and rewrite libc calls
    /// (printf -> puts) after the analysis, and would repeat instrumentation passes
    /// that already ran (sanitizers, profiling).
    private func codegenCommand(_ instrumented: String, object: String, records known: [CompileRecord]) -> [String] {
        var codegen = [
            toolchain.clang, "-c", "-x", "ir", instrumented, "-o", object, "-Qunused-arguments",
            "-Xclang", "-disable-llvm-passes"
        ]
        if let level = CodegenFlags.optimization(command.arguments)
            ?? known.compactMap(\.optimization).max(by: { CodegenFlags.rank($0) < CodegenFlags.rank($1) })
        {
            codegen.append(level)
        }
        // Units compiled alike have equal flag lists: each distinct list once, in link
        // order, then the link line's, so that later (and the link line's) options win.
        var distinct: [[String]] = []
        for record in known where !distinct.contains(record.flags) { distinct.append(record.flags) }
        return codegen + distinct.flatMap { $0 } + CodegenFlags.select(command.arguments)
    }

    /// Phase 5: the final link, the user's command with the instrumented object in
    /// place of everything that had bitcode, and the executable and its policy moved
    /// into place together.
    private func commit(_ object: InstrumentedObject, inputs: Inputs, output: String, policyPath: String) throws {
        let staged = Temporaries.sibling(of: output)
        let stagedPolicy = Temporaries.sibling(of: policyPath)
        let words = try finalLinkCommand(object: object.path, inputs: inputs) + ["-o", staged, "-Qunused-arguments"]
        // Both outputs are complete before either is moved into place, so that an
        // executable and its policy are replaced together (two renames).
        do {
            try ToolRunner.check(words)
            try object.policy.write(to: stagedPolicy)
            try Temporaries.commit(stagedPolicy, to: policyPath)
            try Temporaries.commit(staged, to: output)
        } catch {
            Temporaries.discard(staged)
            Temporaries.discard(stagedPolicy)
            throw error
        }
    }

    /// The link line with `object` where the first input with bitcode was, and the
    /// chosen archive members without bitcode extracted in their archive's place.
    private func finalLinkCommand(object: String, inputs: Inputs) throws -> [String] {
        var words: [String] = [toolchain.clang]
        var placed = false
        func placeObject() {
            if !placed { words.append(object); placed = true }
        }
        for (index, argument) in command.arguments.enumerated() {
            switch inputs.roles[index] {
            case .unit:
                placeObject()
            case let .object(_, unit):
                if unit != nil { placeObject() } else { words += argument.words }
            case let .nativeObject(path):
                words.append(path)
            case let .archive(a):
                let input = inputs.archives[a]
                guard input.hasBitcode else {
                    words += argument.words
                    continue
                }
                if input.chosen.contains(true) { placeObject() }
                for (m, member) in input.archive.members.enumerated() where input.chosen[m] {
                    if input.objects[m]?.bitcode != nil || isBitcodeMagic(member.bytes) { continue }
                    let path = try temporaries.newPath(member.name)
                    guard FileManager.default.createFile(atPath: path, contents: Data(member.bytes)) else {
                        throw DriverError.temporary(path: path, reason: "cannot write")
                    }
                    words.append(path)
                }
            case .keep:
                switch argument.kind {
                case .output, .language:
                    continue  // the output is staged; every source is an object by now
                default:
                    words += argument.words
                }
            }
        }
        placeObject()
        return words
    }

    // MARK: Inputs

    /// Reads a linker input and decides its role.
    private func classify(file path: String, system: Bool, inputs: inout Inputs) throws -> Role {
        guard let data = FileManager.default.contents(atPath: path) else {
            return .keep  // the linker reports it
        }
        let bytes = Array(data)
        if Archive.isArchive(bytes[...]) {
            let archive: Archive
            do {
                archive = try Archive(path: path, bytes: bytes)
            } catch let error as ArchiveError {
                throw DriverError.badInput(path: path, reason: error.reason)
            }
            var objects: [ELFObject?] = []
            var symbols: [Symbols] = []
            for member in archive.members {
                if ELFObject.fileType(member.bytes) == 1 {
                    do {
                        let object = try ELFObject(bytes: member.bytes, path: "\(path)(\(member.name))")
                        objects.append(object)
                        symbols.append(Symbols(defined: object.defined, undefined: object.undefined))
                    } catch {
                        throw DriverError.badInput(path: error.path, reason: error.reason)
                    }
                } else if isBitcodeMagic(member.bytes) {
                    objects.append(nil)
                    let found = try bitcodeSymbols(member.bytes, name: "\(path)(\(member.name))")
                    symbols.append(Symbols(defined: found.defined, undefined: found.undefined))
                } else {
                    objects.append(nil)
                    symbols.append(Symbols(defined: [], undefined: []))
                }
            }
            inputs.archives.append(
                ArchiveInput(
                    path: path, archive: archive, objects: objects, symbols: symbols,
                    chosen: Array(repeating: false, count: archive.members.count), system: system))
            return .archive(inputs.archives.count - 1)
        }
        if ELFObject.fileType(bytes[...]) == 1 {
            let object: ELFObject
            do {
                object = try ELFObject(bytes: bytes[...], path: path)
            } catch {
                throw DriverError.badInput(path: error.path, reason: error.reason)
            }
            guard let bitcode = object.bitcode else {
                inputs.warnings.append("\(path) has no bitcode: the policy does not cover it")
                return .object(object, unit: nil)
            }
            inputs.units.append(Unit(name: path, bytes: bitcode, record: CompileRecord(lines: object.flags)))
            return .object(object, unit: inputs.units.count - 1)
        }
        if isBitcodeMagic(bytes[...]) {
            // An object made with -flto is bitcode itself.
            inputs.units.append(Unit(name: path, path: path, record: nil))
            return .unit(inputs.units.count - 1)
        }
        return .keep  // shared library, linker script, ...
    }

    /// Compiles an assembly source of the link line to a native object.
    private func compileNative(_ index: Int) throws -> String {
        guard case let .input(path, _) = command.arguments[index].kind else { return "" }
        let object = try temporaries.newPath(
            URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent + ".o")
        var words = [toolchain.clang]
        for (position, argument) in command.arguments.enumerated() {
            switch argument.kind {
            case .input: if position == index { words += argument.words }
            case .output, .dependencies, .library, .libraryDirectory, .linker: continue
            default: words += argument.words
            }
        }
        words += ["-c", "-o", object, "-Qunused-arguments"]
        try ToolRunner.check(words)
        return object
    }

    /// The symbol of llvm-link's "Linking globals named 'NAME': symbol multiply defined!".
    static func multiplyDefined(in text: String) -> String? {
        let marker = "Linking globals named '"
        guard let start = text.range(of: marker),
            let end = text[start.upperBound...].range(of: "': symbol multiply defined")
        else { return nil }
        return String(text[start.upperBound..<end.lowerBound])
    }

    /// The symbols of whatever the link line names at argument `index`.
    private func symbols(of role: Role, units: [Unit]) throws -> Symbols? {
        switch role {
        case let .object(object, _):
            return Symbols(defined: object.defined, undefined: object.undefined)
        case let .unit(u):
            let unit = units[u]
            guard let path = unit.path, let data = FileManager.default.contents(atPath: path) else { return nil }
            let bytes = Array(data)
            // A textual .ll input: its symbols are not needed unless archives follow;
            // treat it as defining nothing the archives could supply.
            guard isBitcodeMagic(bytes[...]) else { return nil }
            let found = try bitcodeSymbols(bytes[...], name: unit.name)
            return Symbols(defined: found.defined, undefined: found.undefined)
        default:
            return nil
        }
    }

    /// GNU ld's rule: an archive member is taken when it defines a symbol that is
    /// undefined at that point of the link, repeatedly until nothing changes; archives
    /// between --start-group and --end-group are searched together until nothing
    /// changes; --whole-archive takes every member. Weak references take nothing.
    private func chooseMembers(
        events: [Event], roles: [Role], units: [Unit], archives: inout [ArchiveInput],
        undefined initial: Set<String>
    ) throws {
        guard !archives.isEmpty else { return }
        var defined = Set<String>()
        var undefined = initial
        func add(_ symbols: Symbols) {
            defined.formUnion(symbols.defined)
            undefined.subtract(symbols.defined)
            undefined.formUnion(symbols.undefined.subtracting(defined))
        }
        var whole = false
        var group: [Int]? = nil
        func search(_ list: [Int]) {
            var changed = true
            while changed {
                changed = false
                for a in list {
                    for m in archives[a].symbols.indices where !archives[a].chosen[m] {
                        let member = archives[a].symbols[m]
                        if whole || !member.defined.isDisjoint(with: undefined) {
                            archives[a].chosen[m] = true
                            add(member)
                            changed = true
                        }
                    }
                }
                if whole { break }
            }
        }
        for event in events {
            switch event {
            case let .wholeArchive(on): whole = on
            case .startGroup: group = group ?? []
            case .endGroup:
                if let list = group { search(list) }
                group = nil
            case let .file(index):
                if case let .archive(a) = roles[index] {
                    if group != nil { group!.append(a) }
                    search([a])
                } else if let symbols = try symbols(of: roles[index], units: units) {
                    add(symbols)
                }
            }
        }
        if let list = group { search(list) }
    }

    private enum Event { case file(Int), startGroup, endGroup, wholeArchive(Bool) }

    // MARK: Library search

    /// `-lNAME` as ld resolves it: each directory in turn (-L ones first), preferring
    /// `libNAME.so` to `libNAME.a` unless linking statically; `-l:FILE` names the file.
    private func resolve(
        library name: String, static: Bool, userDirectories: [String],
        systemDirectories: [String]
    ) -> (String, Bool)? {
        let candidates: [String]
        if name.hasPrefix(":") {
            candidates = [String(name.dropFirst())]
        } else if `static` {
            candidates = ["lib\(name).a"]
        } else {
            candidates = ["lib\(name).so", "lib\(name).a"]
        }
        for (directories, system) in [(userDirectories, false), (systemDirectories, true)] {
            for directory in directories {
                for candidate in candidates {
                    let path = "\(directory)/\(candidate)"
                    if access(path, R_OK) == 0 { return (path, system) }
                }
            }
        }
        return nil
    }

    /// The library directories clang gives the linker, then ld's own defaults.
    private func searchDirectories() throws -> [String] {
        let text = try ToolRunner.output([toolchain.clang, "-print-search-dirs"], temporaries: temporaries)
        var directories: [String] = []
        for line in text.split(separator: "\n") where line.hasPrefix("libraries: ") {
            var list = line.dropFirst("libraries: ".count)
            if list.hasPrefix("=") { list = list.dropFirst() }
            directories += list.split(separator: ":").map { URL(fileURLWithPath: String($0)).standardizedFileURL.path }
        }
        for directory in [
            "/usr/local/lib/x86_64-linux-gnu", "/usr/local/lib", "/lib/x86_64-linux-gnu",
            "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib"
        ] where !directories.contains(directory) {
            directories.append(directory)
        }
        return directories
    }

    private func removeStalePolicy(_ path: String) {
        if access(path, F_OK) == 0 {
            Log.note("removing \(path), which described an earlier build")
            unlink(path)
        }
    }

}
