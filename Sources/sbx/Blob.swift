import ArgumentParser
import DyckModel
import SbxSystem
import SbxBlob
import SbxCLI
import SbxRun
#if canImport(Glibc)
import Glibc
#endif

struct BlobCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "blob",
        abstract: "Compile a policy into the kernel monitor's binary blob.",
        discussion: """
            The blob (specs/kernel-abi.md) is what /dev/sbx loads: a deterministic \
            machine over macro-states, so that the kernel steps each marker with a few \
            table look-ups. Give the policy dyck-gen wrote for the program; --mode nfa \
            builds the single-copy flattened model for the same instrumented binary. \
            The policy's system-call sets go into the blob when it has them; --exe adds \
            the program's pinned marker sites (its .sbx_sites section) and, for a program \
            built with dyck-cc --dyck-buffer, its event buffer (its .sbx_evbuf section, \
            with the policy's bufferable libc functions), as sbx run does. \
            The blob also carries the names of the libc functions and of the program's \
            functions, so that the kernel log's line of a violation names them \
            (--no-names leaves them out).

            --cache DIR (with --exe, instead of -o) writes the blob `sbx run --mode M` \
            would load for that program into the blob cache DIR (what SBX_BLOB_CACHE \
            names), under the name `sbx run` looks for: it is named by the contents of \
            the policy and of the program's pinned sites, the mode, the stack bounds \
            and the blob format's version, and by a digest of this sbx's version and \
            commit, never by a path, so a cache seeded on one machine serves another \
            (a test guest) that runs the same files with the same sbx. An entry \
            already there is kept. Prints the entry's path on stdout.
            """
    )

    @Argument(help: "The policy file (.dyck) written by dyck-gen or dyck-cc.")
    var policy: String

    @Option(name: .shortAndLong, help: "Where to write the blob.")
    var output: String?

    @Option(
        help: ArgumentHelp(
            "With --exe, instead of -o: put the blob into sbx run's blob cache DIR, named as sbx run looks it up.",
            valueName: "DIR"))
    var cache: String?

    @Option(help: "dyck: calls and returns must match; nfa: single-copy flattened model.")
    var mode: CheckMode = .dyck

    @OptionGroup var bounds: StackBoundOptions

    @Option(help: "The instrumented program: pin its markers to their sites.")
    var exe: String?

    @Flag(help: "Leave out the names section (the kernel log then names no function).")
    var noNames = false

    func validate() throws {
        if (output == nil) == (cache == nil) { throw ValidationError("give exactly one of -o and --cache") }
        if cache != nil {
            if exe == nil { throw ValidationError("--cache needs --exe (the cache entry is the program's)") }
            if noNames { throw ValidationError("--cache makes the blob sbx run makes, with names: no --no-names") }
        }
    }

    func run() throws {
        if let cache, let exe {
            let (file, compiled) = try SandboxRun.seedBlobCache(
                policyPath: policy, program: exe, mode: mode == .dyck ? .dyck : .nfa,
                bounds: StackBounds(stackLimit: bounds.stackLimit, maxDepth: bounds.maxDepth), directory: cache)
            Diagnostics.note(compiled ? "compiled into the cache" : "already in the cache")
            print(file)
            return
        }
        guard let output else { return }
        let loaded = try Policy.load(path: policy)
        var pins: BlobPins?
        var eventBuffer: BlobEventBuffer?
        if let exe {
            let fd = open(exe, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw RunError.programNotFound(exe) }
            defer { close(fd) }
            let table = try PinnedSiteTable.read(fd: fd, program: exe)
            try table.check(against: loaded, policyPath: policy)
            pins = table.blobPins
            eventBuffer = try EventBufferSection.read(fd: fd, program: exe).flatMap { $0.blobEventBuffer(for: loaded) }
        }
        let bytes = try buildBlob(
            policy: loaded, mode: mode == .dyck ? .dyck : .nfa, stackLimit: bounds.stackLimit,
            maxDepth: bounds.maxDepth, pins: pins, eventBuffer: eventBuffer, names: !noNames)
        try AtomicFile.write(bytes, to: output)
        var what = "\(mode.rawValue) mode, stack limit \(bounds.stackLimit), depth bound \(bounds.maxDepth)"
        if loaded.syscalls != nil { what += ", system-call sets" }
        if let pins { what += ", \(pins.sites.count) pinned sites" }
        if let eventBuffer {
            what +=
                ", event buffer at thread pointer \(eventBuffer.tpoff) with "
                + "\(eventBuffer.bufferable.filter { $0 }.count) of \(eventBuffer.bufferable.count) libc functions bufferable"
        }
        if !noNames { what += ", names" }
        Diagnostics.note("wrote \(output): \(bytes.count) bytes (\(what))")
    }
}
