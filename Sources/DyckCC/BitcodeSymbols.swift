import CLLVM

/// The symbols a bitcode module defines and needs, as the linker would see them in the
/// object compiled from it. Used to choose archive members when a program unit exists
/// only as bitcode (a source compiled by a link line, a .bc input, an LTO archive
/// member). The module is read lazily: only the symbol table, not function bodies.
func bitcodeSymbols(_ bytes: ArraySlice<UInt8>, name: String) throws -> (defined: Set<String>, undefined: Set<String>) {
    guard let context = LLVMContextCreate() else {
        throw DriverError.badInput(path: name, reason: "LLVM could not create a context")
    }
    defer { LLVMContextDispose(context) }
    let buffer = bytes.withUnsafeBytes { raw in
        LLVMCreateMemoryBufferWithMemoryRangeCopy(raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count, name)
    }
    var module: LLVMModuleRef?
    // The lazily read module owns the buffer from here on, on success.
    guard LLVMGetBitcodeModuleInContext2(context, buffer, &module) == 0, let module else {
        LLVMDisposeMemoryBuffer(buffer)
        throw DriverError.badInput(path: name, reason: "bitcode does not parse")
    }
    defer { LLVMDisposeModule(module) }

    var defined = Set<String>()
    var undefined = Set<String>()
    func visit(_ value: LLVMValueRef) {
        var length = 0
        guard let cName = LLVMGetValueName2(value, &length), length > 0 else { return }
        let symbol = String(decoding: UnsafeRawBufferPointer(start: cName, count: length), as: UTF8.self)
        if symbol.hasPrefix("llvm.") { return }
        let linkage = LLVMGetLinkage(value)
        switch linkage {
        case LLVMInternalLinkage, LLVMPrivateLinkage, LLVMAvailableExternallyLinkage:
            return
        case LLVMExternalWeakLinkage:
            return  // weak references never pull archive members
        default:
            if LLVMIsDeclaration(value) != 0 { undefined.insert(symbol) } else { defined.insert(symbol) }
        }
    }
    var function = LLVMGetFirstFunction(module)
    while let current = function {
        visit(current)
        function = LLVMGetNextFunction(current)
    }
    var global = LLVMGetFirstGlobal(module)
    while let current = global {
        visit(current)
        global = LLVMGetNextGlobal(current)
    }
    var alias = LLVMGetFirstGlobalAlias(module)
    while let current = alias {
        visit(current)
        alias = LLVMGetNextGlobalAlias(current)
    }
    undefined.subtract(defined)
    return (defined, undefined)
}

func isBitcodeMagic(_ bytes: ArraySlice<UInt8>) -> Bool {
    bytes.starts(with: [0x42, 0x43, 0xC0, 0xDE]) || bytes.starts(with: [0xDE, 0xC0, 0x17, 0x0B])
}
