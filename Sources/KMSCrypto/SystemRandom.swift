import COpenSSL

/// Cryptographically secure random bytes from OpenSSL's DRBG (seeded and reseeded from the
/// operating system, one generator per thread).
///
/// Why not swift-crypto's `SymmetricKey(size:)`: on Linux it draws 8 bytes per getrandom
/// system call, which made random nonces and data keys a system call per 8 bytes.
public enum SystemRandom {
    /// Fills `buffer` with random bytes. A failing generator is not recoverable: no key,
    /// nonce or data key may ever be made from bytes that are not random.
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        guard RAND_bytes(base.assumingMemoryBound(to: UInt8.self), Int32(buffer.count)) == 1 else {
            fatalError("OpenSSL RAND_bytes failed: no secure randomness available")
        }
    }

    public static func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: max(0, count))
        out.withUnsafeMutableBytes { fill($0) }
        return out
    }
}
