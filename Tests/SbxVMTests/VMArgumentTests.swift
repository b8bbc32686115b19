import Foundation
@testable import SbxVM
import XCTest
import TestSupport

/// Options, the guest's configuration and the QEMU command line, without booting.
final class VMArgumentTests: XCTestCase {
    func testMemory() throws {
        XCTAssertEqual(try VMConfiguration.parseMemory("512M"), 512)
        XCTAssertEqual(try VMConfiguration.parseMemory("512m"), 512)
        XCTAssertEqual(try VMConfiguration.parseMemory("2G"), 2048)
        XCTAssertEqual(try VMConfiguration.parseMemory("1GiB"), 1024)
        XCTAssertEqual(try VMConfiguration.parseMemory("768"), 768)
        for bad in ["", "M", "12x", "-1G", "0", "64M", "1.5G", "99999999999999999999G", " 512M"] {
            XCTAssertThrowsError(try VMConfiguration.parseMemory(bad), bad) { error in
                XCTAssertEqual((error as? VMError)?.kind, .badInput)
                XCTAssertTrue("\(error)".contains("--memory"))
            }
        }
    }

    func testTimeout() throws {
        XCTAssertEqual(try VMConfiguration.parseTimeout("600"), 600)
        XCTAssertEqual(try VMConfiguration.parseTimeout("2.5"), 2.5)
        for bad in ["0", "-3", "soon", "inf", "nan", ""] {
            XCTAssertThrowsError(try VMConfiguration.parseTimeout(bad), bad)
        }
    }

    func testCommand() throws {
        XCTAssertEqual(try VMConfiguration.command(from: ["--", "sh", "-c", "exit 7"]), ["sh", "-c", "exit 7"])
        XCTAssertEqual(try VMConfiguration.command(from: ["true"]), ["true"])
        // Only the first `--` separates; later ones belong to the command.
        XCTAssertEqual(try VMConfiguration.command(from: ["--", "echo", "--"]), ["echo", "--"])
        XCTAssertThrowsError(try VMConfiguration.command(from: []))
        XCTAssertThrowsError(try VMConfiguration.command(from: ["--"]))
    }

    func testEnvironment() throws {
        let host = ["PATH": "/opt/x/bin:/usr/bin", "HOME": "/home/u", "SECRET": "no", "LANG": "C.UTF-8"]
        let env = try VMConfiguration.guestEnvironment(host: host, extra: ["A=1", "B=x=y", "PATH=/bin"])
        XCTAssertEqual(env["PATH"], "/bin")
        XCTAssertEqual(env["HOME"], "/home/u")
        XCTAssertEqual(env["LANG"], "C.UTF-8")
        XCTAssertEqual(env["A"], "1")
        XCTAssertEqual(env["B"], "x=y")
        XCTAssertEqual(env["SBX_VM"], "1")
        XCTAssertNil(env["SECRET"])
        XCTAssertEqual(try VMConfiguration.guestEnvironment(host: [:], extra: [])["HOME"], "/root")
        XCTAssertNotNil(try VMConfiguration.guestEnvironment(host: [:], extra: [])["PATH"])
        for bad in ["NOEQUALS", "=v", "1A=v", "A B=v", "A-B=v"] {
            XCTAssertThrowsError(try VMConfiguration.guestEnvironment(host: [:], extra: [bad]), bad)
        }
    }

    func testWritableExports() {
        let (root, dirs) = GuestInit.writableExports([
            "/work/main", "/tmp", "/tmp/x/y", "/work/main/.build", "/tmp/../tmp/", "/var/a"
        ])
        XCTAssertFalse(root)
        XCTAssertEqual(dirs, ["/tmp", "/var/a", "/work/main"])
        let (rootRW, none) = GuestInit.writableExports(["/", "/tmp"])
        XCTAssertTrue(rootRW)
        XCTAssertEqual(none, [])
        // A sibling with a common prefix is not inside.
        XCTAssertEqual(GuestInit.writableExports(["/tmp", "/tmpx"]).exports, ["/tmp", "/tmpx"])
    }

    /// The configuration `/init` sources, run by the host's shell: every argument,
    /// variable and directory arrives byte for byte, whatever it holds.
    func testConfigurationQuoting() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sbx-vm-quote-\(UUID().uuidString)")
        let cwd = dir.appendingPathComponent("it's a \"dir\" $HOME")
        try FileManager.default.createDirectory(at: cwd, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let args = ["plain", "with space", "it's", "\"dq\"", "$HOME", "`id`", "a\nb", "\\", "", "*", "-n", ";exit 3"]
        let conf = GuestInit.configuration(
            command: ["printf", "[%s]\\n"] + args, workingDirectory: cwd.path,
            environment: ["PATH": "/usr/bin:/bin", "ODD": "x'y\"z $w\n"], module: "/m o'd.ko",
            writable: [("rw0", "/tmp/a b"), ("rw1", "/x'y")])
        let confPath = dir.appendingPathComponent("conf").path
        try conf.write(toFile: confPath, atomically: true, encoding: .utf8)
        // As /init does: source it, then run the script in a clean environment.
        let driver = """
            sbx_mount_rw() { printf 'rw <%s> <%s>\\n' "$1" "$2"; }
            . '\(confPath)'
            printf 'module <%s>\\n' "$SBX_MODULE"
            sbx_rw
            env -i /bin/sh -c "$SBX_SCRIPT"
            echo "status $?"
            env -i /bin/sh -c "$(printf '%s\\n' "$SBX_SCRIPT" | sed 's/^exec .*/pwd; printf "%s|" "$ODD"/')"
            """
        let output = try ProcessRunner.run("/bin/sh", ["-c", driver]).stdoutText
        let expected =
            "module </m o'd.ko>\nrw <rw0> </tmp/a b>\nrw <rw1> </x'y>\n"
            + args.map { "[\($0)]\n" }.joined() + "status 0\n" + cwd.path + "\n" + "x'y\"z $w\n|"
        XCTAssertEqual(output, expected)
    }

    func testQEMUCommand() {
        let kernel = GuestKernel(release: "6.1.0-56-amd64", image: "/c/vmlinux", initramfs: "/c/i,nit.cpio")
        var command = QEMUCommand(
            kernel: kernel, memoryMiB: 512, cpus: 1, kvm: false, runDirectory: "/tmp/sbx-vm-abc",
            kernelLog: "/tmp/sbx-vm-abc/kernel.log", rootWritable: false,
            writable: ["/work/a,b", "/tmp"])
        var args = command.arguments
        func value(after flag: String) -> [String] {
            args.indices.filter { args[$0] == flag }.map { args[$0 + 1] }
        }
        XCTAssertEqual(value(after: "-machine"), ["q35"])
        XCTAssertEqual(value(after: "-accel"), ["tcg,thread=single"])
        XCTAssertEqual(value(after: "-cpu"), ["max"])
        XCTAssertEqual(value(after: "-m"), ["512M"])
        XCTAssertEqual(value(after: "-initrd"), ["/c/i,nit.cpio"], "a file argument, not an option list")
        XCTAssertEqual(
            value(after: "-virtfs"),
            [
                "local,path=/,mount_tag=host,security_model=none,multidevs=remap,readonly=on",
                "local,path=/work/a,,b,mount_tag=rw0,security_model=none,multidevs=remap",
                "local,path=/tmp,mount_tag=rw1,security_model=none,multidevs=remap"
            ])
        XCTAssertTrue(args.contains("isa-debug-exit,iobase=0xf4,iosize=0x04"))
        for port in ["stdout", "stderr", "ctl"] {
            XCTAssertTrue(value(after: "-device").contains { $0.hasSuffix("name=sbx.\(port)") }, port)
        }
        let append = value(after: "-append").first ?? ""
        XCTAssertTrue(append.contains("console=ttyS0"))
        XCTAssertTrue(append.contains("SBX_RUN=/tmp/sbx-vm-abc"))
        XCTAssertTrue(append.contains("SBX_ROOT=ro"))
        XCTAssertFalse(args.contains("-icount"))
        command.icount = true
        args = command.arguments
        XCTAssertEqual(value(after: "-icount"), ["shift=0,sleep=on"])

        command.kvm = true
        command.rootWritable = true
        command.extraKernelArguments = ["oops=panic"]
        args = command.arguments
        XCTAssertEqual(value(after: "-machine"), ["q35,accel=kvm"])
        XCTAssertEqual(value(after: "-accel"), [])
        XCTAssertEqual(value(after: "-cpu"), ["host"])
        XCTAssertFalse(args.contains("-icount"), "KVM runs in real time")
        XCTAssertEqual(value(after: "-virtfs").first, "local,path=/,mount_tag=host,security_model=none,multidevs=remap")
        XCTAssertTrue(value(after: "-append").first!.hasSuffix("SBX_ROOT=rw oops=panic"))
    }

    func testDefaultModule() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sbx-vm-pkg-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let bin = dir.appendingPathComponent(".build/debug")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(
            at: dir.appendingPathComponent("kmod"), withIntermediateDirectories: true)
        try "// package".write(to: dir.appendingPathComponent("Package.swift"), atomically: true, encoding: .utf8)
        let exe = bin.appendingPathComponent("sbx").path
        XCTAssertEqual(PackageRoot.find(executable: exe, currentDirectory: "/"), dir.path)
        // Found from the current directory when the executable is elsewhere.
        XCTAssertEqual(
            PackageRoot.find(executable: "/usr/bin/sbx", currentDirectory: dir.appendingPathComponent("kmod").path),
            dir.path)
        XCTAssertNil(PackageRoot.find(executable: "/usr/bin/sbx", currentDirectory: "/"))

        XCTAssertThrowsError(try PackageRoot.defaultModule(executable: exe, currentDirectory: "/")) { error in
            XCTAssertEqual((error as? VMError)?.kind, .environment)
            XCTAssertTrue("\(error)".contains("kmod/sbx_dyck.ko"), "\(error)")
            XCTAssertTrue("\(error)".contains("--no-module"), "\(error)")
        }
        XCTAssertThrowsError(try PackageRoot.defaultModule(executable: "/usr/bin/sbx", currentDirectory: "/")) {
            error in
            XCTAssertTrue("\(error)".contains("--no-module"), "\(error)")
        }
        _ = FileManager.default.createFile(
            atPath: dir.appendingPathComponent("kmod/sbx_dyck.ko").path, contents: Data())
        XCTAssertEqual(
            try PackageRoot.defaultModule(executable: exe, currentDirectory: "/"), dir.path + "/kmod/sbx_dyck.ko")
    }

    func testTaint() {
        XCTAssertEqual(Taint.describe(0), "0 (not tainted)")
        XCTAssertEqual(Taint.describe(12288), "12288 (O E)")
        XCTAssertEqual(Taint.describe(Taint.warning | Taint.oops), "640 (D W)")
    }
}
