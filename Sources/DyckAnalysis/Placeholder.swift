import CLLVM
import CLibELF
import DyckModel

func _linkCheck() {
    let ctx = LLVMContextCreate()
    LLVMContextDispose(ctx)
    _ = elf_version(UInt32(EV_CURRENT))
}
