import DyckModel
import SbxCLI

/// What `sbx run`, `sbx policy` and `sbx status` report when they cannot do their
/// job. Each case carries the file or operation concerned and prints as one line.
public enum RunError: CategorizedError, Sendable {
    /// No /dev/sbx: the module is not loaded.
    case moduleNotLoaded(device: String)
    /// /dev/sbx exists but could not be opened or used for another reason.
    case deviceFailed(device: String, operation: String, errno: Int32)
    /// An operation needs privileges the caller lacks.
    case notPrivileged(device: String, operation: String)
    /// `given`: the user named the file (--policy, sbx policy install), rather than the
    /// default PROGRAM.dyck.
    case policyMissing(path: String, program: String, given: Bool)
    case policyUnusable(path: String, reason: String)
    case notInstrumented(program: String, reason: String)
    case wrongPolicy(program: String, policy: String, reason: String)
    case programNotFound(String)
    case programNotExecutable(program: String, reason: String)
    /// Arming or fork failed for a reason that is none of the above.
    case spawnFailed(program: String, operation: String, errno: Int32)
    /// `sbx policy install` without `--replace` of an executable that has an entry;
    /// `rebuilt`: its content is no longer the one installed.
    case alreadyInstalled(executable: String, rebuilt: Bool)

    public var category: ErrorCategory {
        switch self {
        case .moduleNotLoaded: return .moduleNotLoaded
        case .deviceFailed, .spawnFailed: return .environment
        case .notPrivileged: return .notPrivileged
        case .policyMissing, .policyUnusable: return .policyUnusable
        case .notInstrumented: return .notInstrumented
        case .wrongPolicy: return .wrongPolicy
        case .programNotFound: return .programNotFound
        case .programNotExecutable: return .programNotExecutable
        case .alreadyInstalled: return .alreadyInstalled
        }
    }

    public var description: String {
        switch self {
        case .moduleNotLoaded(let device):
            return "\(device): the sbx_dyck kernel module is not loaded (load it with `insmod kmod/sbx_dyck.ko`, "
                + "or try it in a guest: `sbx vm --module kmod/sbx_dyck.ko -- sbx run ...`)"
        case .deviceFailed(let device, let operation, let code):
            return "\(device): \(operation): \(errnoText(code))"
        case .notPrivileged(let device, let operation):
            return "\(device): \(operation): not permitted (needs root, or CAP_SYS_ADMIN, and a process that is "
                + "not itself sandboxed)"
        case .policyMissing(let path, let program, let given):
            return given
                ? "\(path): no such policy file"
                : "\(path): no policy for \(program) (build it with dyck-cc, which writes PROGRAM.dyck, or give --policy)"
        case .policyUnusable(let path, let reason):
            // A reason that names the file itself (with a line number) is not prefixed twice.
            return reason.hasPrefix(path + ":") ? reason : "\(path): \(reason)"
        case .notInstrumented(let program, let reason):
            return "\(program): not instrumented: \(reason) (build it with dyck-cc)"
        case .wrongPolicy(let program, let policy, let reason):
            return "\(program): \(policy) is not its policy: \(reason)"
        case .programNotFound(let program):
            return "\(program): program not found"
        case .programNotExecutable(let program, let reason):
            return "\(program): cannot execute: \(reason)"
        case .spawnFailed(let program, let operation, let code):
            return "\(program): \(operation): \(errnoText(code))"
        case .alreadyInstalled(let executable, let rebuilt):
            return "\(executable): already has an installed policy"
                + (rebuilt ? "; this executable was rebuilt; its policy is not installed" : "")
                + " (replace it: sbx policy install --replace POLICY --exe \(executable))"
        }
    }
}

func errnoText(_ code: Int32) -> String {
    String(cString: strerror(code))
}

#if canImport(Glibc)
import Glibc
#endif
