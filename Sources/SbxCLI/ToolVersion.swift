import CBuildInfo

/// The tools' version and the git commit they were built from (`--version`).
public enum ToolVersion {
    /// "0.9.0".
    public static var version: String { String(cString: sbx_build_version()) }
    /// A commit id (with "-dirty" when the tree had uncommitted changes), or "unknown".
    public static var commit: String { String(cString: sbx_build_commit()) }
    /// "0.9.0 (commit 1a2b3c4d5e6f)": what `--version` prints after the tool's name.
    public static var text: String { "\(version) (commit \(commit))" }
}
