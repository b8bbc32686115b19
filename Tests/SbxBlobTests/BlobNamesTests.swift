import CSbxCore
import DyckModel
import XCTest
@testable import SbxBlob

/// The names section of a blob (specs/kernel-abi.md, "Names"): what the kernel log
/// names, read back through the C validator and its look-ups.
final class BlobNamesTests: XCTestCase {
    func le32(_ b: [UInt8], _ off: Int) -> Int {
        Int(b[off]) | Int(b[off + 1]) << 8 | Int(b[off + 2]) << 16 | Int(b[off + 3]) << 24
    }

    func testDyckBlobNamesSymbolsAndFrames() throws {
        let k = try KernelPolicy(blob: buildBlob(policy: BlobTests.sharedHelper, mode: .dyck))
        XCTAssertTrue(k.hasNames)
        XCTAssertEqual(k.symbolName(0), "read")
        XCTAssertEqual(k.symbolName(1), "open")
        XCTAssertEqual(k.symbolName(2), "write")
        XCTAssertNil(k.symbolName(3))
        XCTAssertEqual(k.frameName(tag: SBX_FRAME_ROOT), "main")
        // Sites 0 main→a, 1 main→b, 2 a→h: a site frame runs its callee.
        XCTAssertEqual(k.frameName(tag: SBX_FRAME_SITE | 0), "a")
        XCTAssertEqual(k.frameName(tag: SBX_FRAME_SITE | 1), "b")
        XCTAssertEqual(k.frameName(tag: SBX_FRAME_SITE | 2), "h")
        XCTAssertEqual(k.frameName(tag: SBX_FRAME_CALLBACK | 4), "cb")
        XCTAssertNil(k.frameName(tag: SBX_FRAME_SITE | 4))
    }

    func testNFABlobNamesTheRootButHasNoSiteEntries() throws {
        let blob = try buildBlob(policy: BlobTests.sharedHelper, mode: .nfa)
        let k = try KernelPolicy(blob: blob)
        XCTAssertTrue(k.isNFA && k.hasNames)
        XCTAssertEqual(k.frameName(tag: SBX_FRAME_ROOT), "main")
        XCTAssertEqual(k.symbolName(2), "write")
        XCTAssertNil(k.frameName(tag: SBX_FRAME_SITE | 0))
        let namesOff = le32(blob, 120) + 4 * le32(blob, 40)
        XCTAssertEqual(le32(blob, namesOff + 8), 0, "nr_callees of an nfa blob")
    }

    func testASiteWithSeveralCalleesIsNotNamed() throws {
        var p = BlobTests.sharedHelper
        p.sites[3].callees = [3, 1]
        p.sites[3].indirect = true
        let k = try KernelPolicy(blob: buildBlob(policy: p, mode: .dyck))
        XCTAssertNil(k.frameName(tag: SBX_FRAME_SITE | 3))
        XCTAssertEqual(k.frameName(tag: SBX_FRAME_SITE | 2), "h")
    }

    func testLayoutAndTheBlobWithoutNames() throws {
        let p = BlobTests.sharedHelper
        let with = try buildBlob(policy: p, mode: .dyck)
        let without = try buildBlob(policy: p, mode: .dyck, names: false)
        let end = le32(with, 120) + 4 * le32(with, 40)
        XCTAssertEqual(le32(with, 4), 8, "version")
        XCTAssertEqual(le32(with, 16), with.count)
        XCTAssertEqual(le32(with, 124), with.count - end, "names_size runs to the end")
        // nr_names, root, nr_callees, 4 callees, 8 offsets, "read\0open\0write\0main\0a\0b\0h\0cb\0".
        XCTAssertEqual(le32(with, 124), 12 + 4 * 4 + 4 * 8 + 30)
        XCTAssertEqual(Array(with[(with.count - 30)...]), Array("read\0open\0write\0main\0a\0b\0h\0cb\0".utf8))
        XCTAssertEqual(le32(without, 124), 0)
        XCTAssertEqual(without.count, end)
        // The rest is the same machine: only total_size and names_size differ.
        let differing = (0..<end).filter { with[$0] != without[$0] }
        XCTAssertTrue(differing.allSatisfy { (16..<20).contains($0) || (124..<128).contains($0) }, "\(differing)")
        let k = try KernelPolicy(blob: without)
        XCTAssertFalse(k.hasNames)
        XCTAssertNil(k.symbolName(0))
        XCTAssertNil(k.frameName(tag: SBX_FRAME_ROOT))
    }

    func testNamesAreMadePrintableAndCut() throws {
        XCTAssertEqual(BlobNames.sanitized("fopen"), Array("fopen".utf8))
        XCTAssertEqual(BlobNames.sanitized("a b\u{1b}[31m\n"), Array("a?b?[31m?".utf8))
        XCTAssertEqual(BlobNames.sanitized("f\u{fc}nf"), Array("f??nf".utf8))
        XCTAssertEqual(BlobNames.sanitized(""), Array("?".utf8))
        XCTAssertEqual(BlobNames.sanitized(String(repeating: "x", count: 300)).count, Int(SBX_NAME_LEN_MAX))
        var p = BlobTests.sharedHelper
        p.functions[3].name = "h\u{1b}]0;pwned\u{7}" + String(repeating: "y", count: 200)
        let k = try KernelPolicy(blob: buildBlob(policy: p, mode: .dyck))
        let name = try XCTUnwrap(k.frameName(tag: SBX_FRAME_SITE | 2))
        XCTAssertEqual(name.utf8.count, Int(SBX_NAME_LEN_MAX))
        XCTAssertTrue(name.hasPrefix("h?]0;pwned?yyy"))
        XCTAssertTrue(name.utf8.allSatisfy { (0x21...0x7e).contains($0) })
    }
}
