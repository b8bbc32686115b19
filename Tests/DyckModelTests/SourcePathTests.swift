import DyckModel
import XCTest

/// How reports name source files (issue 18: bare names and paths cut at the
/// compilation directory). Expectations follow clang's DIFile: a file given by a
/// relative path is recorded relative to the compilation directory, one outside it
/// with `..` or absolutely.
final class SourcePathTests: XCTestCase {
    func path(_ file: String, _ directory: String, _ base: String) -> String {
        SourceLocation.displayPath(file: file, directory: directory, base: base)
    }

    func testBelowTheBuildDirectoryIsRelative() {
        XCTAssertEqual(path("Tests/e2e/impossible.c", "/work/main", "/work/main"), "Tests/e2e/impossible.c")
        // clang -c ../sub/a.c from /src/sub: recorded as "../sub/a.c" in /src/sub.
        XCTAssertEqual(path("../sub/a.c", "/src/sub", "/src"), "sub/a.c")
        XCTAssertEqual(path("./a.c", "/src", "/src"), "a.c")
        XCTAssertEqual(path("/src/lib/b.c", "/elsewhere", "/src"), "lib/b.c")
    }

    func testOutsideTheBuildDirectoryIsAbsolute() {
        // A file compiled in another directory: its directory is kept, not dropped.
        XCTAssertEqual(path("confparse.c", "/home/u/proj/conf", "/home/u/proj/build"), "/home/u/proj/conf/confparse.c")
        XCTAssertEqual(path("srcx/sub/a.c", "/tmp", "/work"), "/tmp/srcx/sub/a.c")
        XCTAssertEqual(path("../x.c", "/a/b", "/a/b"), "/a/x.c")
        // A sibling whose name starts like the build directory is not below it.
        XCTAssertEqual(path("f.c", "/work/main2", "/work/main"), "/work/main2/f.c")
    }

    func testDegenerateInputs() {
        XCTAssertEqual(path("a.c", "", "/work"), "a.c", "no directory recorded: the name as given")
        XCTAssertEqual(path("/x/../y/./z.c", "/", "/q"), "/y/z.c")
        XCTAssertEqual(path("/etc/a.c", "/", "/"), "etc/a.c")
    }
}
