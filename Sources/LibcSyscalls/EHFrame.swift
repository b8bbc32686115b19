/// The address ranges of the FDEs of `.eh_frame`: the function boundaries of a
/// stripped shared object (every function glibc compiles has unwind information, and
/// hand-written assembly declares it with `cfi_startproc`).
///
/// Only what is needed to find each FDE's `pc_begin` and `pc_range` is decoded: the
/// CIE's augmentation data gives the FDE pointer encoding ('R'); personality ('P') and
/// LSDA ('L') are skipped.
func ehFrameRanges(_ image: ELFImage) throws(LibcSyscallsError) -> [Range<UInt64>] {
    guard let section = image.section(named: ".eh_frame") else {
        throw .notGlibc(path: image.path, reason: "no .eh_frame section (function boundaries are taken from it)")
    }
    let bytes = image.bytes
    let start = Int(section.offset)
    let end = start + Int(section.size)
    guard end <= bytes.count else {
        throw .unreadableLibrary(path: image.path, reason: ".eh_frame lies outside the file")
    }
    func malformed(_ at: Int) -> LibcSyscallsError {
        .unreadableLibrary(path: image.path, reason: "malformed .eh_frame entry at offset \(at - start)")
    }

    // File offset -> link-time address, for pc-relative pointers.
    func address(_ offset: Int) -> UInt64 { section.address + UInt64(offset - start) }

    var cieEncodings: [Int: UInt8] = [:]
    var ranges: [Range<UInt64>] = []
    var offset = start
    while offset + 4 <= end {
        var length = UInt64(ELFImage.little32(bytes, offset))
        var cursor = offset + 4
        if length == 0 { break }
        if length == 0xFFFF_FFFF {
            guard cursor + 8 <= end else { throw malformed(offset) }
            length = ELFImage.little64(bytes, cursor)
            cursor += 8
        }
        let next = cursor + Int(length)
        guard length >= 4, next <= end else { throw malformed(offset) }
        let idField = cursor
        let id = ELFImage.little32(bytes, cursor)
        cursor += 4
        var reader = ByteReader(bytes: bytes, position: cursor, limit: next)
        if id == 0 {
            // CIE: version, augmentation, alignments, return register, augmentation data.
            guard let version = reader.byte() else { throw malformed(offset) }
            var augmentation: [UInt8] = []
            while let b = reader.byte(), b != 0 { augmentation.append(b) }
            _ = reader.uleb()
            _ = reader.sleb()
            if version == 1 { _ = reader.byte() } else { _ = reader.uleb() }
            var encoding: UInt8 = 0  // DW_EH_PE_absptr
            if augmentation.first == UInt8(ascii: "z") {
                _ = reader.uleb()
                for letter in augmentation.dropFirst() {
                    switch letter {
                    case UInt8(ascii: "R"): encoding = reader.byte() ?? 0
                    case UInt8(ascii: "L"): _ = reader.byte()
                    case UInt8(ascii: "P"):
                        let personality = reader.byte() ?? 0
                        _ = reader.pointer(personality, fieldAddress: 0)
                    default: break
                    }
                }
            }
            cieEncodings[offset] = encoding
        } else {
            let cie = idField - Int(id)
            guard let encoding = cieEncodings[cie] else { throw malformed(offset) }
            let beginField = reader.position
            guard let begin = reader.pointer(encoding, fieldAddress: address(beginField)),
                let size = reader.pointer(encoding & 0x0F, fieldAddress: 0)
            else { throw malformed(offset) }
            if size > 0 { ranges.append(begin..<begin &+ size) }
        }
        offset = next
    }
    return ranges
}

private struct ByteReader {
    let bytes: [UInt8]
    var position: Int
    let limit: Int

    mutating func byte() -> UInt8? {
        guard position < limit else { return nil }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func uleb() -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while let b = byte() {
            if shift < 64 { value |= UInt64(b & 0x7F) << shift }
            shift += 7
            if b & 0x80 == 0 { return value }
        }
        return nil
    }

    mutating func sleb() -> Int64? {
        var value: Int64 = 0
        var shift: Int64 = 0
        while let b = byte() {
            if shift < 64 { value |= Int64(b & 0x7F) << shift }
            shift += 7
            if b & 0x80 == 0 {
                if shift < 64 && b & 0x40 != 0 { value |= -(Int64(1) << shift) }
                return value
            }
        }
        return nil
    }

    mutating func fixed(_ count: Int) -> UInt64? {
        guard position + count <= limit else { return nil }
        var value: UInt64 = 0
        for i in (0..<count).reversed() { value = value << 8 | UInt64(bytes[position + i]) }
        position += count
        return value
    }

    /// A DW_EH_PE-encoded pointer; `fieldAddress` is the address of the field, for
    /// pc-relative encodings.
    mutating func pointer(_ encoding: UInt8, fieldAddress: UInt64) -> UInt64? {
        if encoding == 0xFF { return 0 }  // DW_EH_PE_omit
        let raw: UInt64?
        switch encoding & 0x0F {
        case 0x00, 0x04, 0x0C: raw = fixed(8)
        case 0x01: raw = uleb()
        case 0x02: raw = fixed(2)
        case 0x03: raw = fixed(4)
        case 0x09: raw = sleb().map { UInt64(bitPattern: $0) }
        case 0x0A: raw = fixed(2).map { UInt64(bitPattern: Int64(Int16(truncatingIfNeeded: $0))) }
        case 0x0B: raw = fixed(4).map { UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: $0))) }
        default: return nil
        }
        guard let value = raw else { return nil }
        switch encoding & 0x70 {
        case 0x00: return value
        case 0x10: return fieldAddress &+ value  // DW_EH_PE_pcrel
        default: return nil
        }
    }
}
