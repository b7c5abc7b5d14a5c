/// One version of a key's material. Rotation appends versions; ciphertexts name the
/// version they were made with, so old versions stay for decryption (as Vault transit does).
public struct KeyMaterial: Sendable {
    public let version: UInt32
    /// Raw secret bytes: an AES-256 key, an HMAC key, or a private key encoding, in
    /// locked, dump-excluded memory wiped on release (`SecretBytes`). Held unsealed only
    /// in memory; storage seals it under the root key.
    public let secretBytes: SecretBytes
    /// The 64-hex-digit identifier AWS calls KeyMaterialId / CurrentKeyMaterialId.
    public let materialId: String
    public let createdAt: Double
    /// For asymmetric keys, the private key parsed once: parsing RSA or ML-DSA keys costs
    /// milliseconds, far more than a signature.
    public let privateKey: AsymmetricPrivateKey?
    /// For 256-bit secrets, the AES-GCM key with its schedule built once: opens format v1
    /// blobs (nil for asymmetric keys).
    public let aesKey: AESGCMKey?
    /// For 256-bit secrets, the per-message-key cipher of format v2 (keyed KDF state
    /// precomputed once).
    public let messageKeyCipher: MessageKeyAESGCM?

    /// A heap copy of the secret, for APIs that take arrays (HMAC, sealing for storage).
    /// Not wiped when dropped: keep it short-lived (docs/ARCHITECTURE.md, "Secrets in memory").
    public var secret: [UInt8] { secretBytes.bytes }

    /// - Parameter secret: consumed; its storage is wiped once copied to locked memory
    ///   (when the caller held the only reference, as generation and unsealing do).
    public init(version: UInt32, secret: consuming [UInt8], materialId: String, createdAt: Double,
                privateKey: AsymmetricPrivateKey? = nil) {
        self.version = version
        let secretBytes = SecretBytes(consuming: secret)
        self.secretBytes = secretBytes
        self.materialId = materialId
        self.createdAt = createdAt
        self.privateKey = privateKey
        let symmetric = privateKey == nil && secretBytes.count == AESGCMKey.keySize
        // The v1 key gets its EVP context only if an old blob is ever opened (memory per key).
        self.aesKey = symmetric ? secretBytes.withUnsafeBytes { try? AESGCMKey(key: $0, prewarm: false) } : nil
        self.messageKeyCipher = symmetric ? secretBytes.withUnsafeBytes { try? MessageKeyAESGCM(material: $0) } : nil
    }

    /// Material as loaded from storage: asymmetric private keys are parsed here.
    public init(keySpec: KeySpec, version: UInt32, secret: consuming [UInt8], materialId: String, createdAt: Double) throws {
        let parsed = keySpec.isAsymmetric ? try AsymmetricPrivateKey(spec: keySpec, privateKeyBytes: copy secret) : nil
        self.init(version: version, secret: secret, materialId: materialId, createdAt: createdAt, privateKey: parsed)
    }
}
