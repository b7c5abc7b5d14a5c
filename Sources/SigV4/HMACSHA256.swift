/// HMAC-SHA256 (RFC 2104) over OpenSSL's value-type SHA-256 state.
/// Why not `Crypto.HMAC<SHA256>`: it is generic and not inlinable, so from this module it
/// runs unspecialized (~4 µs per MAC measured here), and its states are heap objects.
/// Checked against `Crypto.HMAC` in the tests and by every botocore fixture.
struct HMACSHA256: @unchecked Sendable {  // two immutable C structs, copied before use
    /// SHA-256 states already fed with key^ipad and key^opad: copied for each message.
    private let inner: SHA256Hasher
    private let outer: SHA256Hasher

    init(key: UnsafeRawBufferPointer) {
        var block = [UInt8](repeating: 0, count: 64)
        if key.count > 64 {
            SHA256Hasher.hash(key).withUnsafeBytes { block.replaceSubrange(0..<$0.count, with: $0) }
        } else {
            block.replaceSubrange(0..<key.count, with: key)
        }
        var inner = SHA256Hasher()
        var outer = SHA256Hasher()
        for i in 0..<64 { block[i] ^= 0x36 }
        inner.update(block)
        for i in 0..<64 { block[i] ^= 0x36 ^ 0x5C }
        outer.update(block)
        for i in 0..<64 { block[i] = 0 }  // do not leave key material in freed memory
        self.inner = inner
        self.outer = outer
    }

    init(key: [UInt8]) {
        self = key.withUnsafeBytes { HMACSHA256(key: $0) }
    }

    func authenticationCode(for message: UnsafeRawBufferPointer) -> SHA256Value {
        var innerHash = inner
        innerHash.update(message)
        var outerHash = outer
        innerHash.finalize().withUnsafeBytes { outerHash.update($0) }
        return outerHash.finalize()
    }

    func authenticationCode(for message: [UInt8]) -> SHA256Value {
        message.withUnsafeBytes { authenticationCode(for: $0) }
    }
}
