import CProcessControl

#if canImport(Glibc)
import Glibc
#endif

/// Reserves the current segment's disk blocks ahead of its records, a chunk at a time.
///
/// Why: ext4 otherwise reserves and maps each new block of an appended file inside the
/// group's write(2) (delayed allocation, per 4 KiB block) and allocates it at writeback,
/// a block run per fsync. One fallocate per chunk moves that work off the write and keeps
/// the segment contiguous. The blocks are past the end of the file (FALLOC_FL_KEEP_SIZE):
/// the file's size, what readers and `kms audit verify` see, is only what was written.
/// A closed segment gives back what it did not use (`trim`); after a crash the excess of
/// the segment being written is used by the records that follow, or given back at its close.
struct AuditPreallocation {
    /// Bytes reserved at a time (8 MiB: ~10,000 Encrypt records, one call every ~0.2 s under load).
    static let chunk = 8 * 1024 * 1024
    /// End of what is reserved in the current segment.
    private(set) var reservedEnd = 0
    /// False once the file system refused (no fallocate, as on some network file systems):
    /// the trail is written as before.
    private var supported = true

    /// Before writing `count` bytes at `offset`: reserves the next chunk if they pass the
    /// reserved end. Advice only: on failure the write allocates as it would have.
    mutating func reserve(_ fd: Int32, offset: Int, count: Int) {
        guard supported, offset + count > reservedEnd else { return }
        let start = max(reservedEnd, offset)
        let length = max(Self.chunk, offset + count - start)
        if kms_preallocate_keep_size(fd, Int64(start), Int64(length)) == 0 {
            reservedEnd = start + length
        } else if errno == EOPNOTSUPP || errno == ENOSYS {
            supported = false
        } else {
            // ENOSPC and the like: the write itself finds out; try again at the next chunk.
            reservedEnd = offset + count + Self.chunk
        }
    }

    /// The segment is closed at `size` bytes: the blocks reserved past it are freed
    /// (truncating to its own size frees an ext4 file's blocks past its end).
    mutating func trim(_ fd: Int32, size: Int) {
        if reservedEnd > size { _ = ftruncate(fd, off_t(size)) }
        reservedEnd = 0
    }
}
