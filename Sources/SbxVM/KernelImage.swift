import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Facts about kernel images, kernel modules and the installed kernel headers.
public enum KernelImage {
    /// The release (`uname -r`) of a kernel image: from the x86 boot header of a
    /// bzImage (`vmlinuz`), or the `Linux version` banner of an uncompressed ELF
    /// `vmlinux`. Nil when the file is neither.
    public static func release(ofImage bytes: [UInt8]) -> String? {
        if bytes.count > 0x210, Array(bytes[0x202..<0x206]) == Array("HdrS".utf8) {
            let offset = Int(bytes[0x20E]) | Int(bytes[0x20F]) << 8
            let start = 0x200 + offset
            guard offset != 0, start < bytes.count else { return nil }
            var end = start
            while end < bytes.count, bytes[end] != 0, bytes[end] != 0x20 { end += 1 }
            return end > start ? String(decoding: bytes[start..<end], as: UTF8.self) : nil
        }
        if isELF(bytes) {
            let banner = Array("Linux version ".utf8)
            guard let at = find(banner, in: bytes) else { return nil }
            var end = at + banner.count
            while end < bytes.count, bytes[end] != 0, bytes[end] != 0x20 { end += 1 }
            return end > at + banner.count ? String(decoding: bytes[(at + banner.count)..<end], as: UTF8.self) : nil
        }
        return nil
    }

    public static func isELF(_ bytes: [UInt8]) -> Bool {
        bytes.count > 64 && bytes[0] == 0x7F && bytes[1] == 0x45 && bytes[2] == 0x4C && bytes[3] == 0x46
    }

    /// Whether an ELF64 file asks for a program interpreter (is dynamically linked).
    public static func hasInterpreter(_ bytes: [UInt8]) -> Bool {
        guard isELF(bytes), bytes[4] == 2 else { return false }
        func u(_ at: Int, _ size: Int) -> Int {
            var v = 0
            for i in (0..<size).reversed() where at + i < bytes.count { v = v << 8 | Int(bytes[at + i]) }
            return v
        }
        let phoff = u(0x20, 8), phentsize = u(0x36, 2), phnum = u(0x38, 2)
        for i in 0..<phnum {
            let at = phoff + i * phentsize
            guard at + 4 <= bytes.count else { return false }
            if u(at, 4) == 3 { return true }  // PT_INTERP
        }
        return false
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int = 0) -> Int? {
        guard needle.count <= haystack.count, let first = needle.first else { return nil }
        var i = from
        let last = haystack.count - needle.count
        return haystack.withUnsafeBufferPointer { h -> Int? in
            while i <= last {
                if h[i] == first {
                    var j = 1
                    while j < needle.count, h[i + j] == needle[j] { j += 1 }
                    if j == needle.count { return i }
                }
                i += 1
            }
            return nil
        }
    }

    /// The offset of the XZ stream that holds the compressed kernel in a bzImage.
    public static func xzPayloadOffset(_ bytes: [UInt8]) -> Int? {
        find([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00], in: bytes)
    }

    /// Decompresses the ELF `vmlinux` out of an XZ-compressed bzImage into `output`
    /// (with `xz`). QEMU boots that directly through its PVH entry point, which skips
    /// the kernel's own decompressor: several seconds under TCG. Returns false when
    /// the image is not of that kind (then the bzImage is booted as it is).
    static func extractVmlinux(from image: String, to output: String) -> Bool {
        guard let bytes = FileManager.default.contents(atPath: image).map(Array.init),
            let offset = xzPayloadOffset(bytes), let xz = HostTools.find("xz")
        else { return false }
        let payload = output + ".xz-\(getpid())"
        let partial = output + ".tmp-\(getpid())"
        defer { unlink(payload); unlink(partial) }
        guard FileManager.default.createFile(atPath: payload, contents: Data(bytes[offset...])),
            let outcome = try? HostTools.run([xz, "-dc", "--single-stream", payload], stdoutFile: partial),
            outcome.status == 0,
            let handle = FileHandle(forReadingAtPath: partial)
        else { return false }
        let head = Array((try? handle.read(upToCount: 4096)) ?? nil ?? Data())
        try? handle.close()
        guard isELF(head) && head.count == 4096 else { return false }
        return rename(partial, output) == 0
    }

    /// The `vermagic` of a kernel module, whose first word is the kernel release it
    /// was built for (`modinfo -F vermagic`).
    public static func vermagicRelease(ofModule path: String) throws -> String {
        let modinfo = try HostTools.require("modinfo", package: "kmod")
        let outcome = try HostTools.run([modinfo, "-F", "vermagic", path])
        guard outcome.status == 0, let release = outcome.stdout.split(separator: " ").first.map(String.init),
            !release.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
        else {
            throw VMError(
                .badInput,
                "\(path): not a kernel module (\(outcome.diagnostic.isEmpty ? "no vermagic" : outcome.diagnostic))")
        }
        return release.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The ABI of the Debian 6.1 kernel headers installed under `srcDirectory`
    /// (`linux-headers-6.1.0-NN-amd64`, the newest when there are several): the kernel
    /// the module is built against, and so the one the guest must run.
    public static func headersRelease(srcDirectory: String = "/usr/src") -> String? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: srcDirectory)) ?? []
        let releases = names.compactMap { name -> (String, [Int])? in
            guard name.hasPrefix("linux-headers-6.1."), name.hasSuffix("-amd64") else { return nil }
            let release = String(name.dropFirst("linux-headers-".count))
            // 6.1.0-NN-amd64
            let numbers = release.dropLast("-amd64".count).split(whereSeparator: { $0 == "." || $0 == "-" }).compactMap
            { Int($0) }
            return numbers.count == 4 ? (release, numbers) : nil
        }
        return releases.max { $0.1.lexicographicallyPrecedes($1.1) }?.0
    }

    /// Whether `release` is one of Debian's amd64 kernels (`6.1.0-NN-amd64`), which
    /// `apt-get download linux-image-RELEASE` fetches.
    public static func isDebianRelease(_ release: String) -> Bool {
        let parts = release.split(separator: "-")
        return parts.count == 3 && parts[2] == "amd64" && Int(parts[1]) != nil
            && parts[0].split(separator: ".").count == 3 && parts[0].split(separator: ".").allSatisfy { Int($0) != nil }
    }
}
