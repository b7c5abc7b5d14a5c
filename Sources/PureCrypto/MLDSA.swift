// The public ML-DSA API (FIPS 204): keys from 32-byte seeds, the pure signing interface
// with a context string, and the external-μ interface AWS KMS calls EXTERNAL_MU.

/// An ML-DSA private key, held as its 32-byte seed ξ plus the expanded values signing uses.
public struct MLDSAPrivateKey: Sendable {
    public let parameterSet: MLDSAParameterSet
    /// The seed ξ this key was generated from (the form KMS stores and exports).
    public let seed: [UInt8]
    public let publicKey: MLDSAPublicKey
    let expanded: MLDSAExpandedPrivateKey

    /// ML-DSA.KeyGen_internal(ξ). Throws when the seed is not 32 bytes.
    public init(seed: [UInt8], parameterSet: MLDSAParameterSet) throws(PureCryptoError) {
        guard seed.count == 32 else { throw .invalidSeedLength(expected: 32, actual: seed.count) }
        self.init(checkedSeed: seed, parameterSet: parameterSet)
    }

    private init(checkedSeed seed: [UInt8], parameterSet: MLDSAParameterSet) {
        self.parameterSet = parameterSet
        self.seed = seed
        expanded = MLDSAExpandedPrivateKey(seed: seed, parameters: parameterSet.parameters)
        publicKey = MLDSAPublicKey(expandedFrom: expanded, parameterSet: parameterSet)
    }

    /// ML-DSA.KeyGen with a fresh seed from the system CSPRNG.
    public static func generate(parameterSet: MLDSAParameterSet) -> MLDSAPrivateKey {
        MLDSAPrivateKey(checkedSeed: SecureRandom.bytes(count: 32), parameterSet: parameterSet)
    }

    /// Hedged ML-DSA.Sign over M' = 0 || |ctx| || ctx || message. Throws when the context exceeds 255 bytes.
    public func signature(for message: [UInt8], context: [UInt8] = []) throws(PureCryptoError) -> [UInt8] {
        try signature(for: message, context: context, randomness: SecureRandom.bytes(count: 32))
    }

    /// Hedged signing of an externally computed μ = SHAKE256(tr || M', 64) (KMS EXTERNAL_MU).
    /// Throws when μ is not 64 bytes.
    public func signature(forMu mu: [UInt8]) throws(PureCryptoError) -> [UInt8] {
        try signature(forMu: mu, randomness: SecureRandom.bytes(count: 32))
    }

    /// The expanded private key encoding skEncode (FIPS 204 Algorithm 24).
    var expandedRepresentation: [UInt8] { expanded.encoded }

    /// Signing with caller-chosen rnd; 32 zero bytes gives the deterministic variant.
    func signature(for message: [UInt8], context: [UInt8], randomness: [UInt8]) throws(PureCryptoError) -> [UInt8] {
        let mu = try MLDSAMessage.mu(tr: expanded.tr, message: message, context: context)
        return try signature(forMu: mu, randomness: randomness)
    }

    func signature(forMu mu: [UInt8], randomness: [UInt8]) throws(PureCryptoError) -> [UInt8] {
        guard mu.count == 64 else { throw .invalidMuLength(actual: mu.count) }
        return try expanded.sign(mu: mu, randomness: randomness)
    }

    /// Deterministic ML-DSA.Sign (rnd = 0^32), for known-answer tests.
    func deterministicSignature(for message: [UInt8], context: [UInt8] = []) throws(PureCryptoError) -> [UInt8] {
        try signature(for: message, context: context, randomness: [UInt8](repeating: 0, count: 32))
    }

    /// Deterministic signing of an external μ, for known-answer tests.
    func deterministicSignature(forMu mu: [UInt8]) throws(PureCryptoError) -> [UInt8] {
        try signature(forMu: mu, randomness: [UInt8](repeating: 0, count: 32))
    }
}

/// An ML-DSA public key (pkEncode form) with the matrix and tr precomputed for verification.
public struct MLDSAPublicKey: Sendable, Equatable {
    public let parameterSet: MLDSAParameterSet
    /// pkEncode(ρ, t1): 1312, 1952 or 2592 bytes.
    public let rawRepresentation: [UInt8]
    let expanded: MLDSAExpandedPublicKey

    /// Decodes a public key; any bit string of the parameter set's length is valid.
    public init(rawRepresentation: [UInt8], parameterSet: MLDSAParameterSet) throws(PureCryptoError) {
        let parameters = parameterSet.parameters
        guard rawRepresentation.count == parameters.publicKeyByteCount else {
            throw .invalidPublicKeyLength(expected: parameters.publicKeyByteCount, actual: rawRepresentation.count)
        }
        self.parameterSet = parameterSet
        self.rawRepresentation = rawRepresentation
        expanded = MLDSAExpandedPublicKey(encoded: rawRepresentation, parameters: parameters)
    }

    init(expandedFrom key: MLDSAExpandedPrivateKey, parameterSet: MLDSAParameterSet) {
        self.parameterSet = parameterSet
        rawRepresentation = key.encodedPublicKey
        expanded = MLDSAExpandedPublicKey(parameters: key.parameters, tr: key.tr, matrix: key.matrix, t1: key.t1)
    }

    /// ML-DSA.Verify over M' = 0 || |ctx| || ctx || message; false for any malformed input,
    /// including a context longer than 255 bytes.
    public func isValidSignature(_ signature: [UInt8], for message: [UInt8], context: [UInt8] = []) -> Bool {
        guard let mu = try? MLDSAMessage.mu(tr: expanded.tr, message: message, context: context) else { return false }
        return expanded.verify(signature: signature, mu: mu)
    }

    /// Verification against an externally computed 64-byte μ; false when μ has another length.
    public func isValidSignature(_ signature: [UInt8], forMu mu: [UInt8]) -> Bool {
        expanded.verify(signature: signature, mu: mu)
    }

    /// μ = SHAKE256(tr || 0 || |ctx| || ctx || message, 64) with tr = SHAKE256(pk, 64):
    /// what a client computes for EXTERNAL_MU. Throws when the context exceeds 255 bytes.
    public func mu(for message: [UInt8], context: [UInt8] = []) throws(PureCryptoError) -> [UInt8] {
        try MLDSAMessage.mu(tr: expanded.tr, message: message, context: context)
    }

    public static func == (lhs: MLDSAPublicKey, rhs: MLDSAPublicKey) -> Bool {
        lhs.parameterSet == rhs.parameterSet && lhs.rawRepresentation == rhs.rawRepresentation
    }
}

/// Keeps the seed out of string interpolation, `print`, `dump` and debugger summaries:
/// key material must never reach a log line.
extension MLDSAPrivateKey: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "MLDSAPrivateKey(\(parameterSet), seed: <redacted>)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["parameterSet": parameterSet], displayStyle: .struct) }
}
