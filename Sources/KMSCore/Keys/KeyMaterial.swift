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

    public init(version: UInt32, secret: [UInt8], materialId: String, createdAt: Double) {
        self.version = version
        self.secret = secret
        self.materialId = materialId
        self.createdAt = createdAt
    }
}
