/// What each key family (RSA, NIST ECC, secp256k1, SM2, Ed25519, ML-DSA) implements.
/// `AsymmetricPrivateKey` / `AsymmetricPublicKey` check algorithm/spec compatibility and
/// message shape before calling in, so implementations may assume a valid combination.
protocol PrivateKeyImplementation: Sendable {
    var spec: KeySpec { get }
    var publicKey: any PublicKeyImplementation { get }
    /// PKCS#8 PrivateKeyInfo DER: the bytes the core stores and GenerateDataKeyPair returns.
    func pkcs8() throws -> [UInt8]
    func sign(message: [UInt8], messageType: MessageType, algorithm: SigningAlgorithm) throws -> [UInt8]
    func decrypt(_ ciphertext: [UInt8], algorithm: EncryptionAlgorithm) throws -> [UInt8]
    func deriveSharedSecret(peerPublicKeyDER: [UInt8]) throws -> [UInt8]
}

protocol PublicKeyImplementation: Sendable {
    var spec: KeySpec { get }
    /// SubjectPublicKeyInfo DER.
    var spki: [UInt8] { get }
    /// False for any invalid or malformed signature.
    func verify(signature: [UInt8], message: [UInt8], messageType: MessageType, algorithm: SigningAlgorithm) -> Bool
    func encrypt(_ plaintext: [UInt8], algorithm: EncryptionAlgorithm) throws -> [UInt8]
}

// Defaults for the operations a family does not have; unreachable after the checks in
// AsymmetricPrivateKey, but they fail closed if ever reached.
extension PrivateKeyImplementation {
    func sign(message: [UInt8], messageType: MessageType, algorithm: SigningAlgorithm) throws -> [UInt8] {
        throw KMSCryptoError.incompatibleAlgorithm(keySpec: spec, algorithm: algorithm.rawValue)
    }

    func decrypt(_ ciphertext: [UInt8], algorithm: EncryptionAlgorithm) throws -> [UInt8] {
        throw KMSCryptoError.incompatibleAlgorithm(keySpec: spec, algorithm: algorithm.rawValue)
    }

    func deriveSharedSecret(peerPublicKeyDER: [UInt8]) throws -> [UInt8] {
        throw KMSCryptoError.incompatibleAlgorithm(keySpec: spec, algorithm: KeyAgreementAlgorithm.ecdh.rawValue)
    }
}

extension PublicKeyImplementation {
    func verify(signature: [UInt8], message: [UInt8], messageType: MessageType, algorithm: SigningAlgorithm) -> Bool {
        false
    }

    func encrypt(_ plaintext: [UInt8], algorithm: EncryptionAlgorithm) throws -> [UInt8] {
        throw KMSCryptoError.incompatibleAlgorithm(keySpec: spec, algorithm: algorithm.rawValue)
    }
}

extension SigningAlgorithm {
    /// The digest the signature primitive works on: the hash of a RAW message, or a
    /// DIGEST message as given.
    func digest(of message: [UInt8], messageType: MessageType) throws -> [UInt8] {
        if messageType == .digest { return message }
        guard let hash else { throw KMSCryptoError.unsupportedMessageType(algorithm: self, messageType: messageType) }
        return try hash.hash(message)
    }
}
