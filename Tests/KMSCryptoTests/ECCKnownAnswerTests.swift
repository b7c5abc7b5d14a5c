import Crypto
import KMSCrypto
import Testing

/// ECDSA and ECDH against data made by Python `cryptography` (see Fixtures.swift).
@Suite struct ECCKnownAnswerTests {
    struct Vector: Sendable {
        let spec: KeySpec, algorithm: SigningAlgorithm, pkcs8: String, spki: String, signature: String
    }

    static let vectors = [
        Vector(spec: .eccNISTP256, algorithm: .ecdsaSHA256, pkcs8: Fixtures.p256PKCS8, spki: Fixtures.p256SPKI, signature: Fixtures.p256Signature),
        Vector(spec: .eccNISTP384, algorithm: .ecdsaSHA384, pkcs8: Fixtures.p384PKCS8, spki: Fixtures.p384SPKI, signature: Fixtures.p384Signature),
        Vector(spec: .eccNISTP521, algorithm: .ecdsaSHA512, pkcs8: Fixtures.p521PKCS8, spki: Fixtures.p521SPKI, signature: Fixtures.p521Signature),
        Vector(spec: .eccSECGP256K1, algorithm: .ecdsaSHA256, pkcs8: Fixtures.k1PKCS8, spki: Fixtures.k1SPKI, signature: Fixtures.k1Signature),
    ]

    static func digest(_ message: [UInt8], _ algorithm: SigningAlgorithm) -> [UInt8] {
        switch algorithm {
        case .ecdsaSHA384: return Array(SHA384.hash(data: message))
        case .ecdsaSHA512: return Array(SHA512.hash(data: message))
        default: return Array(SHA256.hash(data: message))
        }
    }

    @Test(arguments: vectors.indices)
    func pythonSignaturesVerify(_ index: Int) throws {
        let v = Self.vectors[index]
        let message = [UInt8](hex: Fixtures.message)
        let signature = [UInt8](hex: v.signature)
        let publicKey = try AsymmetricPublicKey(spec: v.spec, derRepresentation: [UInt8](hex: v.spki))
        #expect(try publicKey.verify(signature: signature, message: message, messageType: .raw, algorithm: v.algorithm))
        #expect(try publicKey.verify(signature: signature, message: Self.digest(message, v.algorithm), messageType: .digest, algorithm: v.algorithm))
        #expect(try !publicKey.verify(signature: signature, message: message + [0], messageType: .raw, algorithm: v.algorithm))
        #expect(try !publicKey.verify(signature: signature.flippingBit(at: signature.count - 1), message: message, messageType: .raw, algorithm: v.algorithm))
    }

    @Test(arguments: vectors.indices)
    func pythonKeysLoadSignAndExportTheSamePublicKey(_ index: Int) throws {
        let v = Self.vectors[index]
        let key = try AsymmetricPrivateKey(spec: v.spec, privateKeyBytes: [UInt8](hex: v.pkcs8))
        #expect(key.publicKeyDER.hex == v.spki)
        let message = [UInt8](hex: Fixtures.message)
        let signature = try key.sign(message: message, messageType: .raw, algorithm: v.algorithm)
        // Verified through the Python-made SPKI, i.e. independently of our key object.
        let publicKey = try AsymmetricPublicKey(spec: v.spec, derRepresentation: [UInt8](hex: v.spki))
        #expect(try publicKey.verify(signature: signature, message: message, messageType: .raw, algorithm: v.algorithm))
    }

    @Test func curveMismatchIsRejectedOnLoad() throws {
        #expect(throws: KMSCryptoError.invalidPrivateKey) {
            try AsymmetricPrivateKey(spec: .eccNISTP384, privateKeyBytes: [UInt8](hex: Fixtures.p256PKCS8))
        }
        #expect(throws: KMSCryptoError.invalidPrivateKey) {
            try AsymmetricPrivateKey(spec: .eccNISTP256, privateKeyBytes: [UInt8](hex: Fixtures.k1PKCS8))
        }
        #expect(throws: KMSCryptoError.invalidPrivateKey) {
            try AsymmetricPrivateKey(spec: .eccSECGP256K1, privateKeyBytes: [UInt8](hex: Fixtures.p256PKCS8))
        }
        #expect(throws: KMSCryptoError.invalidPublicKey) {
            try AsymmetricPublicKey(spec: .eccSECGP256K1, derRepresentation: [UInt8](hex: Fixtures.p256SPKI))
        }
        #expect(throws: KMSCryptoError.invalidPrivateKey) {
            try AsymmetricPrivateKey(spec: .eccNISTP256, privateKeyBytes: [1, 2, 3])
        }
    }

    @Test(arguments: [
        (KeySpec.eccNISTP256, Fixtures.p256PKCS8, Fixtures.p256PeerSPKI, Fixtures.p256SharedSecret),
        (.eccNISTP384, Fixtures.p384PKCS8, Fixtures.p384PeerSPKI, Fixtures.p384SharedSecret),
        (.eccNISTP521, Fixtures.p521PKCS8, Fixtures.p521PeerSPKI, Fixtures.p521SharedSecret),
        (.eccNISTP256, Fixtures.p256PKCS8, Fixtures.p256PeerCompressedPointSPKI, Fixtures.p256CompressedSharedSecret),
    ])
    func ecdhMatchesPython(spec: KeySpec, pkcs8: String, peer: String, secret: String) throws {
        let key = try AsymmetricPrivateKey(spec: spec, privateKeyBytes: [UInt8](hex: pkcs8))
        #expect(try key.deriveSharedSecret(peerPublicKeyDER: [UInt8](hex: peer)).hex == secret)
    }
}
