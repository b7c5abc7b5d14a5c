import Foundation
import Testing
@testable import KMSServer

#if canImport(Glibc)
import Glibc
#endif

/// The trail reserves its segment's blocks ahead of the records (AuditPreallocation): the
/// file's size is only what was written, the blocks past it are reserved, a closed segment
/// gives the excess back, and the trail verifies.
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
            var bytes: [UInt8] = [], ends: [Int] = [], entries: [AuditIndexEntry] = []
            for _ in 0..<50 {
                bytes += Array(#"{"eventVersion":"1.08","eventTime":"2026-11-30T10:00:00Z","eventName":"Encrypt","padding":""#.utf8)
                    + [UInt8](repeating: UInt8(ascii: "x"), count: 900) + Array(#"","eventID":"e\#(next)""#.utf8)
                ends.append(bytes.count)
                entries.append(AuditIndexEntry(time: 1_796_032_800, eventName: "Encrypt", source: .kms, account: "000000000000",
                                               username: "root", accessKeyId: "AKIAPREALLOCTEST0001", readOnly: true,
                                               eventID: "e\(next)", resources: [], requestID: "r\(next)", succeeded: true,
                                               tracksKeyUsage: false))
                next += 1
            }
            return audit.append(bytes, ends: ends, entries: &entries)
        }
        #expect(append())
        let first = try #require(try segments(dir).last)
        let open = try sizes(first)
        #expect(open.size > 40_000 && open.size < 100_000, "size \(open.size): the reserve must not show in the file's size")
        // A file system without fallocate (the trail then writes as before) has nothing more to check.
        try #require(open.allocated >= AuditPreallocation.chunk, "no blocks reserved ahead (\(open.allocated) bytes)")
        while try segments(dir).count < 3 { #expect(append()) }
        audit.sync()
        let closed = try sizes(first)
        #expect(closed.size >= 256 * 1024)
        #expect(closed.allocated < closed.size + 64 * 1024,
                "closed segment keeps \(closed.allocated) bytes of blocks for \(closed.size) bytes")
        audit.sync(final: true)
        let report = AuditVerifier.verify(dataDirectory: dir)
        #expect(report.intact)
        #expect(report.records == next)
    }
}
