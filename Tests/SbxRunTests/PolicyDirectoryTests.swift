import Foundation
import SbxBlob
@testable import SbxRun
import XCTest

/// The saved-policy files (specs/policy-directory.md): what `sbx policy install`
/// writes is what `sbx policy load-all` reads back; every malformed file is refused
/// with its line and reason.
final class PolicyDirectoryTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "sbx-policydir-\(UUID().uuidString)"
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    func testRoundTrip() throws {
        let entry = PolicyDirectory.Entry(
            executable: "/usr/local/bin/my server", policy: "/usr/local/share/x=y.dyck", mode: .nfa, action: .log,
            exec: .unconfined, bounds: StackBounds(stackLimit: 7, maxDepth: 900))
        XCTAssertEqual(try PolicyDirectory.parse(entry.text, file: "f"), entry)
        let path = try PolicyDirectory.save(entry, in: dir + "/a/b")
        XCTAssertEqual(path, dir + "/a/b/" + PolicyDirectory.fileName(executable: entry.executable))
        XCTAssertEqual(try PolicyDirectory.read(path), entry)
        XCTAssertEqual(
            try PolicyDirectory.fileNames(in: dir + "/a/b"), [PolicyDirectory.fileName(executable: entry.executable)])
    }

    func testDefaultsAndComments() throws {
        let entry = try PolicyDirectory.parse("# hand-written\n\nformat=1\nexe=/bin/x\npolicy=/etc/x.dyck\n", file: "f")
        XCTAssertEqual(entry, PolicyDirectory.Entry(executable: "/bin/x", policy: "/etc/x.dyck"))
        XCTAssertEqual(entry.bounds, StackBounds())
    }

    func testMalformed() {
        let good = "format=1\nexe=/bin/x\npolicy=/x.dyck\n"
        let cases: [(String, Int?, String)] = [
            ("exe=/bin/x\npolicy=/x.dyck\n", nil, "no format= line"),
            ("format=2\nexe=/bin/x\npolicy=/x.dyck\n", 1, "format '2' is not 1"),
            ("format=1\npolicy=/x.dyck\n", nil, "no exe= line"),
            ("format=1\nexe=/bin/x\n", nil, "no policy= line"),
            ("format=1\nexe=bin/x\npolicy=/x.dyck\n", 2, "exe must be an absolute path"),
            (good + "mode=dfa\n", 4, "mode must be dyck or nfa"),
            (good + "action=panic\n", 4, "action must be kill or log"),
            (good + "exec=maybe\n", 4, "exec must be registry, deny or unconfined"),
            (good + "stack_limit=0\n", 4, "stack_limit must be a number within 1..."),
            (good + "max_depth=lots\n", 4, "max_depth must be a number"),
            (good + "max_depth=+5\n", 4, "max_depth must be a number"),
            (good + "colour=blue\n", 4, "unknown key 'colour'"),
            (good + "exe=/bin/y\n", 4, "'exe' given twice (first on line 2)"),
            (good + "just words\n", 4, "not KEY=VALUE")
        ]
        for (text, line, reason) in cases {
            XCTAssertThrowsError(try PolicyDirectory.parse(text, file: "d/f.policy"), text) { error in
                guard let malformed = error as? PolicyDirectory.Malformed else { return XCTFail("\(error)") }
                XCTAssertEqual(malformed.line, line, text)
                XCTAssertTrue(malformed.reason.contains(reason), "\(malformed.reason) for \(text)")
                XCTAssertTrue(
                    malformed.description.hasPrefix("d/f.policy" + (line.map { ":\($0)" } ?? "") + ": "),
                    malformed.description)
            }
        }
    }

    func testFileNamesAreDistinctAndReadable() {
        let a = PolicyDirectory.fileName(executable: "/usr/bin/server")
        XCTAssertTrue(a.hasPrefix("server-") && a.hasSuffix(".policy"), a)
        XCTAssertNotEqual(a, PolicyDirectory.fileName(executable: "/usr/local/bin/server"))
        XCTAssertEqual(a, PolicyDirectory.fileName(executable: "/usr/bin/server"))
        let odd = PolicyDirectory.fileName(executable: "/opt/.hidden name\t")
        XCTAssertTrue(odd.hasPrefix("_hidden_name_-"), odd)
    }

    /// Saving again keeps the file's mode (an administrator's chmod survives an
    /// install --replace) and leaves no temporary file; another file naming the same
    /// executable is replaced; remove deletes every file of the executable only.
    func testSaveKeepsModeAndRemoveDeletes() throws {
        let entry = PolicyDirectory.Entry(executable: "/bin/x", policy: "/x.dyck")
        let path = try PolicyDirectory.save(entry, in: dir)
        chmod(path, 0o600)
        let other = dir + "/hand-written.policy"
        try "format=1\nexe=/bin/x\npolicy=/old.dyck\n".write(toFile: other, atomically: true, encoding: .utf8)
        let unrelated = PolicyDirectory.Entry(executable: "/bin/y", policy: "/y.dyck")
        try PolicyDirectory.save(unrelated, in: dir)
        try "not a policy".write(toFile: dir + "/README", atomically: true, encoding: .utf8)

        var changed = entry
        changed.action = .log
        XCTAssertEqual(try PolicyDirectory.save(changed, in: dir), path)
        var info = stat()
        XCTAssertEqual(stat(path, &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o600)
        XCTAssertEqual(try PolicyDirectory.read(path).action, .log)
        XCTAssertFalse(FileManager.default.fileExists(atPath: other), "the other file of /bin/x is gone")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(".") }, [])
        XCTAssertEqual(try PolicyDirectory.fileNames(in: dir).count, 2, "README is not a saved policy")

        XCTAssertEqual(try PolicyDirectory.remove(executable: "/bin/x", in: dir), [path])
        XCTAssertEqual(try PolicyDirectory.remove(executable: "/bin/x", in: dir), [])
        XCTAssertEqual(try PolicyDirectory.fileNames(in: dir), [PolicyDirectory.fileName(executable: "/bin/y")])
        XCTAssertEqual(try PolicyDirectory.fileNames(in: dir + "/missing"), [])
    }

    func testDirectoryFromOptionEnvironmentDefault() {
        unsetenv(PolicyDirectory.environmentVariable)
        XCTAssertEqual(PolicyDirectory.path(option: nil), "/etc/sbx/policies")
        setenv(PolicyDirectory.environmentVariable, "/srv/p", 1)
        defer { unsetenv(PolicyDirectory.environmentVariable) }
        XCTAssertEqual(PolicyDirectory.path(option: nil), "/srv/p")
        XCTAssertEqual(PolicyDirectory.path(option: "/opt/q"), "/opt/q")
        setenv(PolicyDirectory.environmentVariable, "", 1)
        XCTAssertEqual(PolicyDirectory.path(option: nil), "/etc/sbx/policies")
    }
}
