/// A freshly generated asymmetric key pair (CreateKey, GenerateDataKeyPair).
public struct AsymmetricKeyPair: Sendable {
    public let keySpec: KeySpec
    /// What the core seals and stores: PKCS#8 PrivateKeyInfo DER for every spec (RFC 8410
    /// form for Ed25519, RFC 9881 seed form for ML-DSA). Load it back with
    /// `AsymmetricPrivateKey(spec:privateKeyBytes:)`.
    public let privateKeyBytes: [UInt8]
    /// SubjectPublicKeyInfo DER (GetPublicKey, GenerateDataKeyPair PublicKey).
    public let publicKeyDER: [UInt8]
    /// The already-parsed private key, ready to cache: no need to re-parse after CreateKey.
    public let privateKey: AsymmetricPrivateKey

    /// GenerateDataKeyPair PrivateKeyPlaintext: PKCS#8 DER, identical to `privateKeyBytes`.
    public var pkcs8: [UInt8] { privateKeyBytes }

    /// Generates a key pair for any asymmetric spec (RSA keygen takes up to seconds for 4096).
    public static func generate(_ spec: KeySpec) throws -> AsymmetricKeyPair {
        guard spec.isAsymmetric else { throw KMSCryptoError.unsupportedKeySpec(spec) }
        let implementation = try KeyFactory.generate(spec)
        return AsymmetricKeyPair(
            keySpec: spec,
            privateKeyBytes: try implementation.pkcs8(),
            publicKeyDER: implementation.publicKey.spki,
            privateKey: AsymmetricPrivateKey(implementation: implementation))
    }

    /// Generates a data key pair (GenerateDataKeyPair / ...WithoutPlaintext).
    public static func generate(dataKeyPairSpec spec: DataKeyPairSpec) throws -> AsymmetricKeyPair {
        try generate(spec.keySpec)
    }
}
