import CCapstone
import Glibc

/// One decoded x86-64 instruction, reduced to what the analysis asks of it.
struct Instruction {
    enum Kind {
        case syscall
        case call
        /// An unconditional `jmp`.
        case jump
        /// A conditional jump (`jcc`, `jrcxz`, `loop`).
        case conditionalJump
        /// `ret`, `hlt`, `ud2`: no fall-through.
        case stop
        case other
    }

    enum Operand {
        case register(UInt32)
        case immediate(Int64)
        /// `disp(base, index, scale)`; base or index 0 when absent.
        case memory(base: UInt32, index: UInt32, displacement: Int64)
    }

    var address: UInt64
    var size: Int
    var kind: Kind
    /// Capstone's `x86_insn` id.
    var id: UInt32
    var operands: [Operand]
    /// The general-purpose registers the instruction writes, as `RegisterFamily`
    /// values, with the width written (`RegisterWrite`).
    var writes: [RegisterWrite]
    /// The `notrack` prefix (0x3E) of a CET switch-table jump.
    var notrack: Bool

    var next: UInt64 { address + UInt64(size) }

    /// `disp(%rip)` operands resolve to an absolute address.
    func ripRelativeAddress(_ operand: Operand) -> UInt64? {
        guard case let .memory(base, index, displacement) = operand, base == X86_REG_RIP.rawValue, index == 0 else {
            return nil
        }
        return UInt64(bitPattern: Int64(bitPattern: next) &+ displacement)
    }
}

/// A register write: which of the 16 general-purpose registers, and whether it
/// defines the whole register (a 32- or 64-bit write) or only part of it.
struct RegisterWrite: Equatable {
    var family: Int
    var whole: Bool
}

/// The 16 general-purpose register families: rax=0, rcx, rdx, rbx, rsp, rbp, rsi, rdi,
/// r8...r15.
enum RegisterFamily {
    static let rax = 0
    static let rcx = 1
    static let rdx = 2
    static let rsi = 6
    static let r11 = 11
    /// Clobbered by a call (System V x86-64 ABI).
    static let callerSaved: Set<Int> = [0, 1, 2, 6, 7, 8, 9, 10, 11]

    private static let table: [UInt32: RegisterWrite] = {
        var table: [UInt32: RegisterWrite] = [:]
        let rows: [(x86_reg, x86_reg, x86_reg, [x86_reg])] = [
            (X86_REG_RAX, X86_REG_EAX, X86_REG_AX, [X86_REG_AL, X86_REG_AH]),
            (X86_REG_RCX, X86_REG_ECX, X86_REG_CX, [X86_REG_CL, X86_REG_CH]),
            (X86_REG_RDX, X86_REG_EDX, X86_REG_DX, [X86_REG_DL, X86_REG_DH]),
            (X86_REG_RBX, X86_REG_EBX, X86_REG_BX, [X86_REG_BL, X86_REG_BH]),
            (X86_REG_RSP, X86_REG_ESP, X86_REG_SP, [X86_REG_SPL]),
            (X86_REG_RBP, X86_REG_EBP, X86_REG_BP, [X86_REG_BPL]),
            (X86_REG_RSI, X86_REG_ESI, X86_REG_SI, [X86_REG_SIL]),
            (X86_REG_RDI, X86_REG_EDI, X86_REG_DI, [X86_REG_DIL]),
            (X86_REG_R8, X86_REG_R8D, X86_REG_R8W, [X86_REG_R8B]),
            (X86_REG_R9, X86_REG_R9D, X86_REG_R9W, [X86_REG_R9B]),
            (X86_REG_R10, X86_REG_R10D, X86_REG_R10W, [X86_REG_R10B]),
            (X86_REG_R11, X86_REG_R11D, X86_REG_R11W, [X86_REG_R11B]),
            (X86_REG_R12, X86_REG_R12D, X86_REG_R12W, [X86_REG_R12B]),
            (X86_REG_R13, X86_REG_R13D, X86_REG_R13W, [X86_REG_R13B]),
            (X86_REG_R14, X86_REG_R14D, X86_REG_R14W, [X86_REG_R14B]),
            (X86_REG_R15, X86_REG_R15D, X86_REG_R15W, [X86_REG_R15B])
        ]
        for (family, row) in rows.enumerated() {
            table[row.0.rawValue] = RegisterWrite(family: family, whole: true)
            table[row.1.rawValue] = RegisterWrite(family: family, whole: true)
            table[row.2.rawValue] = RegisterWrite(family: family, whole: false)
            for low in row.3 { table[low.rawValue] = RegisterWrite(family: family, whole: false) }
        }
        return table
    }()

    /// The family and width of a capstone register, nil for non-GPRs.
    static func of(_ register: UInt32) -> RegisterWrite? { table[register] }
}

/// A capstone handle for x86-64 with operand details, closed when the value goes away.
final class Disassembler {
    private var handle: csh = 0
    private let instruction: UnsafeMutablePointer<cs_insn>
    private let readRegisters = UnsafeMutablePointer<UInt16>.allocate(capacity: 64)
    private let writtenRegisters = UnsafeMutablePointer<UInt16>.allocate(capacity: 64)

    init() throws(LibcSyscallsError) {
        guard cs_open(CS_ARCH_X86, CS_MODE_64, &handle) == CS_ERR_OK else {
            readRegisters.deallocate()
            writtenRegisters.deallocate()
            throw .disassembler("cs_open failed for x86-64")
        }
        guard cs_option(handle, CS_OPT_DETAIL, Int(CS_OPT_ON.rawValue)) == CS_ERR_OK,
            let instruction = cs_malloc(handle)
        else {
            let message = String(cString: cs_strerror(cs_errno(handle)))
            cs_close(&handle)
            readRegisters.deallocate()
            writtenRegisters.deallocate()
            throw .disassembler(message)
        }
        self.instruction = instruction
    }

    deinit {
        cs_free(instruction, 1)
        cs_close(&handle)
        readRegisters.deallocate()
        writtenRegisters.deallocate()
    }

    /// Linear sweep of `bytes[range]`, loaded at `address`. An undecodable byte is
    /// skipped (data in the text, or an instruction capstone 4 does not know); the
    /// count of skipped bytes is returned beside the instructions.
    func sweep(_ bytes: [UInt8], range: Range<Int>, address: UInt64) -> (instructions: [Instruction], skipped: Int) {
        var result: [Instruction] = []
        var skipped = 0
        bytes.withUnsafeBufferPointer { buffer in
            var offset = range.lowerBound
            while offset < range.upperBound {
                var code: UnsafePointer<UInt8>? = buffer.baseAddress! + offset
                var size = range.upperBound - offset
                var pc = address + UInt64(offset - range.lowerBound)
                if cs_disasm_iter(handle, &code, &size, &pc, instruction) {
                    let length = Int(instruction.pointee.size)
                    result.append(decode())
                    offset += length
                } else if let length = vexLength(buffer, at: offset, end: range.upperBound) {
                    // A VEX/EVEX instruction capstone 4 does not know (AVX-512 mask moves,
                    // newer EVEX forms in the string functions): step over it whole so the
                    // sweep stays in step, and assume it may write any register.
                    result.append(
                        Instruction(
                            address: address + UInt64(offset - range.lowerBound), size: length, kind: .other, id: 0,
                            operands: [], writes: (0..<16).map { RegisterWrite(family: $0, whole: false) },
                            notrack: false))
                    offset += length
                } else {
                    skipped += 1
                    offset += 1
                }
            }
        }
        return (result, skipped)
    }

    /// The length of the VEX (C4, C5) or EVEX (62) encoded instruction at `offset`, from
    /// its prefix, opcode map, ModRM/SIB/displacement and immediate; nil if it is not one.
    /// In 64-bit mode these bytes always start such a prefix.
    private func vexLength(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int, end: Int) -> Int? {
        let first = bytes[offset]
        let prefixLength: Int
        let map: UInt8
        switch first {
        case 0xC5:
            prefixLength = 2
            map = 1
        case 0xC4:
            guard offset + 1 < end else { return nil }
            prefixLength = 3
            map = bytes[offset + 1] & 0x1F
        case 0x62:
            guard offset + 1 < end else { return nil }
            prefixLength = 4
            map = bytes[offset + 1] & 0x07
        default:
            return nil
        }
        var position = offset + prefixLength
        guard position < end else { return nil }
        let opcode = bytes[position]
        position += 1
        if map == 1 && opcode == 0x77 { return position - offset }  // vzeroupper/vzeroall
        guard position < end else { return nil }
        let modrm = bytes[position]
        position += 1
        let mod = modrm >> 6
        let rm = modrm & 7
        if mod != 3 {
            if rm == 4 {
                guard position < end else { return nil }
                let sib = bytes[position]
                position += 1
                if mod == 0 && sib & 7 == 5 { position += 4 }
            }
            if mod == 0 && rm == 5 { position += 4 }
            if mod == 1 { position += 1 }
            if mod == 2 { position += 4 }
        }
        if map == 3 || (map == 1 && ([0x70, 0x71, 0x72, 0x73, 0xC2, 0xC4, 0xC5, 0xC6] as [UInt8]).contains(opcode)) {
            position += 1
        }
        guard position <= end else { return nil }
        return position - offset
    }

    private func decode() -> Instruction {
        let insn = instruction.pointee
        let id = insn.id
        let kind: Instruction.Kind
        switch x86_insn(rawValue: id) {
        case X86_INS_SYSCALL: kind = .syscall
        case X86_INS_CALL: kind = .call
        case X86_INS_JMP, X86_INS_LJMP: kind = .jump
        case X86_INS_RET, X86_INS_RETF, X86_INS_RETFQ, X86_INS_HLT, X86_INS_UD2: kind = .stop
        case X86_INS_JAE, X86_INS_JA, X86_INS_JBE, X86_INS_JB, X86_INS_JCXZ, X86_INS_JECXZ, X86_INS_JE, X86_INS_JGE,
            X86_INS_JG, X86_INS_JLE, X86_INS_JL, X86_INS_JNE, X86_INS_JNO, X86_INS_JNP, X86_INS_JNS, X86_INS_JO,
            X86_INS_JP, X86_INS_JRCXZ, X86_INS_JS, X86_INS_LOOP, X86_INS_LOOPE, X86_INS_LOOPNE:
            kind = .conditionalJump
        default: kind = .other
        }
        var operands: [Instruction.Operand] = []
        let x86 = insn.detail.pointee.x86
        let count = Int(x86.op_count)
        withUnsafeBytes(of: x86.operands) { raw in
            let ops = raw.bindMemory(to: cs_x86_op.self)
            for i in 0..<min(count, ops.count) {
                let op = ops[i]
                switch op.type {
                case X86_OP_REG: operands.append(.register(op.reg.rawValue))
                case X86_OP_IMM: operands.append(.immediate(op.imm))
                case X86_OP_MEM:
                    operands.append(
                        .memory(base: op.mem.base.rawValue, index: op.mem.index.rawValue, displacement: op.mem.disp))
                default: break
                }
            }
        }
        var writes: [RegisterWrite] = []
        var readCount: UInt8 = 0
        var writeCount: UInt8 = 0
        if cs_regs_access(handle, instruction, readRegisters, &readCount, writtenRegisters, &writeCount) == CS_ERR_OK {
            for i in 0..<Int(writeCount) {
                if let write = RegisterFamily.of(UInt32(writtenRegisters[i])) { writes.append(write) }
            }
        }
        let notrack = withUnsafeBytes(of: insn.bytes) { $0.first == 0x3E }
        return Instruction(
            address: insn.address, size: Int(insn.size), kind: kind, id: id, operands: operands, writes: writes,
            notrack: notrack)
    }
}
