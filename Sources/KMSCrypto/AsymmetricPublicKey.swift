/// An asymmetric public key: verification and public-key encryption without the private
/// key (e.g. a peer's key, or checking KMS's own output the way an outside party would).
public struct AsymmetricPublicKey: Sendable {
    public let keySpec: KeySpec
    let implementation: any PublicKeyImplementation

    /// Parses a DER SubjectPublicKeyInfo of the given spec; `invalidPublicKey` otherwise.
    public init(spec: KeySpec, derRepresentation: [UInt8]) throws {
        guard spec.isAsymmetric else { throw KMSCryptoError.unsupportedKeySpec(spec) }
        implementation = try KeyFactory.publicKey(spec, spki: derRepresentation)
        keySpec = spec
    }

    init(implementation: any PublicKeyImplementation) {
        self.implementation = implementation
        keySpec = implementation.spec
    }

    /// SubjectPublicKeyInfo DER.
    public var derRepresentation: [UInt8] { implementation.spki }

    /// Throws only for an invalid request (algorithm, MessageType, digest length); an
    /// invalid or malformed signature is `false`.
    public func verify(
        signature: [UInt8], message: [UInt8], messageType: MessageType, algorithm: SigningAlgorithm
    ) throws -> Bool {
        try Validation.signing(keySpec, algorithm: algorithm, message: message, messageType: messageType)
        return implementation.verify(signature: signature, message: message, messageType: messageType, algorithm: algorithm)
    }

    /// Encrypts; `plaintextTooLarge` past AWS's documented limit for the key and algorithm.
    public func encrypt(plaintext: [UInt8], algorithm: EncryptionAlgorithm) throws -> [UInt8] {
        try Validation.encryption(keySpec, algorithm: algorithm)
        if let maximum = algorithm.maxPlaintextLength(for: keySpec), plaintext.count > maximum {
            throw KMSCryptoError.plaintextTooLarge(maximum: maximum, actual: plaintext.count)
        }
        return try implementation.encrypt(plaintext, algorithm: algorithm)
    }
}

/// The request checks shared by private- and public-key operations.
enum Validation {
    static func signing(_ spec: KeySpec, algorithm: SigningAlgorithm, message: [UInt8], messageType: MessageType) throws {
        guard spec.signingAlgorithms(for: .signVerify).contains(algorithm) else {
            throw KMSCryptoError.incompatibleAlgorithm(keySpec: spec, algorithm: algorithm.rawValue)
        }
        try algorithm.validate(message: message, messageType: messageType)
    }

    static func encryption(_ spec: KeySpec, algorithm: EncryptionAlgorithm) throws {
        guard algorithm != .symmetricDefault, spec.encryptionAlgorithms(for: .encryptDecrypt).contains(algorithm) else {
            throw KMSCryptoError.incompatibleAlgorithm(keySpec: spec, algorithm: algorithm.rawValue)
        }
    }
}
