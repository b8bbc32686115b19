import SbxSystem
import CLLVM
import DyckAnalysis
import Glibc

/// How LLVM IR is stored in a file.
public enum IRFormat: Sendable {
    case text
    case bitcode

    /// The format of the file at `path`, told by its first bytes as the reader does
    /// (bitcode magic or the bitcode wrapper magic), not by its name; `nil` when the
    /// file cannot be read.
    public static func of(fileAtPath path: String) -> IRFormat? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var magic = [UInt8](repeating: 0, count: 4)
        let count = magic.withUnsafeMutableBytes { read(fd, $0.baseAddress, 4) }
        guard count >= 0 else { return nil }
        let head = Array(magic.prefix(count))
        if head == [0x42, 0x43, 0xC0, 0xDE] || head == [0xDE, 0xC0, 0x17, 0x0B] { return .bitcode }
        return .text
    }

    /// The usual file-name extension, without the dot.
    public var fileExtension: String {
        switch self {
        case .text: return "ll"
        case .bitcode: return "bc"
        }
    }
}

extension IRModule {
    /// Writes the module as textual IR, atomically: a temporary file next to `path`,
    /// renamed over it once complete, so that a failure never leaves half a file.
    public func writeText(to path: String) throws {
        try writeAtomically(to: path) { temporary in
            var message: UnsafeMutablePointer<CChar>?
            let failed = LLVMPrintModuleToFile(module, temporary, &message) != 0
            let text = takeMessage(message)
            return failed ? (text.isEmpty ? "LLVM could not print the module" : text) : nil
        }
    }

    /// Writes the module as bitcode, atomically (see `writeText(to:)`).
    public func writeBitcode(to path: String) throws {
        try writeAtomically(to: path) { temporary in
            // LLVM reports only failure; the cause is left in errno by the open or write.
            errno = 0
            guard LLVMWriteBitcodeToFile(module, temporary) != 0 else { return nil }
            return errno != 0 ? String(cString: strerror(errno)) : "LLVM could not write bitcode"
        }
    }

    /// Writes in `format`.
    public func write(to path: String, format: IRFormat) throws {
        switch format {
        case .text: try writeText(to: path)
        case .bitcode: try writeBitcode(to: path)
        }
    }

    /// `produce` writes the temporary file and answers the reason of a failure, or nil.
    private func writeAtomically(to path: String, _ produce: (String) -> String?) throws {
        do {
            try AtomicFile.write(to: path, producing: produce)
        } catch {
            throw InstrumentError.cannotWrite(path: path, reason: error.reason)
        }
    }
}
