import KMSCrypto
import Testing

/// ML-DSA-44/65/87 against Python `cryptography` (OpenSSL 4): deterministic key derivation
/// from the seed, pure ML-DSA signatures with the empty context, and external μ.
@Suite struct MLDSATests {
    struct Vector: Sendable {
        let spec: KeySpec, pkcs8: String, spki: String, signature: String, mu: String, signatureLength: Int
    }

    static let vectors = [
        Vector(spec: .mlDSA44, pkcs8: Fixtures.mldsa44PKCS8, spki: Fixtures.mldsa44SPKI, signature: Fixtures.mldsa44Signature, mu: Fixtures.mldsa44Mu, signatureLength: 2420),
        Vector(spec: .mlDSA65, pkcs8: Fixtures.mldsa65PKCS8, spki: Fixtures.mldsa65SPKI, signature: Fixtures.mldsa65Signature, mu: Fixtures.mldsa65Mu, signatureLength: 3309),
        Vector(spec: .mlDSA87, pkcs8: Fixtures.mldsa87PKCS8, spki: Fixtures.mldsa87SPKI, signature: Fixtures.mldsa87Signature, mu: Fixtures.mldsa87Mu, signatureLength: 4627),
    ]

    @Test(arguments: vectors.indices)
    func seedDerivesPythonsPublicKey(_ index: Int) throws {
        let v = Self.vectors[index]
        let key = try AsymmetricPrivateKey(spec: v.spec, privateKeyBytes: [UInt8](hex: v.pkcs8))
        #expect(key.publicKeyDER.hex == v.spki)
    }

    @Test(arguments: vectors.indices)
    func pythonSignaturesVerifyRawAndExternalMu(_ index: Int) throws {
        let v = Self.vectors[index]
        let message = [UInt8](hex: Fixtures.message)
        let signature = [UInt8](hex: v.signature)
        let publicKey = try AsymmetricPublicKey(spec: v.spec, derRepresentation: [UInt8](hex: v.spki))
        #expect(try publicKey.verify(signature: signature, message: message, messageType: .raw, algorithm: .mlDSASHAKE256))
        #expect(try publicKey.verify(signature: signature, message: [UInt8](hex: v.mu), messageType: .externalMu, algorithm: .mlDSASHAKE256))
        #expect(try !publicKey.verify(signature: signature, message: message.flippingBit(at: 3), messageType: .raw, algorithm: .mlDSASHAKE256))
        #expect(try !publicKey.verify(signature: signature, message: [UInt8](hex: v.mu).flippingBit(at: 0), messageType: .externalMu, algorithm: .mlDSASHAKE256))
    }

    /// A signature over Python's μ(M) must be a valid pure signature over M: RAW and
    /// EXTERNAL_MU take different code paths (swift-crypto vs PureCrypto for 65/87).
    @Test(arguments: vectors.indices)
    func externalMuAndRawAreTheSameScheme(_ index: Int) throws {
        let v = Self.vectors[index]
        let key = try AsymmetricPrivateKey(spec: v.spec, privateKeyBytes: [UInt8](hex: v.pkcs8))
        let message = [UInt8](hex: Fixtures.message)
        let fromMu = try key.sign(message: [UInt8](hex: v.mu), messageType: .externalMu, algorithm: .mlDSASHAKE256)
        #expect(fromMu.count == v.signatureLength)
        #expect(try key.verify(signature: fromMu, message: message, messageType: .raw, algorithm: .mlDSASHAKE256))
        let fromRaw = try key.sign(message: message, messageType: .raw, algorithm: .mlDSASHAKE256)
        #expect(fromRaw.count == v.signatureLength)
        #expect(try key.verify(signature: fromRaw, message: [UInt8](hex: v.mu), messageType: .externalMu, algorithm: .mlDSASHAKE256))
        // Hedged signing: two signatures of one message differ.
        #expect(try key.sign(message: message, messageType: .raw, algorithm: .mlDSASHAKE256) != fromRaw)
    }

    /// Our PKCS#8 is the RFC 9881 seed-only form Python writes: byte-identical for one seed.
    @Test(arguments: vectors.indices)
    func pkcs8SeedFormMatchesPython(_ index: Int) throws {
        let v = Self.vectors[index]
        #expect(v.pkcs8.count == 2 * 54)
        let pair = try AsymmetricKeyPair.generate(v.spec)
        #expect(pair.privateKeyBytes.count == 54)
        #expect(Array(pair.privateKeyBytes.prefix(22)) == Array([UInt8](hex: v.pkcs8).prefix(22)))
        let reloaded = try AsymmetricPrivateKey(spec: v.spec, privateKeyBytes: pair.privateKeyBytes)
        #expect(reloaded.publicKeyDER == pair.publicKeyDER)
    }

    @Test func parameterSetMismatchIsRejected() throws {
        #expect(throws: KMSCryptoError.invalidPrivateKey) {
            try AsymmetricPrivateKey(spec: .mlDSA65, privateKeyBytes: [UInt8](hex: Fixtures.mldsa44PKCS8))
        }
        #expect(throws: KMSCryptoError.invalidPublicKey) {
            try AsymmetricPublicKey(spec: .mlDSA87, derRepresentation: [UInt8](hex: Fixtures.mldsa65SPKI))
        }
    }
}
