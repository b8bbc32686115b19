import Foundation

/// A cpio archive in the kernel's initramfs format ("newc", `cpio -H newc`), written
/// in memory: deterministic (every time stamp is 0), so equal inputs give equal bytes.
public struct NewcArchive {
    public private(set) var bytes: [UInt8] = []
    private var inode: UInt32 = 1

    public init() {}

    public mutating func directory(_ path: String, mode: UInt32 = 0o755) {
        entry(path, mode: 0o040000 | mode, data: [])
    }

    public mutating func file(_ path: String, _ data: [UInt8], mode: UInt32 = 0o644) {
        entry(path, mode: 0o100000 | mode, data: data)
    }

    public mutating func symlink(_ path: String, target: String) {
        entry(path, mode: 0o120777, data: Array(target.utf8))
    }

    public mutating func characterDevice(_ path: String, major: UInt32, minor: UInt32, mode: UInt32 = 0o600) {
        entry(path, mode: 0o020000 | mode, data: [], rdev: (major, minor))
    }

    /// The archive with its trailer: what the kernel unpacks.
    public func finished() -> [UInt8] {
        var copy = self
        copy.entry("TRAILER!!!", mode: 0, data: [], nlink: 1, numbered: false)
        return copy.bytes
    }

    private mutating func entry(
        _ name: String, mode: UInt32, data: [UInt8], rdev: (UInt32, UInt32) = (0, 0),
        nlink: UInt32? = nil, numbered: Bool = true
    ) {
        let nameBytes = Array(name.utf8) + [0]
        let isDir = mode & 0o170000 == 0o040000
        let fields: [UInt32] = [
            numbered ? inode : 0, mode, 0, 0, nlink ?? (isDir ? 2 : 1), 0,
            UInt32(data.count), 0, 0, rdev.0, rdev.1, UInt32(nameBytes.count), 0
        ]
        if numbered { inode += 1 }
        bytes += Array("070701".utf8)
        for field in fields {
            bytes += Array(String(format: "%08X", field).utf8)
        }
        bytes += nameBytes
        pad()
        bytes += data
        pad()
    }

    private mutating func pad() {
        while bytes.count % 4 != 0 { bytes.append(0) }
    }
}

/// FNV-1a, 64 bits: a cache key, not a security measure.
struct FNV64 {
    private(set) var value: UInt64 = 0xcbf29ce484222325

    mutating func add(_ bytes: [UInt8]) {
        for b in bytes {
            value ^= UInt64(b)
            value = value &* 0x100000001b3
        }
    }

    mutating func add(_ text: String) { add(Array(text.utf8) + [0]) }

    var hex: String { String(format: "%016llx", value) }
}

/// The guest's initramfs: static busybox, `/init`, and the guest kernel's own modules
/// for virtio, the serial ports and 9p (see `GuestModules`).
public enum GuestInitramfs {
    /// The archive for the given busybox binary and modules (in load order).
    public static func build(busybox: [UInt8], modules: [(name: String, contents: [UInt8])]) -> [UInt8] {
        var archive = NewcArchive()
        for dir in ["bin", "dev", "proc", "sys", "host", "lib", "lib/modules"] {
            archive.directory(dir)
        }
        archive.characterDevice("dev/console", major: 5, minor: 1)
        archive.characterDevice("dev/null", major: 1, minor: 3, mode: 0o666)
        archive.file("bin/busybox", busybox, mode: 0o755)
        archive.symlink("bin/sh", target: "busybox")
        for module in modules {
            archive.file("lib/modules/\(module.name).ko", module.contents)
        }
        archive.file("modules.list", Array(modules.map(\.name).joined(separator: "\n").appending("\n").utf8))
        archive.file("init", Array(GuestInit.script.utf8), mode: 0o755)
        return archive.finished()
    }
}
