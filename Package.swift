// swift-tools-version:6.0
import Foundation
import PackageDescription

// LLVM 19 comes from Debian's llvm-19-dev; its location is fixed by that package.
let llvmInclude = "/usr/lib/llvm-19/include"
let llvmLib = "/usr/lib/llvm-19/lib"

let llvmSwiftFlags: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-I\(llvmInclude)"])]
let llvmLinkFlags: [LinkerSetting] = [
    .unsafeFlags(["-L\(llvmLib)", "-Xlinker", "-rpath", "-Xlinker", llvmLib])
]

// The git commit the tools report with --version: the Makefile passes it in
// SBX_GIT_COMMIT (nothing is generated into the tree); a plain `swift build` says
// "unknown". Only letters, digits, '.', '-' and '_' are kept, so the value is always a
// valid C string literal. It is a define of CBuildInfo alone: a new commit recompiles
// one C file and relinks.
let gitCommit: String = {
    let value = ProcessInfo.processInfo.environment["SBX_GIT_COMMIT"] ?? ""
    let safe =
        !value.isEmpty && value.count <= 64
        && value.unicodeScalars.allSatisfy {
            CharacterSet.alphanumerics.contains($0) && $0.isASCII || "._-".unicodeScalars.contains($0)
        }
    return safe ? value : "unknown"
}()

let package = Package(
    name: "dyck-sandbox",
    products: [
        .executable(name: "dyck-gen", targets: ["dyck-gen"]),
        .executable(name: "sbx", targets: ["sbx"]),
        .executable(name: "dyck-cc", targets: ["dyck-cc"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
    ],
    targets: [
        // The LLVM 19 C API (llvm-c/*.h).
        .systemLibrary(name: "CLLVM", path: "Sources/CLLVM"),
        // libelf, for reading the C library's exported symbols.
        .systemLibrary(name: "CLibELF", path: "Sources/CLibELF"),
        // Capstone 4, the x86-64 disassembler behind the analysis of the C library.
        .systemLibrary(name: "CCapstone", path: "Sources/CCapstone"),

        // The kernel ABI: marker kinds, ioctls, records, reasons. Its headers are links to
        // kmod/uapi, their one definition; Swift takes its enums' values from them.
        .target(name: "CSbxABI"),
        // The ABI between the instrumentation and `sbx run` that is no C struct: the
        // policy digest an instrumented executable records.
        .target(name: "SbxABI", dependencies: ["SbxSystem"]),

        // System plumbing with no domain knowledge: bounded file reads, atomic writes,
        // errno errors, PATH lookup, subprocesses, ELF sections (libelf). Used by every
        // module that touches files.
        .target(name: "SbxSystem", dependencies: ["CSbxSystem", "CLibELF"]),
        // The GNU libc extensions SbxSystem calls (pipe2, posix_spawn's chdir).
        .target(name: "CSbxSystem"),

        // Automata, Dyck policies, the policy file format, checking, conversion, DOT.
        // Never imports LLVM.
        .target(name: "DyckModel", dependencies: ["SbxSystem", "CSbxABI"]),

        // The kernel's freestanding monitor core (policy blob validation, stepping),
        // compiled from kmod/core so that userspace replays with the kernel's code.
        .target(
            name: "CSbxCore",
            path: "kmod/core",
            exclude: ["tests"],
            sources: ["sbx_blob.c", "sbx_monitor.c"],
            publicHeadersPath: "."
        ),
        // Policy -> the kernel's binary blob (macro-state machine); KernelMonitor.
        .target(name: "SbxBlob", dependencies: ["DyckModel", "CSbxCore"]),

        // libc.so.6 and ld.so -> the system calls each exported libc function can make
        // (specs/libc-syscalls.md). Never imports LLVM.
        .target(name: "LibcSyscalls", dependencies: ["DyckModel", "CCapstone", "CLibELF"]),

        // LLVM IR -> per-function automata and call-site table.
        .target(
            name: "DyckAnalysis",
            dependencies: ["DyckModel", "LibcSyscalls", "CLLVM", "CLibELF", "SbxSystem"],
            swiftSettings: llvmSwiftFlags,
            linkerSettings: llvmLinkFlags
        ),

        // LLVM IR rewriting: marker system calls for the policy of the same analysis.
        .target(
            name: "DyckInstrument",
            dependencies: ["DyckAnalysis", "DyckModel", "CLLVM", "SbxSystem", "SbxABI"],
            swiftSettings: llvmSwiftFlags,
            linkerSettings: llvmLinkFlags
        ),

        // `sbx record`: the ptrace loop in C (ptrace is variadic, out of Swift's
        // reach), and the trace model, file format and recorder over it.
        .target(name: "CSbxTrace", dependencies: ["CSbxABI"]),
        .target(name: "SbxTrace", dependencies: ["CSbxTrace", "DyckModel", "SbxSystem"]),

        // /dev/sbx from Swift: ioctl wrappers and the fork-arm-exec of `sbx run` (C:
        // ioctl is variadic, and the child after fork must not run Swift code).
        .target(name: "CSbxDevice", dependencies: ["CSbxABI"]),
        // Enforcement for users: the device, program/policy binding, violation
        // reports, `sbx run`, the per-executable registry, status; the pinned-site
        // table read with libelf.
        // SbxCLI for the sandbox's error categories (their exit statuses are there).
        .target(
            name: "SbxRun",
            dependencies: ["CSbxDevice", "CLibELF", "DyckModel", "SbxBlob", "SbxSystem", "SbxCLI", "SbxABI"]
        ),

        // The version and the git commit of the build (--version, --dyck-version).
        .target(name: "CBuildInfo", cSettings: [.define("SBX_GIT_COMMIT", to: "\"\(gitCommit)\"")]),

        // Shared by the executables: typed errors -> exit codes, diagnostics, version.
        .target(
            name: "SbxCLI",
            dependencies: [
                "DyckModel", "SbxSystem", "CBuildInfo",
                .product(name: "ArgumentParser", package: "swift-argument-parser")
            ]
        ),

        .executableTarget(
            name: "dyck-gen",
            dependencies: [
                "DyckAnalysis", "DyckInstrument", "DyckModel", "LibcSyscalls", "SbxCLI",
                .product(name: "ArgumentParser", package: "swift-argument-parser")
            ],
            swiftSettings: llvmSwiftFlags,
            linkerSettings: llvmLinkFlags
        ),
        // The compiler driver behind dyck-cc: bitcode in objects, whole-program policy
        // and instrumentation at link time.
        .target(
            name: "DyckCC",
            dependencies: ["DyckAnalysis", "DyckInstrument", "DyckModel", "CLLVM", "SbxSystem", "CBuildInfo"],
            swiftSettings: llvmSwiftFlags,
            linkerSettings: llvmLinkFlags
        ),
        .executableTarget(
            name: "dyck-cc",
            dependencies: ["DyckCC", "DyckModel", "SbxCLI"],
            swiftSettings: llvmSwiftFlags,
            linkerSettings: llvmLinkFlags
        ),
        // `sbx vm`: one command in a QEMU guest running Debian's kernel with the module.
        .target(name: "SbxVM", dependencies: ["DyckModel", "SbxSystem"]),

        .executableTarget(
            name: "sbx",
            dependencies: [
                "DyckModel", "SbxBlob", "SbxCLI", "SbxRun", "SbxTrace", "SbxVM", "SbxSystem",
                .product(name: "ArgumentParser", package: "swift-argument-parser")
            ]
        ),

        // What the test targets share: running child processes, the random generator
        // and random policies.
        .target(name: "TestSupport", dependencies: ["DyckModel", "SbxSystem"], path: "Tests/TestSupport"),

        // Three tiers of tests (CONTRIBUTING.md, "Tests"); the Makefile's UNIT_TEST_TARGETS,
        // INTEGRATION_TEST_TARGETS and GUEST_TEST_TARGETS list every test target once.
        // Unit (make test-unit, the fast loop): in-process, no compiler, no ptrace, no
        // built executable, no guest. Integration (make test-integration): clang, ptrace,
        // make/CMake, this machine's libc, the built tools. Guest (make test-guest): QEMU
        // boots through `sbx vm`. A target `XIntegrationTests` or `XGuestTests` holds the
        // slow tests of the module whose unit tests are `XTests`.
        .testTarget(name: "SbxSystemTests", dependencies: ["SbxSystem", "TestSupport"]),
        // libelf on objects that clang-19 compiles in the test.
        .testTarget(name: "SbxSystemIntegrationTests", dependencies: ["SbxSystem", "TestSupport"]),
        .testTarget(name: "DyckModelTests", dependencies: ["DyckModel", "SbxSystem", "TestSupport"]),
        .testTarget(name: "LibcSyscallsTests", dependencies: ["LibcSyscalls", "DyckModel"]),
        .testTarget(
            name: "LibcSyscallsIntegrationTests",
            // DyckAnalysis for the hand-written oracle (SilentLibc) and libc's path.
            dependencies: ["LibcSyscalls", "DyckModel", "DyckAnalysis"],
            // C programs the tests compile with clang-19 and run under strace.
            exclude: ["Programs"],
            swiftSettings: llvmSwiftFlags,
            linkerSettings: llvmLinkFlags
        ),
        .testTarget(
            name: "DyckAnalysisTests",
            dependencies: ["DyckAnalysis", "DyckModel", "TestSupport"],
            resources: [.copy("Fixtures")],
            swiftSettings: llvmSwiftFlags,
            linkerSettings: llvmLinkFlags
        ),
        .testTarget(
            name: "DyckInstrumentTests",
            dependencies: ["DyckInstrument", "DyckAnalysis", "DyckModel", "CLLVM", "TestSupport"],
            resources: [.copy("Programs")],
            swiftSettings: llvmSwiftFlags,
            linkerSettings: llvmLinkFlags
        ),
        // SbxRun and SbxBlob: a kill report made by the code `sbx run` uses, for `sbx dot --report`.
        .testTarget(name: "CLITests", dependencies: ["DyckModel", "SbxRun", "SbxBlob", "TestSupport"]),
        .testTarget(name: "SbxTraceTests", dependencies: ["SbxTrace"]),
        // sbx record's ptrace loop on programs built with dyck-cc; sbx stats and check --trace.
        .testTarget(name: "SbxTraceIntegrationTests", dependencies: ["SbxTrace", "TestSupport"]),
        .testTarget(
            name: "SbxVMTests",
            dependencies: ["SbxVM", "TestSupport"],
            // Real guest console transcripts, read by BootConsoleTests (and BootRetryTests)
            // at their source path.
            exclude: ["Transcripts"]
        ),
        // Real boots, and sbx vm's retries with a stand-in QEMU.
        .testTarget(name: "SbxVMGuestTests", dependencies: ["SbxVM", "TestSupport"]),
        .testTarget(
            name: "SbxRunTests",
            dependencies: ["SbxRun", "DyckModel", "SbxBlob", "SbxCLI", "SbxABI", "SbxSystem", "TestSupport"]
        ),
        // The pinned-site table of executables built with dyck-cc.
        .testTarget(
            name: "SbxRunIntegrationTests",
            dependencies: ["SbxRun", "DyckModel", "SbxCLI", "SbxABI", "SbxSystem", "TestSupport"]
        ),
        .testTarget(
            name: "SbxBlobTests",
            dependencies: ["SbxBlob", "CSbxCore", "DyckModel", "DyckAnalysis", "TestSupport"],
            swiftSettings: llvmSwiftFlags,
            linkerSettings: llvmLinkFlags
        ),
        .testTarget(
            name: "DyckCCTests",
            dependencies: ["DyckCC", "SbxSystem", "TestSupport"],
            swiftSettings: llvmSwiftFlags,
            linkerSettings: llvmLinkFlags
        ),
        .testTarget(
            name: "DyckCCIntegrationTests",
            dependencies: ["DyckCC", "SbxSystem", "TestSupport"],
            // C projects built by the tests through dyck-cc, not by SwiftPM.
            exclude: ["Fixtures"],
            swiftSettings: llvmSwiftFlags,
            linkerSettings: llvmLinkFlags
        )
    ],
    swiftLanguageModes: [.v6]
)
