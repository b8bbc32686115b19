import SbxSystem
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The LLVM 19 programs the driver runs. The project is pinned to LLVM 19 (its IR is
/// what the analysis reads), so the versioned names are looked up first.
struct Toolchain {
    var clang: String
    var llvmLink: String
    var llvmObjcopy: String

    /// Looks the tools up in `PATH`, then in LLVM 19's own bin directory.
    /// `DYCK_CC_CLANG` names another clang (it must still produce LLVM 19 IR).
    static func find(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Toolchain {
        let clang =
            try environment["DYCK_CC_CLANG"].flatMap { $0.isEmpty ? nil : $0 }.map(absoluteExecutable)
            ?? locate("clang-19", fallback: "/usr/lib/llvm-19/bin/clang", environment: environment)
        return Toolchain(
            clang: clang,
            llvmLink: try locate("llvm-link-19", fallback: "/usr/lib/llvm-19/bin/llvm-link", environment: environment),
            llvmObjcopy: try locate(
                "llvm-objcopy-19", fallback: "/usr/lib/llvm-19/bin/llvm-objcopy", environment: environment))
    }

    private static func absoluteExecutable(_ name: String) throws -> String {
        if name.contains("/") {
            guard access(name, X_OK) == 0 else {
                throw DriverError.toolMissing(name: name, hint: "DYCK_CC_CLANG names a file that is not executable")
            }
            return name
        }
        return try locate(name, fallback: nil, environment: ProcessInfo.processInfo.environment)
    }

    private static func locate(_ name: String, fallback: String?, environment: [String: String]) throws -> String {
        if let found = Executables.find(name, searchPath: environment["PATH"]) { return found }
        if let fallback, access(fallback, X_OK) == 0 { return fallback }
        throw DriverError.toolMissing(name: name, hint: "Debian: apt-get install clang-19 llvm-19")
    }
}

/// Flags that shape code generation and must be given again when the instrumented
/// bitcode is compiled at link time. Everything else about a compile (language,
/// macros, warnings, the optimizations already applied) is in the bitcode itself.
enum CodegenFlags {
    /// `-f` options (after an optional `no-`) that act in the backend rather than in the
    /// IR. Sanitizers and profiling are deliberately absent: their passes already ran
    /// when the bitcode was made (and the link-time code generation runs no IR passes).
    static let backendOptions = [
        "pic", "PIC", "pie", "PIE", "function-sections", "data-sections", "unique-section-names",
        "omit-frame-pointer", "plt", "asynchronous-unwind-tables", "unwind-tables", "emulated-tls",
        "direct-access-external-data", "jump-tables", "stack-size-section", "basic-block-sections=",
        "zero-call-used-regs=", "addrsig", "integrated-as", "semantic-interposition", "split-stack",
        "exceptions", "trap-function=", "stack-protector", "stack-clash-protection", "cf-protection",
        "tls-model=", "code-model=", "debug-prefix-map=", "fixed-"
    ]

    /// The backend-relevant options of a command line, in order, without `-O` (see
    /// `optimizationLevel`). `-m…` options are all kept (target CPU, features, code
    /// model), with the value of `-mllvm`.
    static func select(_ arguments: [Argument]) -> [String] {
        var result: [String] = []
        for argument in arguments where argument.kind == .option {
            let flag = argument.flag
            if flag == "-mllvm" || flag == "-target" || flag.hasPrefix("--target=") || flag.hasPrefix("-m") {
                result += argument.words
            } else if flag.hasPrefix("-f") {
                var name = flag.dropFirst(2)
                if name.hasPrefix("no-") { name = name.dropFirst(3) }
                if backendOptions.contains(where: { name.hasPrefix($0) }) { result.append(flag) }
            }
        }
        return result
    }

    /// The last `-O…` of a command line.
    static func optimization(_ arguments: [Argument]) -> String? {
        arguments.last { $0.kind == .option && $0.flag.hasPrefix("-O") }?.flag
    }

    /// Orders optimization options so that the strongest of several compile lines sets
    /// the backend's level for the whole program: functions compiled at -O0 carry
    /// `optnone`, which the backend honours at any level.
    static func rank(_ flag: String) -> Int {
        switch flag {
        case "-O0": return 0
        case "-O", "-O1", "-Og": return 1
        case "-O2", "-Os", "-Oz": return 2
        default: return 3  // -O3, -O4, -Ofast
        }
    }
}

/// What `dyck-cc -c` records in an object next to its bitcode (section `.dyck.cc`):
/// the compile's backend flags, so that a link line without them (make's default link
/// rule passes no CFLAGS) still compiles the program as its objects were compiled.
struct CompileRecord: Equatable {
    static let header = "dyck-cc 1"
    var optimization: String?
    var flags: [String]
    var debug: Bool

    init(optimization: String?, flags: [String], debug: Bool) {
        self.optimization = optimization
        self.flags = flags
        self.debug = debug
    }

    init(arguments: [Argument], debug: Bool) {
        self.init(
            optimization: CodegenFlags.optimization(arguments), flags: CodegenFlags.select(arguments), debug: debug)
    }

    /// Lines: the header, `opt FLAG`, `debug`, then `flag WORD` per flag.
    var serialized: String {
        var lines = [CompileRecord.header]
        if let optimization { lines.append("opt \(optimization)") }
        if debug { lines.append("debug") }
        lines += flags.map { "flag \($0)" }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Reads the lines of a `.dyck.cc` section; nil for an unknown format.
    init?(lines: [String]) {
        guard lines.first == CompileRecord.header else { return nil }
        optimization = nil
        flags = []
        debug = false
        for line in lines.dropFirst() {
            if line.hasPrefix("opt ") {
                optimization = String(line.dropFirst(4))
            } else if line == "debug" {
                debug = true
            } else if line.hasPrefix("flag ") {
                flags.append(String(line.dropFirst(5)))
            }
        }
    }
}
