import COpenSSL

/// AES-256-GCM under a fresh key for every message, derived from one key's material
/// (ciphertext format v2, docs/CIPHERTEXT.md):
///
///     K_msg = KDF_CTR-HMAC-SHA256(K_material, Label = "swift-kms ciphertext v2", Context = salt, L = 256)
///     ciphertext || tag = AES-256-GCM(K_msg, nonce = 0^96, aad, plaintext)
///
/// with a random 256-bit salt per message. Each K_msg seals exactly one message, so the
/// fixed nonce never repeats under a key unless two salts collide (about q^2 / 2^257 for
/// q messages); SP 800-38D's 2^32 limit on random nonces under one key no longer applies
/// to the material.
///
/// Thread-safe: the KDF state is immutable and the contexts come from a pool.
public final class MessageKeyAESGCM: Sendable {
    public static let saltSize = 32
    public static let label: [UInt8] = Array("swift-kms ciphertext v2".utf8)
    /// The GCM nonce used with every per-message key (each key is used once).
    static let zeroNonce = [UInt8](repeating: 0, count: AESGCMKey.nonceSize)

    private let kdf: CounterModeKDF
    /// Contexts without a fixed key: each call re-keys one with its K_msg.
    private let pool: AESGCMContextPool

    /// - Parameter material: the key material (32 bytes for SYMMETRIC_DEFAULT keys).
    public init(material: UnsafeRawBufferPointer) throws(KMSCryptoError) {
        guard material.count == AESGCMKey.keySize else { throw .backendFailure("AES-256-GCM key") }
        kdf = CounterModeKDF(key: material)
        pool = try AESGCMContextPool(key: nil)
    }

    /// K_msg for `salt`, exposed for known-answer tests.
    public func messageKey(salt: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: AESGCMKey.keySize)
        Self.label.withUnsafeBytes { l in
            salt.withUnsafeBytes { s in out.withUnsafeMutableBytes { kdf.derive(label: l, context: s, into: $0) } }
        }
        return out
    }

    /// Appends `ciphertext | tag` for `plaintext` to `out`, under the key derived from `salt`.
    public func seal(_ plaintext: UnsafeRawBufferPointer, salt: UnsafeRawBufferPointer,
                     authenticating aad: UnsafeRawBufferPointer, appendingTo out: inout [UInt8]) throws(KMSCryptoError) {
        guard salt.count == Self.saltSize else { throw .backendFailure("salt length") }
        var key = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        defer { OPENSSL_cleanse(&key, AESGCMKey.keySize) }
        derive(salt, into: &key)
        do {
            try withUnsafeBytes(of: &key) { k in
                try Self.zeroNonce.withUnsafeBytes { nonce in
                    try pool.seal(plaintext, key: k, nonce: nonce, authenticating: aad, appendingTo: &out)
                }
            }
        } catch {
            throw (error as? KMSCryptoError) ?? .backendFailure("AES-GCM seal")
        }
    }

    /// The plaintext, or `invalidCiphertext` when the tag does not verify.
    public func open(_ ciphertext: UnsafeRawBufferPointer, tag: UnsafeRawBufferPointer, salt: UnsafeRawBufferPointer,
                     authenticating aad: UnsafeRawBufferPointer) throws(KMSCryptoError) -> [UInt8] {
        guard salt.count == Self.saltSize else { throw .invalidCiphertext }
        var key = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        defer { OPENSSL_cleanse(&key, AESGCMKey.keySize) }
        derive(salt, into: &key)
        do {
            return try withUnsafeBytes(of: &key) { k in
                try Self.zeroNonce.withUnsafeBytes { nonce in
                    try pool.open(ciphertext, tag: tag, key: k, nonce: nonce, authenticating: aad)
                }
            }
        } catch {
            throw .invalidCiphertext
        }
    }

    /// K_msg for `salt` into a stack buffer the caller wipes. (The pooled context keeps
    /// K_msg's schedule until its next use or release: it can open only this one message.)
    private func derive(_ salt: UnsafeRawBufferPointer, into key: inout (UInt64, UInt64, UInt64, UInt64)) {
        Self.label.withUnsafeBytes { l in
            withUnsafeMutableBytes(of: &key) { kdf.derive(label: l, context: salt, into: $0) }
        }
    }
}
