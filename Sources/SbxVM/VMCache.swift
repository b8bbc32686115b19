import DyckModel
import SbxSystem
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The kernel and initramfs a guest boots, ready in the cache.
public struct GuestKernel: Sendable, Equatable {
    /// The kernel release (`uname -r` in the guest).
    public var release: String
    /// What QEMU boots: the uncompressed `vmlinux` (PVH entry) when it could be
    /// extracted, else the image itself.
    public var image: String
    /// The initramfs with busybox, `/init` and the guest's virtio and 9p modules.
    public var initramfs: String
}

/// What `sbx vm` downloads and builds, kept between runs:
///
///     ROOT/lock                              held while preparing
///     ROOT/kernels/RELEASE/*.deb             apt-get download linux-image-RELEASE
///     ROOT/kernels/RELEASE/tree/             dpkg -x of that package
///     ROOT/kernels/RELEASE/vmlinux           the uncompressed kernel (PVH boot)
///     ROOT/kernels/RELEASE/ready             written last: the above are complete
///     ROOT/custom/KEY.vmlinux                vmlinux of a --kernel image
///     ROOT/initramfs/RELEASE-KEY.cpio        busybox + /init + modules
///
/// ROOT is `$XDG_CACHE_HOME/sbx/vm` or `~/.cache/sbx/vm`. Entries are written under
/// temporary names and renamed into place, and preparation holds `ROOT/lock`, so
/// concurrent runs and interrupted ones never see half an entry. Deleting ROOT is
/// always safe.
public struct VMCache {
    public let root: String
    /// Progress lines (`sbx vm: ...`) while something is downloaded or built.
    public var progress: (String) -> Void

    public init(root: String, progress: @escaping (String) -> Void = { _ in }) {
        self.root = root
        self.progress = progress
    }

    /// `$XDG_CACHE_HOME/sbx/vm` if that is an absolute path, else `$HOME/.cache/sbx/vm`.
    public static func defaultRoot(environment: [String: String]) throws -> String {
        if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") {
            return xdg + "/sbx/vm"
        }
        if let home = environment["HOME"], home.hasPrefix("/") {
            return (home == "/" ? "" : home) + "/.cache/sbx/vm"
        }
        throw VMError(
            .environment, "neither XDG_CACHE_HOME nor HOME is set: pass --cache-dir for the kernels sbx vm downloads")
    }

    /// Runs `body` holding the cache's lock (other `sbx vm` processes wait).
    public func locked<T>(_ body: () throws -> T) throws -> T {
        try makeDirectory(root)
        let path = root + "/lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw VMError(.outputFailed, "\(path): cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            progress("waiting for another sbx vm to finish preparing \(root)")
            while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    func makeDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw VMError(.outputFailed, "\(path): cannot create the cache directory: \(OutputDescription.of(error))")
        }
    }

    // MARK: Debian kernels

    public func kernelDirectory(_ release: String) -> String { root + "/kernels/" + release }

    /// Whether the kernel `release` is complete in the cache.
    public func hasKernel(_ release: String) -> Bool {
        FileManager.default.fileExists(atPath: kernelDirectory(release) + "/ready")
    }

    /// Debian's kernel `release` (`6.1.0-NN-amd64`): downloaded with
    /// `apt-get download linux-image-RELEASE`, unpacked with `dpkg -x`, never
    /// installed. Returns the unpacked tree.
    public func debianKernel(_ release: String) throws -> String {
        let dir = kernelDirectory(release)
        let tree = dir + "/tree"
        if hasKernel(release) { return tree }
        return try locked {
            if hasKernel(release) { return tree }
            try makeDirectory(dir)
            let package = "linux-image-" + release
            var debs = debFiles(in: dir, package: package)
            if debs.isEmpty {
                let apt = try HostTools.require("apt-get", package: "apt")
                progress("downloading \(package) (apt-get download; about 70 MB, once)")
                let staging = dir + "/download.tmp"
                try? FileManager.default.removeItem(atPath: staging)
                try makeDirectory(staging)
                let outcome = try HostTools.run([apt, "download", "-q", package], in: staging)
                let fetched = debFiles(in: staging, package: package)
                guard outcome.status == 0, let deb = fetched.first else {
                    try? FileManager.default.removeItem(atPath: staging)
                    throw VMError(
                        .environment,
                        "apt-get download \(package) failed: \(outcome.diagnostic.isEmpty ? "exit status \(outcome.status)" : outcome.diagnostic) (run apt-get update? is \(release) still in the archive?)"
                    )
                }
                guard rename(staging + "/" + deb, dir + "/" + deb) == 0 else {
                    throw VMError(
                        .outputFailed, "\(dir)/\(deb): cannot move into the cache: \(String(cString: strerror(errno)))")
                }
                try? FileManager.default.removeItem(atPath: staging)
                debs = [deb]
            }
            let dpkg = try HostTools.require("dpkg", package: "dpkg")
            progress("unpacking \(debs[0]) (dpkg -x)")
            let staging = dir + "/tree.tmp"
            try? FileManager.default.removeItem(atPath: staging)
            try? FileManager.default.removeItem(atPath: tree)
            let outcome = try HostTools.run([dpkg, "-x", dir + "/" + debs[0], staging])
            guard outcome.status == 0 else {
                try? FileManager.default.removeItem(atPath: staging)
                throw VMError(.environment, "dpkg -x \(debs[0]) failed: \(outcome.diagnostic)")
            }
            guard rename(staging, tree) == 0 else {
                throw VMError(.outputFailed, "\(tree): cannot move into the cache: \(String(cString: strerror(errno)))")
            }
            let image = tree + "/boot/vmlinuz-" + release
            guard FileManager.default.fileExists(atPath: image) else {
                throw VMError(.environment, "\(debs[0]) has no boot/vmlinuz-\(release)")
            }
            progress("extracting vmlinux from vmlinuz-\(release) (xz)")
            _ = KernelImage.extractVmlinux(from: image, to: dir + "/vmlinux")
            try writeFile(dir + "/ready", Array((debs[0] + "\n").utf8))
            return tree
        }
    }

    func debFiles(in dir: String, package: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
            .filter { $0.hasPrefix(package + "_") && $0.hasSuffix(".deb") }.sorted()
    }

    // MARK: Images and initramfs

    /// The kernel to boot: `--kernel IMAGE` if given, else Debian's `release`
    /// (fetched into the cache), with the initramfs for it.
    public func prepare(release wanted: String?, kernel custom: String?) throws -> GuestKernel {
        let release: String
        let image: String
        let modulesDirectory: String
        if let custom {
            guard let bytes = FileManager.default.contents(atPath: custom).map(Array.init) else {
                throw VMError(.badInput, "\(custom): cannot read the kernel image")
            }
            guard let found = KernelImage.release(ofImage: bytes) else {
                throw VMError(.badInput, "\(custom): not a Linux kernel image (no x86 boot header or version banner)")
            }
            if let wanted, wanted != found {
                throw VMError(.badInput, "\(custom) is Linux \(found) but the module was built for \(wanted)")
            }
            release = found
            image = try bootableImage(custom, bytes: bytes)
            modulesDirectory = try modules(for: custom, release: found)
        } else {
            guard let wanted else {
                throw VMError(
                    .environment,
                    "no kernel to boot: install Debian's kernel headers (apt-get install linux-headers-amd64) or pass --kernel"
                )
            }
            guard KernelImage.isDebianRelease(wanted) else {
                throw VMError(
                    .badInput,
                    "the module was built for Linux \(wanted), which is not a Debian amd64 kernel sbx vm can download; pass --kernel"
                )
            }
            let tree = try debianKernel(wanted)
            release = wanted
            let vmlinux = kernelDirectory(wanted) + "/vmlinux"
            image = FileManager.default.fileExists(atPath: vmlinux) ? vmlinux : tree + "/boot/vmlinuz-" + wanted
            modulesDirectory = tree + "/lib/modules/" + wanted
        }
        let initramfs = try self.initramfs(release: release, modulesDirectory: modulesDirectory)
        return GuestKernel(release: release, image: image, initramfs: initramfs)
    }

    /// The modules directory of a `--kernel` image: beside it in an unpacked package
    /// (`../lib/modules/RELEASE`), the host's `/lib/modules/RELEASE`, or Debian's
    /// package for that release, downloaded into the cache.
    func modules(for image: String, release: String) throws -> String {
        let beside = URL(fileURLWithPath: image).deletingLastPathComponent()
            .appendingPathComponent("../lib/modules/\(release)").standardizedFileURL.path
        for dir in [beside, "/lib/modules/" + release, kernelDirectory(release) + "/tree/lib/modules/" + release]
        where FileManager.default.fileExists(atPath: dir + "/modules.order") {
            return dir
        }
        guard KernelImage.isDebianRelease(release) else {
            throw VMError(
                .badInput, "\(image): no modules for Linux \(release) (looked in \(beside) and /lib/modules/\(release))"
            )
        }
        return try debianKernel(release) + "/lib/modules/" + release
    }

    /// A `--kernel` image as QEMU should boot it: its uncompressed `vmlinux`, cached
    /// under a key of its path, size and time, when it can be extracted.
    func bootableImage(_ path: String, bytes: [UInt8]) throws -> String {
        if KernelImage.isELF(bytes) || KernelImage.xzPayloadOffset(bytes) == nil { return path }
        var st = stat()
        stat(path, &st)
        var key = FNV64()
        key.add(URL(fileURLWithPath: path).standardizedFileURL.path)
        key.add("\(st.st_size) \(st.st_mtim.tv_sec) \(st.st_mtim.tv_nsec) \(st.st_ino)")
        let cached = root + "/custom/\(key.hex).vmlinux"
        if FileManager.default.fileExists(atPath: cached) { return cached }
        return try locked {
            if FileManager.default.fileExists(atPath: cached) { return cached }
            try makeDirectory(root + "/custom")
            progress("extracting vmlinux from \(path) (xz)")
            return KernelImage.extractVmlinux(from: path, to: cached) ? cached : path
        }
    }

    /// The initramfs for `release`, built when busybox, `/init` or the module set
    /// changed.
    public func initramfs(release: String, modulesDirectory: String, busybox: String = "/bin/busybox") throws -> String
    {
        var st = stat()
        guard stat(busybox, &st) == 0 else {
            throw VMError(.environment, "\(busybox) is missing (Debian: apt-get install busybox-static)")
        }
        var key = FNV64()
        key.add(GuestInit.script)
        key.add(GuestModules.wanted.joined(separator: ","))
        key.add("\(busybox) \(st.st_size) \(st.st_mtim.tv_sec) \(st.st_mtim.tv_nsec)")
        var order = stat()
        stat(modulesDirectory + "/modules.order", &order)
        key.add("\(modulesDirectory) \(order.st_size) \(order.st_mtim.tv_sec) \(order.st_mtim.tv_nsec)")
        let path = root + "/initramfs/\(release)-\(key.hex).cpio"
        if FileManager.default.fileExists(atPath: path) { return path }
        return try locked {
            if FileManager.default.fileExists(atPath: path) { return path }
            progress("building the initramfs for \(release) (busybox, /init, virtio and 9p modules)")
            guard let box = FileManager.default.contents(atPath: busybox).map(Array.init) else {
                throw VMError(.environment, "\(busybox): cannot read")
            }
            guard !KernelImage.hasInterpreter(box) else {
                throw VMError(
                    .environment,
                    "\(busybox) is dynamically linked; the guest needs a static one (Debian: apt-get install busybox-static)"
                )
            }
            let modules = try GuestModules.resolve(modulesDirectory: modulesDirectory).map {
                module -> (String, [UInt8]) in
                guard let contents = FileManager.default.contents(atPath: module.path) else {
                    throw VMError(.environment, "\(module.path): cannot read")
                }
                return (module.name, Array(contents))
            }
            try makeDirectory(root + "/initramfs")
            try writeFile(path, GuestInitramfs.build(busybox: box, modules: modules))
            return path
        }
    }

    func writeFile(_ path: String, _ bytes: [UInt8]) throws {
        do {
            try AtomicFile.write(bytes, to: path)
        } catch {
            throw VMError(.outputFailed, error.description)
        }
    }
}

enum OutputDescription {
    static func of(_ error: Error) -> String {
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain
        {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return nsError.localizedDescription
    }
}
