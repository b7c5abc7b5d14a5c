/// Failures of KMSCrypto operations. Associated values are names and lengths only: no
/// key material, plaintext or backend error strings ever appear in an error.
public enum KMSCryptoError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The key spec cannot be used with this API (e.g. SYMMETRIC_DEFAULT given to
    /// `AsymmetricKeyPair.generate`, or an HMAC spec to `AsymmetricPrivateKey`).
    case unsupportedKeySpec(KeySpec)
    /// The signing/encryption/MAC/key-agreement algorithm is not one this key spec supports.
    case incompatibleAlgorithm(keySpec: KeySpec, algorithm: String)
    /// The algorithm does not accept this MessageType (e.g. DIGEST with ED25519_SHA_512).
    case unsupportedMessageType(algorithm: SigningAlgorithm, messageType: MessageType)
    /// A DIGEST or EXTERNAL_MU message whose length is not the algorithm's hash length.
    case invalidMessageLength(messageType: MessageType, expected: Int, actual: Int)
    /// Plaintext longer than the algorithm allows for this key (RSA OAEP, SM2PKE).
    case plaintextTooLarge(maximum: Int, actual: Int)
    /// Decryption failed: malformed ciphertext, wrong key or wrong algorithm.
    case invalidCiphertext
    /// The peer public key for key agreement is not a valid SPKI on the key's curve.
    case invalidPeerPublicKey
    /// A public key (SPKI) given to `AsymmetricPublicKey` could not be parsed for the spec.
    case invalidPublicKey
    /// The stored private key bytes are malformed or do not belong to the key spec.
    case invalidPrivateKey
    /// A MAC key of the wrong length for the HMAC key spec.
    case invalidMacKey
    /// The crypto backend failed unexpectedly; the string names the failing call.
    case backendFailure(String)

    public var description: String {
        switch self {
        case .unsupportedKeySpec(let spec):
            return "Key spec \(spec.rawValue) is not supported by this operation"
        case .incompatibleAlgorithm(let spec, let algorithm):
            return "Algorithm \(algorithm) is not compatible with key spec \(spec.rawValue)"
        case .unsupportedMessageType(let algorithm, let messageType):
            return "Signing algorithm \(algorithm.rawValue) does not support MessageType \(messageType.rawValue)"
        case .invalidMessageLength(let messageType, let expected, let actual):
            return "Message of MessageType \(messageType.rawValue) must be \(expected) bytes, got \(actual)"
        case .plaintextTooLarge(let maximum, let actual):
            return "Plaintext is \(actual) bytes; the maximum for this key and algorithm is \(maximum)"
        case .invalidCiphertext:
            return "The ciphertext is invalid for this key and algorithm"
        case .invalidPeerPublicKey:
            return "The peer public key is not a valid public key on this key's curve"
        case .invalidPublicKey:
            return "The public key is malformed or does not match the key spec"
        case .invalidPrivateKey:
            return "The stored private key is malformed or does not match the key spec"
        case .invalidMacKey:
            return "The MAC key has the wrong length for the key spec"
        case .backendFailure(let function):
            return "Cryptographic backend failure in \(function)"
        }
    }
}
