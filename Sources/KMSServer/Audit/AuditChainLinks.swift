import COpenSSL

#if canImport(Glibc)
import Glibc
#endif

/// One group's chain links, hashed and handed to the OS with the records in place.
///
/// A line on disk is the record's bytes (without its closing brace) followed by its link,
/// `,"previousEventHash":"<64 hex>"}` and a newline. The links live in a small buffer of
/// their own and one writev(2) takes records and links together: the records are never
/// copied into a line buffer, which both event loops used to write (a tick's worth of
/// cache lines moving between the cores, and a copy per record).
///
/// SHA-256 runs on OpenSSL's plain `SHA256_CTX` (a value: no allocation per record, unlike
/// swift-crypto's `SHA256`, whose state is a class). The record's bytes are hashed before
/// the trail's lock; under it each hash only takes its link (the last two blocks).
enum AuditChainLinks {
    static let prefix: [UInt8] = Array(#","previousEventHash":""#.utf8)
    /// The hashed part of a link: prefix, 64 hex digits, `"}`.
    static let hashedSize = prefix.count + 64 + 2
    /// With the newline, which ends the line but is not hashed.
    static let size = hashedSize + 1
    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
    /// writev(2) takes at most this many buffers per call (Linux's UIO_MAXIOV).
    static let maxBuffers = 1024

    /// The SHA-256 states of records `0..<ends.count` of `bytes` (record i ends at
    /// `ends[i]`), each having taken its record's bytes: what does not depend on the chain.
    static func hashRecords(_ bytes: UnsafeRawBufferPointer, ends: [Int], into states: UnsafeMutablePointer<SHA256_CTX>) {
        var start = 0
        for (i, end) in ends.enumerated() {
            (states + i).initialize(to: SHA256_CTX())
            SHA256_Init(states + i)
            if end > start, let base = bytes.baseAddress { SHA256_Update(states + i, base + start, end - start) }
            start = end
        }
    }

    /// Writes link `i` (chained to `previous`, 32 bytes) at `link`, finishes state `i` with
    /// it and leaves the record's hash in `previous`: the next record's link.
    static func link(_ link: UnsafeMutablePointer<UInt8>, state: UnsafeMutablePointer<SHA256_CTX>,
                     previous: UnsafeMutablePointer<UInt8>) {
        prefix.withUnsafeBufferPointer { _ = UnsafeMutableBufferPointer(start: link, count: $0.count).update(fromContentsOf: $0) }
        hexDigits.withUnsafeBufferPointer { digits in
            var out = link + prefix.count
            for j in 0..<32 {
                let b = previous[j]
                out[0] = digits[Int(b >> 4)]
                out[1] = digits[Int(b & 0xF)]
                out += 2
            }
            out[0] = UInt8(ascii: "\"")
            out[1] = UInt8(ascii: "}")
            out[2] = UInt8(ascii: "\n")
        }
        SHA256_Update(state, link, hashedSize)
        SHA256_Final(previous, state)
    }

    /// Hands `count` buffers to `fd` whole: writev(2) in batches of `maxBuffers`, resumed
    /// after a short write (the buffers are advanced in place). False on an error; what
    /// part reached the file is then for the caller to cut back.
    static func writeAll(_ fd: Int32, _ buffers: UnsafeMutablePointer<iovec>, count: Int) -> Bool {
        var first = 0
        while first < count {
            let n = writev(fd, buffers + first, Int32(min(count - first, maxBuffers)))
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            if n == 0 { errno = EIO; return false }  // no progress on a regular file: give up, never spin
            var left = n
            while first < count, left >= buffers[first].iov_len {
                left -= buffers[first].iov_len
                first += 1
            }
            if left > 0 {
                buffers[first].iov_base = buffers[first].iov_base.map { $0 + left }
                buffers[first].iov_len -= left
            }
        }
        return true
    }
}
