#if canImport(Glibc)
import Glibc
#endif

/// Hands the trail's pages back to the kernel once they are on disk.
///
/// Why: the trail is written once and read back rarely (LookupEvents reads single lines;
/// `kms audit verify`, export and the cluster shipper read sequentially). Left cached, it
/// grows the page cache by every byte audited (~50 MB/s under load), and the group
/// write's cost grew with it: bench/run.sh (10 s runs, three rounds) measured audit at
/// ~7.3 µs/request without this and ~5.8 with it (docs/ARCHITECTURE.md, "Page cache").
/// Released pages go back to the allocator, where the next records find them.
enum AuditPageCache {
    /// POSIX_FADV_DONTNEED over a whole fsynced file: the kernel drops its clean pages
    /// (the partial last page, and any page written since the fsync, are dirty and stay).
    /// Advice only: a failure changes nothing the trail depends on, so it is ignored.
    static func release(_ fd: Int32) {
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
    }
}
