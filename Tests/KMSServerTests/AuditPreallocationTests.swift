import Foundation
import Testing
@testable import KMSServer

#if canImport(Glibc)
import Glibc
#endif

/// The trail reserves its segment's blocks ahead of the records (AuditPreallocation): the
/// file's size is only what was written, the blocks past it are reserved, a closed segment
/// gives the excess back (and the open one at a clean stop), and the trail verifies.
@Suite struct AuditPreallocationTests {
    func sizes(_ path: String) throws -> (size: Int, allocated: Int) {
        var st = stat()
        try #require(stat(path, &st) == 0)
        return (Int(st.st_size), Int(st.st_blocks) * 512)
    }

    func segments(_ dir: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir + "/audit")
            .filter { $0.hasPrefix("audit-") }.sorted().map { dir + "/audit/" + $0 }
    }

    @Test func segmentsAreReservedAheadAndTrimmedWhenClosed() throws {
        let dir = NSTemporaryDirectory() + "kms-audit-prealloc-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Small segments, so that a few groups close one.
        let audit = try AuditLog(dataDirectory: dir, policy: .interval, fallbackAccount: "000000000000",
                                 segmentBytes: 256 * 1024)
        var next = 0
        func append() -> Bool {
            let group = AuditFillerGroup(first: next, count: 50, accessKeyId: "AKIAPREALLOCTEST0001")
            next += 50
            return group.append(to: audit)
        }
        #expect(append())
        let first = try #require(try segments(dir).last)
        let open = try sizes(first)
        #expect(open.size > 40_000 && open.size < 100_000, "size \(open.size): the reserve must not show in the file's size")
        // ext4, xfs and tmpfs have fallocate; without it the trail writes as before and this test fails here.
        try #require(open.allocated >= AuditPreallocation.chunk, "no blocks reserved ahead (\(open.allocated) bytes)")
        while try segments(dir).count < 3 { #expect(append()) }
        audit.sync()
        let closed = try sizes(first)
        #expect(closed.size >= 256 * 1024)
        #expect(closed.allocated < closed.size + 64 * 1024,
                "closed segment keeps \(closed.allocated) bytes of blocks for \(closed.size) bytes")
        // A clean stop gives back the open segment's reserve too.
        #expect(append())
        let last = try #require(try segments(dir).last)
        #expect(try sizes(last).allocated >= AuditPreallocation.chunk)
        audit.sync(final: true)
        let stopped = try sizes(last)
        #expect(stopped.allocated < stopped.size + 64 * 1024,
                "open segment keeps \(stopped.allocated) bytes of blocks for \(stopped.size) bytes after the final sync")
        let report = AuditVerifier.verify(dataDirectory: dir)
        #expect(report.intact)
        #expect(report.records == next)
    }
}
