import Foundation

/// A Unix `ar` archive (GNU/SysV and BSD member names, GNU thin archives), as the
/// linker sees it: an ordered list of members.
struct Archive {
    struct Member {
        /// The member's name as stored (for messages and extracted file names).
        var name: String
        var bytes: ArraySlice<UInt8>
    }

    var path: String
    var members: [Member] = []

    static let magic = Array("!<arch>\n".utf8)
    static let thinMagic = Array("!<thin>\n".utf8)

    static func isArchive(_ bytes: ArraySlice<UInt8>) -> Bool {
        bytes.starts(with: magic) || bytes.starts(with: thinMagic)
    }

    /// Parses `bytes` read from `path`. Thin archives name their members by path
    /// (relative to the archive's directory); those files are read.
    init(path: String, bytes: [UInt8]) throws {
        self.path = path
        let thin = bytes.starts(with: Archive.thinMagic)
        guard thin || bytes.starts(with: Archive.magic) else { throw ArchiveError("not an ar archive") }
        var longNames: ArraySlice<UInt8> = []
        var at = 8
        while at + 60 <= bytes.count {
            let header = bytes[at..<at + 60]
            guard header[at + 58] == 0x60, header[at + 59] == 0x0A else {
                throw ArchiveError("malformed member header at offset \(at)")
            }
            let field = { (from: Int, length: Int) -> String in
                String(decoding: header[(at + from)..<(at + from + length)], as: UTF8.self)
                    .trimmingCharacters(in: .whitespaces)
            }
            guard let size = Int(field(48, 10)), size >= 0 else {
                throw ArchiveError("malformed member size at offset \(at)")
            }
            var name = field(0, 16)
            var dataStart = at + 60
            let isSpecial =
                name == "/" || name == "/SYM64/" || name == "//" || name == "__.SYMDEF" || name == "__.SYMDEF SORTED"
            // Thin archives store only the symbol and name tables; members live outside.
            let stored = !thin || isSpecial
            let dataSize = stored ? size : 0
            guard dataStart + dataSize <= bytes.count else {
                throw ArchiveError("member '\(name)' extends past the end of the archive")
            }
            var data = bytes[dataStart..<dataStart + dataSize]
            if name == "//" {
                longNames = data
            } else if name.hasPrefix("#1/"), let length = Int(name.dropFirst(3)), length <= dataSize {
                // BSD: the name precedes the data.
                name = String(decoding: data.prefix(length), as: UTF8.self).trimmingCharacters(
                    in: CharacterSet(charactersIn: "\0"))
                dataStart += length
                data = bytes[dataStart..<dataStart + dataSize - length]
            } else if name.hasPrefix("/"), name.count > 1, let offset = Int(name.dropFirst()) {
                // GNU: "/offset" into the long-name table, entries end with "/\n".
                guard offset < longNames.count else {
                    throw ArchiveError("member name offset \(offset) outside the name table")
                }
                let start = longNames.startIndex + offset
                let end = longNames[start...].firstIndex(of: 0x0A) ?? longNames.endIndex
                name = String(decoding: longNames[start..<end], as: UTF8.self)
                if name.hasSuffix("/") { name.removeLast() }
            } else if name.hasSuffix("/"), name != "/" {
                name.removeLast()
            }
            if !isSpecial && name != "//" {
                if thin {
                    let memberPath =
                        name.hasPrefix("/")
                        ? name
                        : URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(name).path
                    guard let contents = FileManager.default.contents(atPath: memberPath) else {
                        throw ArchiveError("member '\(name)' of the thin archive cannot be read at \(memberPath)")
                    }
                    members.append(Member(name: name, bytes: Array(contents)[...]))
                } else {
                    members.append(Member(name: name, bytes: data))
                }
            }
            at = dataStart + (stored ? data.count : 0)
            if at % 2 == 1 { at += 1 }  // members are 2-byte aligned
        }
    }
}
