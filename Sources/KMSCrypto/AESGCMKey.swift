import COpenSSL
import Synchronization

/// AES-256-GCM under one key, through OpenSSL's EVP interface with key-scheduled contexts
/// kept for reuse.
///
/// Why not swift-crypto's `AES.GCM`: it builds a fresh AEAD context (key expansion and
/// GHASH tables included) on every seal and open, which measured about 7 µs of a 28 µs
/// Encrypt request. Here the key is expanded once per pooled context and each call only
/// sets the nonce. Results are byte-identical to `AES.GCM` (checked in KMSCryptoTests).
///
/// Thread-safe (see `AESGCMContextPool`). The key is copied into locked, dump-excluded
/// memory (`SecretBytes`) and wiped when the key is released.
public final class AESGCMKey: Sendable {
    public static let keySize = 32
    public static let nonceSize = 12
    public static let tagSize = 16

    private let pool: AESGCMContextPool

    /// - Parameters:
    ///   - key: 32 bytes; anything else throws `backendFailure`.
    ///   - prewarm: schedule one context now (false: on first use, for keys that may never
    ///     be used, such as a material's format v1 key, which only old blobs need).
    public init(key: UnsafeRawBufferPointer, prewarm: Bool = true) throws(KMSCryptoError) {
        guard key.count == Self.keySize else { throw .backendFailure("AES-256-GCM key") }
        pool = try AESGCMContextPool(key: key, prewarm: prewarm)
    }

    public init(key: [UInt8]) throws(KMSCryptoError) {
        guard key.count == Self.keySize else { throw .backendFailure("AES-256-GCM key") }
        do {
            pool = try key.withUnsafeBytes { try AESGCMContextPool(key: $0) }
        } catch {
            throw (error as? KMSCryptoError) ?? .backendFailure("AES-256-GCM key")
        }
    }

    // MARK: - Seal and open

    /// Appends `ciphertext | tag` for `plaintext` to `out`.
    /// - Parameter nonce: exactly 12 bytes, never reused with this key.
    public func seal(_ plaintext: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer,
                     authenticating aad: UnsafeRawBufferPointer, appendingTo out: inout [UInt8]) throws(KMSCryptoError) {
        try pool.seal(plaintext, key: nil, nonce: nonce, authenticating: aad, appendingTo: &out)
    }

    /// The plaintext of `ciphertext` (without the tag), or `invalidCiphertext` when the tag
    /// does not verify under this key, nonce and authenticated data.
    public func open(_ ciphertext: UnsafeRawBufferPointer, tag: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer,
                     authenticating aad: UnsafeRawBufferPointer) throws(KMSCryptoError) -> [UInt8] {
        try pool.open(ciphertext, tag: tag, key: nil, nonce: nonce, authenticating: aad)
    }
}

/// AES-256-GCM contexts kept for reuse, either all scheduled under one fixed key (when
/// made with a key) or keyed afresh on every call (per-message keys, `MessageKeyAESGCM`):
/// re-keying a pooled context with `EVP_CipherInit_ex2(ctx, NULL, key, iv, ...)` only
/// expands the key and GHASH table, without allocating a context.
///
/// Thread-safe: a context is taken from the pool for one call and returned after; two
/// threads never share one. Contexts are freed (OpenSSL clears their key schedule) when
/// the pool is released.
final class AESGCMContextPool: @unchecked Sendable {  // contexts are only touched while checked out
    /// Contexts kept: one per concurrently running thread is enough.
    static let poolLimit = 8

    /// An `EVP_CIPHER_CTX *` that only one thread holds at a time (checked out of the pool).
    struct Context: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    /// The fixed key, kept to schedule contexts the pool adds under load; nil when every
    /// call brings its own key. Held in locked, dump-excluded memory.
    private let key: SecretBytes?
    private let pool = Mutex<[Context]>([])

    /// The cipher, fetched once: EVP_CIPHER_fetch looks it up in the provider tables.
    nonisolated(unsafe) static let cipher: OpaquePointer? = EVP_CIPHER_fetch(nil, "AES-256-GCM", nil)

    init(key: UnsafeRawBufferPointer?, prewarm: Bool = true) throws(KMSCryptoError) {
        guard Self.cipher != nil else { throw .backendFailure("AES-256-GCM cipher") }
        self.key = key.map { SecretBytes(copying: $0) }
        // One context up front: a key that cannot be scheduled fails here, not on first use.
        guard prewarm else { return }
        let first = Context(pointer: try makeContext())
        pool.withLock { $0.append(first) }
    }

    deinit {
        for ctx in pool.withLock({ $0 }) { EVP_CIPHER_CTX_free(ctx.pointer) }
    }

    /// Appends `ciphertext | tag` to `out`. `key` (32 bytes) re-keys the context for this
    /// call; nil uses the pool's fixed key.
    func seal(_ plaintext: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer?, nonce: UnsafeRawBufferPointer,
              authenticating aad: UnsafeRawBufferPointer, appendingTo out: inout [UInt8]) throws(KMSCryptoError) {
        guard nonce.count == AESGCMKey.nonceSize, key == nil || key?.count == AESGCMKey.keySize else {
            throw .backendFailure("AES-GCM nonce or key length")
        }
        let ctx = try checkOut()
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: plaintext.count + AESGCMKey.tagSize))
        let ok = out.withUnsafeMutableBufferPointer { buffer -> Bool in
            let dst = buffer.baseAddress! + start
            guard EVP_CipherInit_ex2(ctx, nil, key?.bytes, nonce.bytes, 1, nil) == 1,
                  Self.update(ctx, aad: aad),
                  Self.update(ctx, input: plaintext, output: dst) else { return false }
            var final: Int32 = 0
            guard EVP_CipherFinal_ex(ctx, dst + plaintext.count, &final) == 1, final == 0 else { return false }
            return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, Int32(AESGCMKey.tagSize), dst + plaintext.count) == 1
        }
        guard ok else {
            EVP_CIPHER_CTX_free(ctx)  // not returned to the pool in an unknown state
            out.removeSubrange(start...)
            throw OpenSSL.failure("AES-GCM seal")
        }
        checkIn(ctx)
    }

    /// The plaintext, or `invalidCiphertext` when the tag does not verify.
    func open(_ ciphertext: UnsafeRawBufferPointer, tag: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer?,
              nonce: UnsafeRawBufferPointer, authenticating aad: UnsafeRawBufferPointer) throws(KMSCryptoError) -> [UInt8] {
        guard nonce.count == AESGCMKey.nonceSize, tag.count == AESGCMKey.tagSize,
              key == nil || key?.count == AESGCMKey.keySize else { throw .invalidCiphertext }
        let ctx = try checkOut()
        // Room for the final call's (empty) output, so the buffer is never zero-sized.
        var plain = [UInt8](repeating: 0, count: ciphertext.count + AESGCMKey.tagSize)
        let ok = plain.withUnsafeMutableBufferPointer { buffer -> Bool in
            let dst = buffer.baseAddress!
            var expected = (UInt64(0), UInt64(0))  // the tag, copied: the ctrl call takes a mutable pointer
            withUnsafeMutableBytes(of: &expected) { $0.copyMemory(from: tag) }
            guard EVP_CipherInit_ex2(ctx, nil, key?.bytes, nonce.bytes, 0, nil) == 1,
                  withUnsafeMutableBytes(of: &expected, {
                      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, Int32(AESGCMKey.tagSize), $0.baseAddress) == 1
                  }),
                  Self.update(ctx, aad: aad),
                  Self.update(ctx, input: ciphertext, output: dst) else { return false }
            var final: Int32 = 0
            // Final verifies the tag (in constant time, inside OpenSSL).
            return EVP_CipherFinal_ex(ctx, dst + ciphertext.count, &final) == 1 && final == 0
        }
        guard ok else {
            EVP_CIPHER_CTX_free(ctx)
            ERR_clear_error()
            secureZero(&plain)
            throw .invalidCiphertext
        }
        checkIn(ctx)
        plain.removeLast(AESGCMKey.tagSize)
        return plain
    }

    // MARK: - Contexts

    private func checkOut() throws(KMSCryptoError) -> OpaquePointer {
        if let ctx = pool.withLock({ $0.popLast() }) { return ctx.pointer }
        return try makeContext()
    }

    private func checkIn(_ ctx: OpaquePointer) {
        let kept = pool.withLock { contexts -> Bool in
            guard contexts.count < Self.poolLimit else { return false }
            contexts.append(Context(pointer: ctx))
            return true
        }
        if !kept { EVP_CIPHER_CTX_free(ctx) }
    }

    private func makeContext() throws(KMSCryptoError) -> OpaquePointer {
        guard let ctx = EVP_CIPHER_CTX_new() else { throw OpenSSL.failure("EVP_CIPHER_CTX_new") }
        let ok: Bool
        if let key {
            ok = key.withUnsafeBytes { EVP_CipherInit_ex2(ctx, Self.cipher, $0.bytes, nil, 1, nil) == 1 }
        } else {
            ok = EVP_CipherInit_ex2(ctx, Self.cipher, nil, nil, 1, nil) == 1
        }
        guard ok else {
            EVP_CIPHER_CTX_free(ctx)
            throw OpenSSL.failure("EVP_CipherInit_ex2")
        }
        return ctx
    }

    private static func update(_ ctx: OpaquePointer, aad: UnsafeRawBufferPointer) -> Bool {
        guard aad.count > 0 else { return true }
        var written: Int32 = 0
        return EVP_CipherUpdate(ctx, nil, &written, aad.bytes, Int32(aad.count)) == 1 && Int(written) == aad.count
    }

    private static func update(_ ctx: OpaquePointer, input: UnsafeRawBufferPointer, output: UnsafeMutablePointer<UInt8>) -> Bool {
        guard input.count > 0 else { return true }
        var written: Int32 = 0
        return EVP_CipherUpdate(ctx, output, &written, input.bytes, Int32(input.count)) == 1 && Int(written) == input.count
    }
}

extension UnsafeRawBufferPointer {
    /// The bytes as OpenSSL's `const unsigned char *`.
    var bytes: UnsafePointer<UInt8>? { baseAddress?.assumingMemoryBound(to: UInt8.self) }
}
