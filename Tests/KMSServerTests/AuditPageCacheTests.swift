import Foundation
import Testing
@testable import KMSServer

#if canImport(Glibc)
import Glibc
#endif

/// The trail's timer sync hands its pages back to the kernel (AuditPageCache): after a
/// sync, none of the segment's written pages stays in the page cache, and the trail
/// still verifies (the next records append as before).
@Suite struct AuditPageCacheTests {
    /// How many of `path`'s pages are in the page cache (mincore over a read-only mapping).
    func residentPages(_ path: String) throws -> (resident: Int, total: Int) {
        let fd = open(path, O_RDONLY)
        #expect(fd >= 0)
        defer { close(fd) }
        var st = stat()
        #expect(fstat(fd, &st) == 0)
        let size = Int(st.st_size)
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let pages = (size + page - 1) / page
        guard pages > 0, let map = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), map != MAP_FAILED else { return (0, 0) }
        defer { munmap(map, size) }
        var vec = [UInt8](repeating: 0, count: pages)
        #expect(mincore(map, size, &vec) == 0)
        return (vec.filter { $0 & 1 == 1 }.count, pages)
    }

    /// The type of the file system holding `path`, from /proc/mounts (the longest mount point above it).
    func fileSystemType(_ path: String) -> String? {
        guard let mounts = try? String(contentsOfFile: "/proc/mounts", encoding: .utf8) else { return nil }
        var best: (point: String, type: String)?
        for line in mounts.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 2 else { continue }
            let point = String(fields[1])
            let under = point == "/" || path == point || path.hasPrefix(point + "/")
            if under, point.count > (best?.point.count ?? -1) { best = (point, String(fields[2])) }
        }
        return best?.type
    }

    @Test func syncReleasesTheSegmentsPages() throws {
        let dir = NSTemporaryDirectory() + "kms-audit-pagecache-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // tmpfs keeps its files in the page cache: nothing to release there.
        try #require(fileSystemType(dir) != "tmpfs", "tmpfs: the test needs a disk-backed temporary directory")
        let audit = try AuditLog(dataDirectory: dir, policy: .interval, fallbackAccount: "000000000000")
        var group = AuditFillerGroup(first: 0, count: 200, accessKeyId: "AKIAPAGECACHETEST001")
        #expect(group.append(to: audit))
        let segment = dir + "/audit/" + (try FileManager.default.contentsOfDirectory(atPath: dir + "/audit")
            .filter { $0.hasPrefix("audit-") }.sorted().last ?? "")
        let before = try residentPages(segment)
        #expect(before.total >= 40)
        try #require(before.resident > 0, "the kernel did not cache the written pages")
        audit.sync()
        let after = try residentPages(segment)
        #expect(after.resident == 0, "\(after.resident) of \(after.total) pages still cached after the sync")
        // The trail goes on: the next group chains to the released records.
        group = AuditFillerGroup(first: 200, count: 200, accessKeyId: "AKIAPAGECACHETEST001")
        #expect(group.append(to: audit))
        audit.sync(final: true)
        #expect(AuditVerifier.verify(dataDirectory: dir).intact)
    }
}
