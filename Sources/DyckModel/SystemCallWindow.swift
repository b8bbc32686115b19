/// The system-call side of a thread's monitor: its window and the checks of every
/// real system call (`specs/kernel-abi.md`, "Stepping", "System-call binding" and
/// "What is checked"; `kmod/core/sbx_monitor.c`, `sbx_syscall_check`).

/// The *window* of a thread (`specs/kernel-abi.md`, "System-call binding"): which
/// libc call's system calls it may make now.
public enum SystemCallWindow: Hashable, Sendable {
    /// From exec to the first marker: the dynamic loader, libc's start-up and the
    /// constructors; the binding's `startSet`.
    case start
    /// Program code, after any marker other than `LIBC`: set 0, the empty set (the
    /// ambient set still applies).
    case none
    /// The libc function announced by the last `LIBC` marker (its symbol id).
    case libc(Int)
}

/// How a system call entered the kernel: the 64-bit `syscall` instruction (x32 calls
/// included: their numbers have bit 30 set), or the ia32 ABI (`int 0x80`, `sysenter`,
/// 32-bit `syscall`).
public enum SystemCallABI: Hashable, Sendable {
    case x86_64
    case ia32
}

extension SystemCallNumbers {
    /// `io_uring_setup`, `io_uring_enter`, `io_uring_register`: refused outright.
    public static let ioUring: ClosedRange<UInt64> = 425...427
    /// `__X32_SYSCALL_BIT`: a 64-bit `syscall` with this bit in its number uses the x32 ABI.
    public static let x32Bit: UInt64 = 0x4000_0000
}

extension ThreadMonitor {
    /// The set of `window` in the policy's binding, nil without a binding. A window
    /// the binding does not cover (a symbol without a set, an index out of range) has
    /// the empty set, as in the kernel.
    public func systemCallSet(of window: SystemCallWindow) -> SystemCallSet? {
        guard let binding = tables.policy.syscalls else { return nil }
        let index = systemCallSetIndex(of: window, in: binding)
        return binding.sets.indices.contains(index) ? binding.sets[index] : .empty
    }

    private func systemCallSetIndex(of window: SystemCallWindow, in binding: SystemCallBinding) -> Int {
        switch window {
        case .start: return binding.startSet
        case .none: return 0
        case .libc(let l): return binding.symbolSets.indices.contains(l) ? binding.symbolSets[l] : 0
        }
    }

    /// Whether the thread may make system call `number` (x86-64 ABI, the raw value the
    /// kernel sees, so out-of-range numbers are refused too) whose third argument is
    /// `protection`, now: nil if it may. Never changes the monitor.
    ///
    /// The rules of `sbx_syscall_check` (`SystemCallBinding.refusal`): the call must be
    /// in its window's set or the ambient set, `openat` through the ambient set only
    /// without a write flag (`systemCallOutsideWindow`; for `openat` the third argument
    /// is its flags), and `mmap`, `mprotect` or `pkey_mprotect` with `PROT_EXEC` must
    /// in addition be made in a window whose set `mapsExecutable`
    /// (`executableMapping`). A policy without a binding allows every call.
    public func systemCall(number: UInt64, protection: UInt64) -> Refusal? {
        guard let binding = tables.policy.syscalls else { return nil }
        switch binding.refusal(
            number: number, protection: protection, window: systemCallSetIndex(of: window, in: binding))
        {
        case nil: return nil
        case .outsideWindow: return .systemCallOutsideWindow
        case .executableMapping: return .executableMapping
        }
    }

    /// As `systemCall(number:protection:)` for an `Int` number (negative numbers are
    /// the kernel's huge unsigned ones, and refused).
    public func systemCall(number: Int, protection: UInt64 = 0) -> Refusal? {
        systemCall(number: UInt64(bitPattern: Int64(number)), protection: protection)
    }

    /// What the kernel module does with a system call of an enforced thread that is
    /// not a marker (`specs/kernel-abi.md`, "What is checked"), in its order: any call
    /// through the ia32 ABI, or a 64-bit one with the x32 bit in a positive number, is
    /// `compatSystemCall`; `io_uring_setup`, `io_uring_enter` and `io_uring_register`
    /// are `ioUring` (both whatever the binding); every other call is checked against
    /// the window (`systemCall(number:protection:)`). A marker (999 through the 64-bit
    /// ABI) is not a system call here: the caller steps it instead.
    public func enforcedSystemCall(number: UInt64, protection: UInt64, abi: SystemCallABI) -> Refusal? {
        if abi == .ia32 { return .compatSystemCall }
        if Int64(bitPattern: number) > 0, number & SystemCallNumbers.x32Bit != 0 { return .compatSystemCall }
        if SystemCallNumbers.ioUring.contains(number) { return .ioUring }
        return systemCall(number: number, protection: protection)
    }

    /// A site marker (`CALL`, `RET`, `TAIL`) the flattened model has no use for was
    /// allowed: only the window changes, to program code (`specs/kernel-abi.md`,
    /// "Stepping": in both modes).
    public mutating func skipSiteMarker() {
        window = .none
    }
}
