// dyck-cc: a drop-in `cc` that builds programs together with their Dyck policy.
// The work is in DyckCC; this file only maps outcomes to exit statuses.
import DyckCC
import DyckModel
import SbxCLI
#if canImport(Glibc)
import Glibc
#endif

let status: Int32
do {
    status = try Driver.run(arguments: Array(CommandLine.arguments.dropFirst()))
} catch let failed as ToolFailed {
    // clang (or an LLVM tool) has printed its diagnostics; end as `cc` would.
    status = failed.status
} catch let error as CategorizedError {
    Log.error(error.description)
    status = ExitStatus(error.category).rawValue
} catch {
    Log.error("internal error: \(error)")
    status = ExitStatus.internalError.rawValue
}
exit(status)
