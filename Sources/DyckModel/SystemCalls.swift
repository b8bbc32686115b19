/// The system calls a libc function may make, as the policy binds them to the windows
/// of a thread (specs/policy-format.md "System-call sets", specs/kernel-abi.md
/// "System-call binding").
///
/// A thread's *window* is the libc function announced by its last `LIBC` marker (or
/// one of the windows that are not a libc call: process start, none). Every real
/// system call of an enforced thread must be in its window's set or in the ambient set;
/// `openat` for writing needs a window whose set `opensForWriting`; `mmap`, `mprotect` and
/// `pkey_mprotect` with `PROT_EXEC` must in addition be made in a window whose set
/// `mapsExecutable`, which the ambient set never does.
public struct SystemCallSet: Hashable, Sendable {
    /// x86-64 system-call numbers are 0...maximumNumber (the highest the kernel
    /// assigns is far below); the kernel stores a set as a 512-bit map whose last two
    /// bits are `opensForWriting` and `mapsExecutable`.
    public static let maximumNumber = 509

    /// Sorted, without duplicates, each in 0...maximumNumber.
    public var numbers: [Int]
    /// The set may create executable mappings (the dynamic loader's).
    public var mapsExecutable: Bool
    /// The set may open files for writing: `openat` with O_WRONLY, O_RDWR, O_CREAT,
    /// O_TRUNC, O_APPEND or __O_TMPFILE. Without it, `openat` only reads.
    public var opensForWriting: Bool

    public init<S: Sequence>(numbers: S, mapsExecutable: Bool = false, opensForWriting: Bool = false)
    where S.Element == Int {
        self.numbers = Array(Set(numbers)).sorted()
        self.mapsExecutable = mapsExecutable
        self.opensForWriting = opensForWriting
    }

    public static let empty = SystemCallSet(numbers: [Int]())

    public func contains(_ number: Int) -> Bool {
        var lo = 0, hi = numbers.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if numbers[mid] == number { return true }
            if numbers[mid] < number { lo = mid + 1 } else { hi = mid }
        }
        return false
    }

    public func union(_ other: SystemCallSet) -> SystemCallSet {
        SystemCallSet(
            numbers: numbers + other.numbers, mapsExecutable: mapsExecutable || other.mapsExecutable,
            opensForWriting: opensForWriting || other.opensForWriting)
    }

    public func isSubset(of other: SystemCallSet) -> Bool {
        numbers.allSatisfy(other.contains) && (!mapsExecutable || other.mapsExecutable)
            && (!opensForWriting || other.opensForWriting)
    }
}

/// The system-call sets of a policy: a table of distinct sets, and which one belongs
/// to each libc symbol and to each window that is not a libc call.
public struct SystemCallBinding: Hashable, Sendable {
    /// Distinct sets; `sets[0]` is the empty set, the window of program code (after a
    /// `CALL`, `RET`, `TAIL`, `CB_ENTER`, `SJ_SAVE` or `SJ_RESUME` marker).
    public var sets: [SystemCallSet]
    /// One per policy symbol (`Policy.symbols`): an index into `sets`.
    public var symbolSets: [Int]
    /// The window from exec to the first marker: the dynamic loader, libc's start-up.
    public var startSet: Int
    /// Allowed in every window (specs: the allocator's memory management, clocks,
    /// exit, signal return); never `mapsExecutable`.
    public var ambientSet: Int

    public init(sets: [SystemCallSet], symbolSets: [Int], startSet: Int, ambientSet: Int) {
        self.sets = sets
        self.symbolSets = symbolSets
        self.startSet = startSet
        self.ambientSet = ambientSet
    }

    /// Why system call `number` (the raw value the kernel sees), whose third argument
    /// is `protection`, is refused in the window whose set is `sets[setIndex]`; nil if
    /// it is allowed. The rules of the kernel's `sbx_syscall_check`
    /// (`specs/kernel-abi.md`, "System-call binding"); an index the binding does not
    /// have stands for the empty set.
    public func refusal(number: UInt64, protection: UInt64, window setIndex: Int) -> SystemCallRefusal? {
        let window = sets.indices.contains(setIndex) ? sets[setIndex] : .empty
        let ambient = sets.indices.contains(ambientSet) ? sets[ambientSet] : .empty
        guard number <= UInt64(SystemCallSet.maximumNumber) else { return .outsideWindow }
        let n = Int(number)
        guard window.contains(n) || ambient.contains(n) else { return .outsideWindow }
        // Opening a file for writing is a right of its own (the ambient set only reads).
        if n == SystemCallNumbers.openat, protection & SystemCallNumbers.openatWriteFlags != 0, !window.opensForWriting
        {
            return .outsideWindow
        }
        // Code only where the window maps it, and never writable (W^X).
        if protection & SystemCallNumbers.protExec != 0, SystemCallNumbers.executableMappingCalls.contains(n),
            !window.mapsExecutable || protection & SystemCallNumbers.protWrite != 0
        {
            return .executableMapping
        }
        return nil
    }

    /// Whether system call `number`, whose third argument is `protection`, is allowed
    /// in the window whose set is `sets[setIndex]`.
    public func allows(number: Int, protection: UInt64, window setIndex: Int) -> Bool {
        number >= 0 && refusal(number: UInt64(number), protection: protection, window: setIndex) == nil
    }
}

/// Why the binding refuses a system call.
public enum SystemCallRefusal: Hashable, Sendable {
    /// In neither the window's set nor the ambient set (or an `openat` for writing
    /// through the ambient set).
    case outsideWindow
    /// `PROT_EXEC` in a window whose set does not map code.
    case executableMapping
}

/// The few x86-64 numbers the binding rules name.
public enum SystemCallNumbers {
    public static let mmap = 9
    public static let mprotect = 10
    public static let pkeyMprotect = 329
    /// Calls whose third argument is a protection: with `PROT_EXEC` they need a
    /// window that `mapsExecutable`.
    public static let executableMappingCalls: Set<Int> = [mmap, mprotect, pkeyMprotect]
    public static let protWrite: UInt64 = 0x2
    public static let protExec: UInt64 = 0x4
    public static let openat = 257
    /// O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND, __O_TMPFILE: an `openat` with any
    /// of them needs a window whose set `opensForWriting`.
    public static let openatWriteFlags: UInt64 = 0x400643
}
