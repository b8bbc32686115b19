import SbxSystem
import CLLVM
import Glibc

/// A parsed LLVM module together with the context that owns it. Both are disposed with
/// the wrapper, so raw references obtained from it are valid only while it lives.
///
/// Analysis and instrumentation share one `IRModule`, so that the call-site numbering
/// the analysis reports refers to the very instructions the instrumentation rewrites.
public final class IRModule {
    /// The file the module was read from (used in messages and as the module name).
    public let path: String
    public let context: LLVMContextRef
    public let module: LLVMModuleRef

    /// Reads textual IR or bitcode (told apart by the bitcode magic, not the file name)
    /// and checks the module with LLVM's verifier.
    public convenience init(contentsOf path: String) throws {
        let bytes: [UInt8]
        do {
            bytes = try FileBytes.read(path)
        } catch {
            throw AnalysisError.unreadableFile(path: path, reason: error.description)
        }
        try self.init(bytes: bytes, path: path)
    }

    /// Parses `bytes` as if read from `path`.
    public init(bytes: [UInt8], path: String) throws {
        let bitcode = isBitcode(bytes)
        if !bitcode {
            if let reason = notTextualIRReason(bytes) {
                throw AnalysisError.notLLVMIR(path: path, reason: reason)
            }
        }
        guard let context = LLVMContextCreate() else {
            throw AnalysisError.irDoesNotParse(path: path, message: "LLVM could not create a context")
        }
        // The copy gets a terminating NUL, which the textual parser relies on; the
        // parser takes ownership of the buffer whether it succeeds or not.
        // The extra byte only guarantees a non-null base address for an empty file.
        let storage = bytes + [0]
        let buffer = storage.withUnsafeBytes { raw in
            LLVMCreateMemoryBufferWithMemoryRangeCopy(
                raw.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count, path)
        }
        var module: LLVMModuleRef?
        var message: UnsafeMutablePointer<CChar>?
        let failed = LLVMParseIRInContext(context, buffer, &module, &message) != 0
        let text = takeMessage(message)
        guard !failed, let module else {
            LLVMContextDispose(context)
            if !bitcode, looksLikeNonIRText(bytes, diagnostic: text, path: path) {
                throw AnalysisError.notLLVMIR(path: path, reason: "its first line is not an IR top-level entity")
            }
            // LLVM names the buffer (our path) first; the error names it already.
            var line = firstLine(text) ?? "unknown error"
            if line.hasPrefix(path + ":") { line = String(line.dropFirst(path.count + 1).drop { $0 == " " }) }
            throw AnalysisError.irDoesNotParse(path: path, message: line)
        }
        var verifierMessage: UnsafeMutablePointer<CChar>?
        let broken = LLVMVerifyModule(module, LLVMReturnStatusAction, &verifierMessage) != 0
        let verifierText = takeMessage(verifierMessage)
        if broken {
            LLVMDisposeModule(module)
            LLVMContextDispose(context)
            throw AnalysisError.invalidIR(path: path, message: firstLine(verifierText) ?? "verifier failed")
        }
        self.path = path
        self.context = context
        self.module = module
    }

    /// Takes ownership of a module parsed elsewhere and of the context it lives in.
    public init(adopting module: LLVMModuleRef, context: LLVMContextRef, path: String) {
        self.path = path
        self.context = context
        self.module = module
    }

    deinit {
        LLVMDisposeModule(module)
        LLVMContextDispose(context)
    }

    /// The file name without directories: the policy's module name.
    public var baseName: String {
        path.split(separator: "/").last.map(String.init) ?? path
    }
}

private func isBitcode(_ bytes: [UInt8]) -> Bool {
    bytes.starts(with: [0x42, 0x43, 0xC0, 0xDE])  // 'B' 'C' 0xC0DE
        || bytes.starts(with: [0xDE, 0xC0, 0x17, 0x0B])  // wrapper magic 0x0B17C0DE, little endian
}

/// Why `bytes` cannot be textual IR, if that is evident without parsing.
private func notTextualIRReason(_ bytes: [UInt8]) -> String? {
    if bytes.starts(with: [0x7F, 0x45, 0x4C, 0x46]) { return "an ELF file" }
    if bytes.starts(with: Array("!<arch>\n".utf8)) { return "an ar archive" }
    if bytes.contains(0) { return "a binary file" }
    if String(validating: bytes, as: UTF8.self) == nil { return "not UTF-8 text" }
    return nil
}

/// Whether LLVM's complaint is that the very first significant line of the file is not
/// IR: then the file is something else (C source, a script, ...), not broken IR.
private func looksLikeNonIRText(_ bytes: [UInt8], diagnostic: String, path: String) -> Bool {
    guard diagnostic.contains("expected top-level entity"), diagnostic.hasPrefix(path + ":") else { return false }
    let rest = diagnostic.dropFirst(path.count + 1)
    guard let line = Int(rest.prefix { $0.isNumber }) else { return false }
    var number = 0
    for text in String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
        number += 1
        let trimmed = text.drop { $0 == " " || $0 == "\t" || $0 == "\r" }
        if trimmed.isEmpty || trimmed.hasPrefix(";") { continue }
        return number == line
    }
    return false
}

/// Copies an LLVM-allocated message into a String and frees it.
func takeMessage(_ message: UnsafeMutablePointer<CChar>?) -> String {
    guard let message else { return "" }
    defer { LLVMDisposeMessage(message) }
    return String(cString: message)
}

private func firstLine(_ text: String) -> String? {
    let line = text.split(separator: "\n", omittingEmptySubsequences: true).first
    return line.map { String($0) }
}
