import COpenSSL

/// SHA-256 over OpenSSL's plain `SHA256_CTX`: a value type whose copies are memcpys.
///
/// Why not swift-crypto's `SHA256`: its state is a class behind copy-on-write, so every
/// hasher and every HMAC (which copies a keyed state) allocates; SigV4 hashes three times
/// per request and that showed as a tenth of the verification cost.
struct SHA256Hasher {
    private var context = SHA256_CTX()

    init() {
        SHA256_Init(&context)
    }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        SHA256_Update(&context, base, bytes.count)
    }

    mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The digest; the hasher is spent afterwards (copy it first to keep a prefix state).
    mutating func finalize() -> SHA256Value {
        var digest = SHA256Value()
        _ = withUnsafeMutableBytes(of: &digest.words) { SHA256_Final($0.baseAddress!.assumingMemoryBound(to: UInt8.self), &context) }
        return digest
    }

    static func hash(_ bytes: UnsafeRawBufferPointer) -> SHA256Value {
        var hasher = SHA256Hasher()
        hasher.update(bytes)
        return hasher.finalize()
    }
}

/// A 32-byte SHA-256 digest held inline (no heap allocation).
struct SHA256Value {
    var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: words, body)
    }

    var bytes: [UInt8] { withUnsafeBytes { Array($0) } }
}
