import Foundation

/// The guest kernel's own modules that `sbx vm` loads from its initramfs: the
/// virtio PCI transport, virtio serial ports (the command's stdout, stderr and the
/// control channel) and 9p over virtio (the host's file system).
public enum GuestModules {
    /// What the guest needs; their dependencies come first in the load order.
    public static let wanted = ["virtio_pci", "virtio_console", "9pnet_virtio", "9p"]

    /// `names` and everything they depend on, each after its dependencies, without
    /// duplicates; built-in modules (in `builtin`) are left out.
    public static func loadOrder(
        _ names: [String], builtin: Set<String>,
        dependencies: (String) throws -> [String]
    ) throws -> [String] {
        var order: [String] = []
        var done = Set<String>()
        var visiting = Set<String>()
        func visit(_ raw: String) throws {
            let name = normalized(raw)
            if done.contains(name) || builtin.contains(name) { return }
            guard !visiting.contains(name) else {
                throw VMError(
                    .environment, "the guest kernel's modules depend on each other in a cycle through \(name)")
            }
            visiting.insert(name)
            for dep in try dependencies(name) { try visit(dep) }
            visiting.remove(name)
            done.insert(name)
            order.append(name)
        }
        for name in names { try visit(name) }
        return order
    }

    /// Module names use `_` and `-` interchangeably; the kernel compares them as `_`.
    public static func normalized(_ name: String) -> String {
        name.replacingOccurrences(of: "-", with: "_")
    }

    /// The modules of release `release` under `modulesDirectory`
    /// (`lib/modules/RELEASE`), in load order, as absolute paths of `.ko` files.
    /// Dependencies come from `modinfo -F depends`, paths from `modules.order`.
    public static func resolve(modulesDirectory: String) throws -> [(name: String, path: String)] {
        let order = (try? String(contentsOfFile: modulesDirectory + "/modules.order", encoding: .utf8)) ?? ""
        var paths: [String: String] = [:]
        for line in order.split(separator: "\n") {
            let rel = line.trimmingCharacters(in: .whitespaces)
            let base = (rel as NSString).lastPathComponent
            for ext in [".ko", ".ko.xz", ".ko.zst", ".ko.gz"] where base.hasSuffix(ext) {
                paths[normalized(String(base.dropLast(ext.count)))] = modulesDirectory + "/" + rel
            }
        }
        guard !paths.isEmpty else {
            throw VMError(
                .environment, "\(modulesDirectory)/modules.order is missing or empty: not a kernel's modules directory")
        }
        let builtinText = (try? String(contentsOfFile: modulesDirectory + "/modules.builtin", encoding: .utf8)) ?? ""
        let builtin = Set(
            builtinText.split(separator: "\n").map {
                normalized(String(($0 as NSString).lastPathComponent.split(separator: ".").first ?? ""))
            })
        let modinfo = try HostTools.require("modinfo", package: "kmod")
        func path(_ name: String) throws -> String {
            guard let path = paths[name] else {
                throw VMError(.environment, "the guest kernel has no module \(name) in \(modulesDirectory)")
            }
            guard path.hasSuffix(".ko") else {
                throw VMError(
                    .environment, "\(path): compressed modules are not supported; use a kernel with plain .ko modules")
            }
            return path
        }
        let names = try loadOrder(wanted, builtin: builtin) { name in
            let outcome = try HostTools.run([modinfo, "-F", "depends", try path(name)])
            guard outcome.status == 0 else {
                throw VMError(.environment, "modinfo failed on \(try path(name)): \(outcome.diagnostic)")
            }
            return outcome.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                .split(separator: ",").map(String.init).filter { !$0.isEmpty }
        }
        return try names.map { ($0, try path($0)) }
    }
}
