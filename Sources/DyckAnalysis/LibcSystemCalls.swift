import Glibc
import LibcSyscalls

/// The shared C library among the files `LibcSymbols` read (libc.so.6 itself, or the
/// one the `libc.so` linker script names): the file whose code is analysed for system
/// calls. `libcPath` as for `AnalysisOptions.libcPath`.
public func libcSharedObjectPath(_ libcPath: String?) throws -> String {
    let libc = try LibcSymbols.load(path: libcPath)
    for file in libc.files where isELF(file) { return file }
    throw AnalysisError.libcSystemCallsUnavailable(
        path: libcPath ?? libc.files.joined(separator: ", "),
        reason: "no shared C library (libc.so.6) among \(libc.files.joined(separator: ", "))")
}

/// The derived system-call sets for the C library `libc` was read from, with the
/// functions of its static part (libc_nonshared.a) when it was among the files.
func libcSystemCalls(_ libc: LibcSymbols, options: AnalysisOptions) throws -> LibcSyscallTable {
    let shared = try libcSharedObjectPath(options.libcPath)
    // Untyped, so that the catch below can convert (typed throws in a do block crash
    // the Swift 6.3 compiler here).
    func load() throws -> LibcSyscallTable {
        var table = try LibcSyscallCache.load(
            libcPath: shared, loaderPath: options.loaderPath ?? LibcSyscallAnalysis.defaultLoaderPath,
            progress: options.progress)
        for file in libc.files where !isELF(file) {
            table = try table.addingStaticMembers(of: file)
        }
        return table
    }
    do {
        return try load()
    } catch let error as LibcSyscallsError {
        switch error {
        case let .unreadableLibrary(path, reason), let .notGlibc(path, reason):
            throw AnalysisError.libcSystemCallsUnavailable(path: path, reason: reason)
        case let .disassembler(message):
            throw AnalysisError.libcSystemCallsUnavailable(path: shared, reason: message)
        }
    }
}

private func isELF(_ path: String) -> Bool {
    guard let file = fopen(path, "rb") else { return false }
    defer { fclose(file) }
    var magic = [UInt8](repeating: 0, count: 4)
    return fread(&magic, 1, 4, file) == 4 && magic == [0x7F, 0x45, 0x4C, 0x46]
}
