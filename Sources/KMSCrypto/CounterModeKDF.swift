import COpenSSL

/// NIST SP 800-108r1 key derivation in counter mode with HMAC-SHA256 as the PRF:
///
///     K(i) = HMAC-SHA256(K_in, [i]_32 || Label || 0x00 || Context || [L]_32),  i = 1, 2, ...
///     K_out = the first L bits of K(1) || K(2) || ...
///
/// (counter and L are 32-bit big endian; the same layout as Python `cryptography`'s
/// `KBKDFHMAC` with rlen=4, llen=4, location=BeforeFixed, which the tests check against.)
///
/// The HMAC key is absorbed once: the SHA-256 states after key^ipad and key^opad are kept
/// (in locked, dump-excluded `SecretBytes`, since they are as good as the key) and copied
/// for each derivation, so a 256-bit output costs three SHA-256 compressions and no
/// allocation.
public struct CounterModeKDF: Sendable {
    static let stateSize = MemoryLayout<SHA256_CTX>.size
    /// The keyed inner state, then the keyed outer state.
    private let states: SecretBytes

    public init(key: UnsafeRawBufferPointer) {
        states = SecretBytes(count: 2 * Self.stateSize) { out in
            var block = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
            var inner = SHA256_CTX(), outer = SHA256_CTX()
            withUnsafeMutableBytes(of: &block) { b in
                if key.count > 64 {
                    // HMAC hashes long keys first (RFC 2104).
                    var h = SHA256_CTX()
                    SHA256_Init(&h)
                    SHA256_Update(&h, key.baseAddress, key.count)
                    SHA256_Final(b.baseAddress!.assumingMemoryBound(to: UInt8.self), &h)
                    OPENSSL_cleanse(&h, Self.stateSize)
                } else if key.count > 0 {
                    b.copyMemory(from: key)
                }
                for i in 0..<64 { b[i] ^= 0x36 }
                SHA256_Init(&inner)
                SHA256_Update(&inner, b.baseAddress, 64)
                for i in 0..<64 { b[i] ^= 0x36 ^ 0x5C }
                SHA256_Init(&outer)
                SHA256_Update(&outer, b.baseAddress, 64)
                OPENSSL_cleanse(b.baseAddress, 64)
            }
            withUnsafeBytes(of: &inner) { out.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: Self.stateSize) }
            withUnsafeBytes(of: &outer) { (out.baseAddress! + Self.stateSize).copyMemory(from: $0.baseAddress!, byteCount: Self.stateSize) }
            OPENSSL_cleanse(&inner, Self.stateSize)
            OPENSSL_cleanse(&outer, Self.stateSize)
        }
    }

    public init(key: [UInt8]) {
        self = key.withUnsafeBytes { CounterModeKDF(key: $0) }
    }

    /// Fills `output` (L = 8 * output.count bits) from `label` and `context`.
    public func derive(label: UnsafeRawBufferPointer, context: UnsafeRawBufferPointer,
                       into output: UnsafeMutableRawBufferPointer) {
        let bits = UInt32(truncatingIfNeeded: output.count * 8)
        var lengthField = bits.bigEndian
        var zero: UInt8 = 0
        var block = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))  // one PRF output
        var inner = SHA256_CTX(), outer = SHA256_CTX()
        var produced = 0
        var counter: UInt32 = 1
        states.withUnsafeBytes { keyed in
            while produced < output.count {
                var counterField = counter.bigEndian
                withUnsafeMutableBytes(of: &inner) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: keyed[0..<Self.stateSize])) }
                SHA256_Update(&inner, &counterField, 4)
                if label.count > 0 { SHA256_Update(&inner, label.baseAddress, label.count) }
                SHA256_Update(&inner, &zero, 1)
                if context.count > 0 { SHA256_Update(&inner, context.baseAddress, context.count) }
                SHA256_Update(&inner, &lengthField, 4)
                withUnsafeMutableBytes(of: &block) { b in
                    let digest = b.baseAddress!.assumingMemoryBound(to: UInt8.self)
                    SHA256_Final(digest, &inner)
                    withUnsafeMutableBytes(of: &outer) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: keyed[Self.stateSize...])) }
                    SHA256_Update(&outer, digest, 32)
                    SHA256_Final(digest, &outer)
                    let n = min(32, output.count - produced)
                    (output.baseAddress! + produced).copyMemory(from: b.baseAddress!, byteCount: n)
                    produced += n
                }
                counter += 1
            }
        }
        // The stack copies held keyed states and key bytes: wipe them before returning.
        OPENSSL_cleanse(&inner, Self.stateSize)
        OPENSSL_cleanse(&outer, Self.stateSize)
        OPENSSL_cleanse(&block, 32)
    }

    /// Array form for tests and non-hot callers.
    public func derive(label: [UInt8], context: [UInt8], byteCount: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: byteCount)
        label.withUnsafeBytes { l in
            context.withUnsafeBytes { c in
                out.withUnsafeMutableBytes { derive(label: l, context: c, into: $0) }
            }
        }
        return out
    }
}
