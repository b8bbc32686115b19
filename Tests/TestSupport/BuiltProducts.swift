import Foundation

/// Where `swift build` put the project's executables: the test runner (on Linux
/// NAME.xctest, an executable) lives in the same products directory.
public enum BuiltProducts {
    /// The nearest directory above the running test executable that holds `name`
    /// (`sbx`, `dyck-cc`), or `/`.
    public static func directory(holding name: String) -> URL {
        let exe =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent(name).path), dir.path != "/" {
            dir = dir.deletingLastPathComponent()
        }
        return dir
    }
}
