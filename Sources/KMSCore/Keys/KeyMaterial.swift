/// One version of a key's material. Rotation appends versions; ciphertexts name the
/// version they were made with, so old versions stay for decryption (as Vault transit does).
public struct KeyMaterial: Sendable {
    public let version: UInt32
    /// Raw secret bytes: an AES-256 key, an HMAC key, or a private key encoding.
    /// Held unsealed only in memory; storage seals it under the root key.
    public let secret: [UInt8]
    /// The 64-hex-digit identifier AWS calls KeyMaterialId / CurrentKeyMaterialId.
    public let materialId: String
    public let createdAt: Double
    /// For asymmetric keys, the private key parsed once: parsing RSA or ML-DSA keys costs
    /// milliseconds, far more than a signature.
    public let privateKey: AsymmetricPrivateKey?
    /// For 256-bit secrets, the AES-GCM key with its schedule built once rather than per
    /// Encrypt/Decrypt (nil for asymmetric keys).
    public let aesKey: AESGCMKey?

    public init(version: UInt32, secret: [UInt8], materialId: String, createdAt: Double,
                privateKey: AsymmetricPrivateKey? = nil) {
        self.version = version
        self.secret = secret
        self.materialId = materialId
        self.createdAt = createdAt
        self.privateKey = privateKey
        self.aesKey = privateKey == nil && secret.count == AESGCMKey.keySize ? try? AESGCMKey(key: secret) : nil
    }

    /// Material as loaded from storage: asymmetric private keys are parsed here.
    public init(keySpec: KeySpec, version: UInt32, secret: [UInt8], materialId: String, createdAt: Double) throws {
        let parsed = keySpec.isAsymmetric ? try AsymmetricPrivateKey(spec: keySpec, privateKeyBytes: secret) : nil
        self.init(version: version, secret: secret, materialId: materialId, createdAt: createdAt, privateKey: parsed)
    }
}
