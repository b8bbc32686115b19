import DyckModel
import SbxBlob
import SbxSystem

/// The executable's `.sbx_evbuf` section (`specs/marker-abi.md` and
/// `specs/kernel-abi.md`, "Buffered events"): a program built with `dyck-cc
/// --dyck-buffer` says where its per-thread event buffer is, as a local-exec TLS
/// offset the static linker resolved. `sbx run`, `sbx blob --exe` and `sbx policy
/// install` copy it into the blob, with the bufferable flags of the policy's symbols
/// (`BufferedEvents`), so that the kernel replays the buffer.
public struct EventBufferSection: Hashable, Sendable {
    /// The buffer's offset from the thread pointer.
    public var tpoff: Int64

    public init(tpoff: Int64) { self.tpoff = tpoff }

    /// The farthest below the thread pointer the kernel accepts the buffer
    /// (`SBX_EVBUF_TPOFF_MAX`).
    public static let maximumDistance = BlobLimits.maxEventBufferOffset
    /// `sizeof(struct sbx_evbuf)`: the buffer lies wholly below the thread pointer.
    public static let bufferSize = Int64(8 + 8 * BufferedEvents.capacity)

    /// Reads the section of the ELF file open on `fd`: nil when it has none (a
    /// program that buffers nothing). Throws `RunError.notInstrumented` naming
    /// `program` when the section is there but not what dyck-cc writes: 16 allocated
    /// bytes, format 1, capacity `SBX_EVBUF_CAP`, an offset the kernel accepts.
    public static func read(fd: Int32, program: String) throws -> EventBufferSection? {
        let name = BufferedEvents.sectionName
        func refuse(_ reason: String) -> RunError { .notInstrumented(program: program, reason: "\(name): \(reason)") }
        let contents: [UInt8]
        do {
            let file = try ELFFile(fd: fd, path: program)
            guard let section = try file.section(named: name) else { return nil }
            guard section.size == UInt64(BufferedEvents.sectionSize) else {
                throw refuse("\(section.size) bytes, not \(BufferedEvents.sectionSize)")
            }
            contents = try file.contents(of: section)
        } catch let error as ELFError {
            throw refuse(error.reason)
        }
        guard contents.count == BufferedEvents.sectionSize else { throw refuse("unreadable") }
        func le(_ at: Int, _ n: Int) -> UInt64 {
            (0..<n).reduce(UInt64(0)) { $0 | UInt64(contents[at + $1]) << (8 * UInt64($1)) }
        }
        guard le(0, 4) == UInt64(BufferedEvents.sectionVersion) else {
            throw refuse("format \(le(0, 4)), not \(BufferedEvents.sectionVersion)")
        }
        guard le(4, 4) == UInt64(BufferedEvents.capacity) else {
            throw refuse("capacity \(le(4, 4)), not \(BufferedEvents.capacity)")
        }
        let tpoff = Int64(bitPattern: le(8, 8))
        guard tpoff % 8 == 0, tpoff <= -bufferSize, tpoff >= -maximumDistance else {
            throw refuse(
                "thread-pointer offset \(tpoff) is not a multiple of 8 in -\(maximumDistance)...-\(bufferSize)")
        }
        return EventBufferSection(tpoff: tpoff)
    }

    /// What the blob carries for `policy`: the offset and, per symbol, whether its
    /// `LIBC` events may come from the buffer. Nil when no event of the policy is
    /// bufferable (no bufferable symbol, no call site, no callback): the kernel would
    /// refuse every word, so the blob leaves the buffer out and the program's system
    /// calls cost what they cost without `--dyck-buffer` (the line copier, whose
    /// stdio calls are all synchronous, is such a program).
    public func blobEventBuffer(for policy: Policy) -> BlobEventBuffer? {
        let bufferable = BufferedEvents.bufferableSymbols(of: policy)
        guard bufferable.contains(true) || !policy.sites.isEmpty || !policy.callbacks.isEmpty else { return nil }
        return BlobEventBuffer(tpoff: tpoff, bufferable: bufferable)
    }
}
