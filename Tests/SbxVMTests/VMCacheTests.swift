import Foundation
@testable import SbxVM
import XCTest
import TestSupport

/// The cache, kernel and module look-ups, and the initramfs, without booting or
/// downloading.
final class VMCacheTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("sbx-vm-cache-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func testDefaultRoot() throws {
        XCTAssertEqual(
            try VMCache.defaultRoot(environment: ["XDG_CACHE_HOME": "/x/cache", "HOME": "/home/u"]), "/x/cache/sbx/vm")
        XCTAssertEqual(
            try VMCache.defaultRoot(environment: ["XDG_CACHE_HOME": "relative", "HOME": "/home/u"]),
            "/home/u/.cache/sbx/vm")
        XCTAssertEqual(try VMCache.defaultRoot(environment: ["HOME": "/"]), "/.cache/sbx/vm")
        XCTAssertThrowsError(try VMCache.defaultRoot(environment: [:]))
    }

    func testHeadersRelease() throws {
        let src = dir.appendingPathComponent("src")
        for name in [
            "linux-headers-6.1.0-9-amd64", "linux-headers-6.1.0-56-amd64", "linux-headers-6.1.0-56-common",
            "linux-headers-6.1.0-10-amd64", "linux-headers-6.12.0-1-amd64", "linux-kbuild-6.1", "python3.11"
        ] {
            try FileManager.default.createDirectory(
                at: src.appendingPathComponent(name), withIntermediateDirectories: true)
        }
        XCTAssertEqual(KernelImage.headersRelease(srcDirectory: src.path), "6.1.0-56-amd64")
        XCTAssertNil(KernelImage.headersRelease(srcDirectory: dir.appendingPathComponent("none").path))
        XCTAssertTrue(KernelImage.isDebianRelease("6.1.0-56-amd64"))
        XCTAssertFalse(KernelImage.isDebianRelease("6.18.44-fc-v669"))
        XCTAssertFalse(KernelImage.isDebianRelease("6.1.0-56-cloud-amd64"))
    }

    func testImageRelease() {
        // A bzImage: "HdrS" at 0x202, the version string's offset - 0x200 at 0x20E.
        var bz = [UInt8](repeating: 0, count: 0x400)
        bz.replaceSubrange(0x202..<0x206, with: Array("HdrS".utf8))
        bz[0x20E] = 0x00; bz[0x20F] = 0x01
        let version = Array("6.1.0-56-amd64 (debian-kernel@lists.debian.org) #1 SMP".utf8)
        bz.replaceSubrange(0x300..<(0x300 + version.count), with: version)
        XCTAssertEqual(KernelImage.release(ofImage: bz), "6.1.0-56-amd64")

        var elf = [UInt8](repeating: 0, count: 256)
        elf.replaceSubrange(0..<4, with: [0x7F, 0x45, 0x4C, 0x46])
        elf += Array("junk Linux version 6.1.0-9-amd64 (gcc) #1\0".utf8)
        XCTAssertEqual(KernelImage.release(ofImage: elf), "6.1.0-9-amd64")
        XCTAssertNil(KernelImage.release(ofImage: Array("not a kernel".utf8)))
    }

    func testStaticBusybox() throws {
        guard let box = FileManager.default.contents(atPath: "/bin/busybox"),
            let sh = FileManager.default.contents(atPath: "/bin/ls")
        else {
            throw XCTSkip("no /bin/busybox (busybox-static)")
        }
        XCTAssertFalse(KernelImage.hasInterpreter(Array(box)), "busybox-static has no interpreter")
        XCTAssertTrue(KernelImage.hasInterpreter(Array(sh)), "/bin/ls is dynamically linked")
    }

    func testLoadOrder() throws {
        let deps = [
            "9p": ["9pnet", "fscache", "netfs"], "fscache": ["netfs"], "netfs": [], "9pnet": [],
            "9pnet_virtio": ["virtio", "9pnet", "virtio_ring"], "virtio": ["virtio_ring"], "virtio_ring": [],
            "virtio_pci": ["virtio_ring", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio"],
            "virtio_pci_modern_dev": [], "virtio_pci_legacy_dev": [], "virtio_console": ["virtio", "virtio_ring"]
        ]
        let order = try GuestModules.loadOrder(GuestModules.wanted, builtin: []) { deps[$0]! }
        XCTAssertEqual(Set(order), Set(deps.keys))
        XCTAssertEqual(order.count, deps.count)
        for (module, needs) in deps {
            for need in needs {
                XCTAssertLessThan(
                    order.firstIndex(of: need)!, order.firstIndex(of: module)!, "\(need) before \(module)")
            }
        }
        // Built-in modules are not loaded; names with '-' are the same module.
        let withBuiltin = try GuestModules.loadOrder(["a"], builtin: ["b_c"]) { $0 == "a" ? ["b-c", "d"] : [] }
        XCTAssertEqual(withBuiltin, ["d", "a"])
        XCTAssertThrowsError(try GuestModules.loadOrder(["a"], builtin: []) { $0 == "a" ? ["b"] : ["a"] })
    }

    /// The archive is newc as cpio reads it, with the device nodes, links and modes
    /// the guest needs.
    func testInitramfsArchive() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/cpio") else { throw XCTSkip("no cpio") }
        let bytes = GuestInitramfs.build(
            busybox: Array("#!fake busybox".utf8),
            modules: [("virtio", Array("ko1".utf8)), ("9p", Array("ko22".utf8))])
        XCTAssertEqual(bytes.count % 4, 0)
        XCTAssertEqual(
            bytes,
            GuestInitramfs.build(
                busybox: Array("#!fake busybox".utf8),
                modules: [("virtio", Array("ko1".utf8)), ("9p", Array("ko22".utf8))]),
            "deterministic")
        let archive = dir.appendingPathComponent("i.cpio")
        try Data(bytes).write(to: archive)
        let out = dir.appendingPathComponent("x")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let listing = try run("/bin/sh", ["-c", "cpio -itv < '\(archive.path)' 2>&1"])
        for name in [
            "init", "bin/busybox", "bin/sh -> busybox", "lib/modules/virtio.ko", "lib/modules/9p.ko", "modules.list"
        ] {
            XCTAssertTrue(listing.contains(name), "\(name) in:\n\(listing)")
        }
        XCTAssertTrue(listing.contains("crw-------") && listing.contains("dev/console"), listing)
        XCTAssertTrue(listing.contains("-rwxr-xr-x"), listing)
        _ = try run(
            "/bin/sh",
            ["-c", "cd '\(out.path)' && cpio -id --no-absolute-filenames < '\(archive.path)' 2>/dev/null; true"])
        XCTAssertEqual(
            try String(contentsOf: out.appendingPathComponent("modules.list"), encoding: .utf8), "virtio\n9p\n")
        XCTAssertEqual(try String(contentsOf: out.appendingPathComponent("lib/modules/9p.ko"), encoding: .utf8), "ko22")
        XCTAssertEqual(try String(contentsOf: out.appendingPathComponent("init"), encoding: .utf8), GuestInit.script)
        XCTAssertTrue(GuestInit.script.hasPrefix("#!/bin/busybox sh\n"))
    }

    /// A complete entry is used as it is: no download, no lock, no apt-get.
    func testCachedKernelIsReused() throws {
        let cache = VMCache(root: dir.path) { XCTFail("no progress expected: \($0)") }
        let release = "6.1.0-99-amd64"
        XCTAssertFalse(cache.hasKernel(release))
        let tree = cache.kernelDirectory(release) + "/tree"
        try FileManager.default.createDirectory(atPath: tree + "/boot", withIntermediateDirectories: true)
        // Without `ready` the entry is incomplete (an interrupted download).
        XCTAssertFalse(cache.hasKernel(release))
        _ = FileManager.default.createFile(
            atPath: cache.kernelDirectory(release) + "/ready", contents: Data("x.deb\n".utf8))
        XCTAssertTrue(cache.hasKernel(release))
        XCTAssertEqual(try cache.debianKernel(release), tree)
    }

    func testLockIsExclusive() throws {
        let cache = VMCache(root: dir.appendingPathComponent("new/root").path)
        let inside = try cache.locked { () -> Bool in
            // Another open file description cannot take the lock meanwhile.
            let fd = open(cache.root + "/lock", O_RDWR)
            defer { close(fd) }
            return flock(fd, LOCK_EX | LOCK_NB) != 0
        }
        XCTAssertTrue(inside)
        let fd = open(cache.root + "/lock", O_RDWR)
        defer { close(fd) }
        XCTAssertEqual(flock(fd, LOCK_EX | LOCK_NB), 0, "released after the body")
    }

    /// A `--kernel` image's modules: beside it in an unpacked package, else the host's.
    func testModulesOfCustomKernel() throws {
        let cache = VMCache(root: dir.appendingPathComponent("cache").path)
        let tree = dir.appendingPathComponent("tree")
        let modules = tree.appendingPathComponent("lib/modules/6.1.0-7-amd64")
        try FileManager.default.createDirectory(at: modules, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(
            at: tree.appendingPathComponent("boot"), withIntermediateDirectories: true)
        try "kernel/fs/9p/9p.ko\n".write(
            to: modules.appendingPathComponent("modules.order"), atomically: true, encoding: .utf8)
        let image = tree.appendingPathComponent("boot/vmlinuz-6.1.0-7-amd64").path
        XCTAssertEqual(try cache.modules(for: image, release: "6.1.0-7-amd64"), modules.path)
        XCTAssertThrowsError(try cache.modules(for: image, release: "5.99-custom")) { error in
            XCTAssertEqual((error as? VMError)?.kind, .badInput)
        }
    }

    func testUnreadableCustomKernel() throws {
        let cache = VMCache(root: dir.path)
        let notKernel = dir.appendingPathComponent("vmlinuz")
        try "hello".write(to: notKernel, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try cache.prepare(release: nil, kernel: notKernel.path)) { error in
            XCTAssertEqual((error as? VMError)?.kind, .badInput)
            XCTAssertTrue("\(error)".contains("not a Linux kernel image"), "\(error)")
        }
        XCTAssertThrowsError(try cache.prepare(release: nil, kernel: dir.appendingPathComponent("missing").path))
    }

    func run(_ tool: String, _ args: [String]) throws -> String {
        try ProcessRunner.run(tool, args).stdoutText
    }
}
