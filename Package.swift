// swift-tools-version:6.0
import PackageDescription

// LLVM 19 comes from Debian's llvm-19-dev; its location is fixed by that package.
let llvmInclude = "/usr/lib/llvm-19/include"
let llvmLib = "/usr/lib/llvm-19/lib"

let llvmSwiftFlags: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-I\(llvmInclude)"])]
let llvmLinkFlags: [LinkerSetting] = [
    .unsafeFlags(["-L\(llvmLib)", "-Xlinker", "-rpath", "-Xlinker", llvmLib]),
]

let package = Package(
    name: "dyck-sandbox",
    products: [
        .executable(name: "dyck-gen", targets: ["dyck-gen"]),
        .executable(name: "sbx", targets: ["sbx"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // The LLVM 19 C API (llvm-c/*.h).
        .systemLibrary(name: "CLLVM", path: "Sources/CLLVM"),
        // libelf, for reading the C library's exported symbols.
        .systemLibrary(name: "CLibELF", path: "Sources/CLibELF"),

        // Automata, Dyck policies, the policy file format, checking, conversion, DOT.
        // Never imports LLVM.
        .target(name: "DyckModel"),

        // LLVM IR -> per-function automata and call-site table.
        .target(
            name: "DyckAnalysis",
            dependencies: ["DyckModel", "CLLVM", "CLibELF"],
            swiftSettings: llvmSwiftFlags,
            linkerSettings: llvmLinkFlags
        ),

        // Shared by the executables: typed errors -> exit codes, diagnostics.
        .target(
            name: "SbxCLI",
            dependencies: [
                "DyckModel",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        .executableTarget(
            name: "dyck-gen",
            dependencies: [
                "DyckAnalysis", "DyckModel", "SbxCLI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: llvmSwiftFlags,
            linkerSettings: llvmLinkFlags
        ),
        .executableTarget(
            name: "sbx",
            dependencies: [
                "DyckModel", "SbxCLI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        .testTarget(name: "DyckModelTests", dependencies: ["DyckModel"]),
        .testTarget(
            name: "DyckAnalysisTests",
            dependencies: ["DyckAnalysis", "DyckModel"],
            resources: [.copy("Fixtures")],
            swiftSettings: llvmSwiftFlags,
            linkerSettings: llvmLinkFlags
        ),
        .testTarget(name: "CLITests", dependencies: ["DyckModel"]),
    ],
    swiftLanguageModes: [.v5]
)
