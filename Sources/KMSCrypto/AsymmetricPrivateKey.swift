/// A parsed asymmetric private key, immutable and safe to share between threads: parse
/// once (`init(spec:privateKeyBytes:)` costs up to milliseconds for RSA and ML-DSA), cache,
/// and call concurrently.
///
/// Every operation first checks that the algorithm belongs to the key spec
/// (`KMSCryptoError.incompatibleAlgorithm`) and that the MessageType and message length
/// suit the algorithm. Key usage (SIGN_VERIFY vs ENCRYPT_DECRYPT vs KEY_AGREEMENT) is the
/// core's to check: the same key bytes serve every usage of their spec.
public final class AsymmetricPrivateKey: Sendable {
    public let keySpec: KeySpec
    public let publicKey: AsymmetricPublicKey
    let implementation: any PrivateKeyImplementation

    /// Parses the bytes produced by `AsymmetricKeyPair.generate` (PKCS#8 DER). Throws
    /// `invalidPrivateKey` when they are malformed or belong to another spec.
    public convenience init(spec: KeySpec, privateKeyBytes: [UInt8]) throws {
        guard spec.isAsymmetric else { throw KMSCryptoError.unsupportedKeySpec(spec) }
        self.init(implementation: try KeyFactory.privateKey(spec, pkcs8: privateKeyBytes))
    }

    init(implementation: any PrivateKeyImplementation) {
        keySpec = implementation.spec
        self.implementation = implementation
        publicKey = AsymmetricPublicKey(implementation: implementation.publicKey)
    }

    /// SubjectPublicKeyInfo DER (GetPublicKey).
    public var publicKeyDER: [UInt8] { publicKey.derRepresentation }

    /// Sign. Returns DER for ECDSA and SM2DSA, PKCS #1 bytes for RSA, 64 bytes for
    /// Ed25519, the FIPS 204 encoding for ML-DSA.
    public func sign(message: [UInt8], messageType: MessageType, algorithm: SigningAlgorithm) throws -> [UInt8] {
        try Validation.signing(keySpec, algorithm: algorithm, message: message, messageType: messageType)
        return try implementation.sign(message: message, messageType: messageType, algorithm: algorithm)
    }

    /// Verify. Throws only for an invalid request; an invalid signature is `false`.
    public func verify(
        signature: [UInt8], message: [UInt8], messageType: MessageType, algorithm: SigningAlgorithm
    ) throws -> Bool {
        try publicKey.verify(signature: signature, message: message, messageType: messageType, algorithm: algorithm)
    }

    /// Encrypt with the public key (RSAES_OAEP_SHA_1/256, SM2PKE).
    public func encrypt(plaintext: [UInt8], algorithm: EncryptionAlgorithm) throws -> [UInt8] {
        try publicKey.encrypt(plaintext: plaintext, algorithm: algorithm)
    }

    /// Decrypt. Any failure to decrypt is `invalidCiphertext`, with no detail.
    public func decrypt(ciphertext: [UInt8], algorithm: EncryptionAlgorithm) throws -> [UInt8] {
        try Validation.encryption(keySpec, algorithm: algorithm)
        return try implementation.decrypt(ciphertext, algorithm: algorithm)
    }

    /// DeriveSharedSecret: the raw ECDH shared secret (the x-coordinate, curve-size bytes)
    /// with the peer's SubjectPublicKeyInfo, which must be on this key's curve.
    public func deriveSharedSecret(
        peerPublicKeyDER: [UInt8], algorithm: KeyAgreementAlgorithm = .ecdh
    ) throws -> [UInt8] {
        guard keySpec.validKeyUsages.contains(.keyAgreement) else {
            throw KMSCryptoError.incompatibleAlgorithm(keySpec: keySpec, algorithm: algorithm.rawValue)
        }
        return try implementation.deriveSharedSecret(peerPublicKeyDER: peerPublicKeyDER)
    }
}
