import Crypto

/// A caller-supplied digest (KMS MessageType DIGEST) in the shape swift-crypto's ECDSA
/// `signature(for: Digest)` accepts: its BoringSSL backend signs the bytes as given, so a
/// custom `Digest` lets the NIST-curve keys sign digests without rehashing.
struct PrecomputedDigest<Length: DigestLength>: Digest {
    static var byteCount: Int { Length.byteCount }

    let bytes: [UInt8]

    /// Returns nil unless `bytes` has exactly `Length.byteCount` bytes.
    init?(_ bytes: [UInt8]) {
        guard bytes.count == Length.byteCount else { return nil }
        self.bytes = bytes
    }

    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes(body)
    }

    func makeIterator() -> IndexingIterator<[UInt8]> {
        bytes.makeIterator()
    }

    var description: String { "PrecomputedDigest(\(Length.byteCount) bytes)" }
}

protocol DigestLength: Sendable {
    static var byteCount: Int { get }
}

enum DigestLength32: DigestLength { static var byteCount: Int { 32 } }
enum DigestLength48: DigestLength { static var byteCount: Int { 48 } }
enum DigestLength64: DigestLength { static var byteCount: Int { 64 } }
