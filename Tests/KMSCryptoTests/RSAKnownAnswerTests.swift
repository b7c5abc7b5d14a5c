import KMSCrypto
import Testing

/// RSA against data made by Python `cryptography` (see Fixtures.swift).
@Suite struct RSAKnownAnswerTests {
    struct Vector: Sendable {
        let spec: KeySpec, pkcs8: String, spki: String
        let pkcs1: [(SigningAlgorithm, String)], pss: [(SigningAlgorithm, String)]
        let oaepPlaintext: String, oaepSHA1: String, oaepSHA256: String
    }

    static let vectors = [
        Vector(spec: .rsa2048, pkcs8: Fixtures.rsa2048PKCS8, spki: Fixtures.rsa2048SPKI,
               pkcs1: [(.rsassaPKCS1v15SHA256, Fixtures.rsa2048PKCS1SHA256), (.rsassaPKCS1v15SHA384, Fixtures.rsa2048PKCS1SHA384),
                       (.rsassaPKCS1v15SHA512, Fixtures.rsa2048PKCS1SHA512)],
               pss: [(.rsassaPSSSHA256, Fixtures.rsa2048PSSSHA256), (.rsassaPSSSHA384, Fixtures.rsa2048PSSSHA384),
                     (.rsassaPSSSHA512, Fixtures.rsa2048PSSSHA512)],
               oaepPlaintext: Fixtures.rsa2048OAEPPlaintext, oaepSHA1: Fixtures.rsa2048OAEPSHA1, oaepSHA256: Fixtures.rsa2048OAEPSHA256),
        Vector(spec: .rsa3072, pkcs8: Fixtures.rsa3072PKCS8, spki: Fixtures.rsa3072SPKI,
               pkcs1: [(.rsassaPKCS1v15SHA256, Fixtures.rsa3072PKCS1SHA256), (.rsassaPKCS1v15SHA384, Fixtures.rsa3072PKCS1SHA384),
                       (.rsassaPKCS1v15SHA512, Fixtures.rsa3072PKCS1SHA512)],
               pss: [(.rsassaPSSSHA256, Fixtures.rsa3072PSSSHA256), (.rsassaPSSSHA384, Fixtures.rsa3072PSSSHA384),
                     (.rsassaPSSSHA512, Fixtures.rsa3072PSSSHA512)],
               oaepPlaintext: Fixtures.rsa3072OAEPPlaintext, oaepSHA1: Fixtures.rsa3072OAEPSHA1, oaepSHA256: Fixtures.rsa3072OAEPSHA256),
    ]

    @Test func pythonKeysLoadAndExportTheSamePublicKey() throws {
        for v in Self.vectors {
            let key = try AsymmetricPrivateKey(spec: v.spec, privateKeyBytes: [UInt8](hex: v.pkcs8))
            #expect(key.publicKeyDER.hex == v.spki)
        }
    }

    /// PKCS #1 v1.5 is deterministic: our signature must equal Python's byte for byte.
    @Test func pkcs1SignaturesMatchByteForByte() throws {
        let message = [UInt8](hex: Fixtures.message)
        for v in Self.vectors {
            let key = try AsymmetricPrivateKey(spec: v.spec, privateKeyBytes: [UInt8](hex: v.pkcs8))
            for (algorithm, expected) in v.pkcs1 {
                #expect(try key.sign(message: message, messageType: .raw, algorithm: algorithm).hex == expected)
                #expect(try key.verify(signature: [UInt8](hex: expected), message: message, messageType: .raw, algorithm: algorithm))
            }
        }
    }

    @Test func pythonPSSSignaturesVerify() throws {
        let message = [UInt8](hex: Fixtures.message)
        for v in Self.vectors {
            let publicKey = try AsymmetricPublicKey(spec: v.spec, derRepresentation: [UInt8](hex: v.spki))
            for (algorithm, signature) in v.pss {
                #expect(try publicKey.verify(signature: [UInt8](hex: signature), message: message, messageType: .raw, algorithm: algorithm))
                // A PSS signature is not a PKCS #1 v1.5 one, and the hash is bound.
                #expect(try !publicKey.verify(signature: [UInt8](hex: signature), message: message, messageType: .raw, algorithm: .rsassaPKCS1v15SHA256))
            }
            #expect(try !publicKey.verify(signature: [UInt8](hex: v.pss[0].1), message: message, messageType: .raw, algorithm: .rsassaPSSSHA384))
        }
    }

    @Test func pythonOAEPCiphertextsDecrypt() throws {
        for v in Self.vectors {
            let key = try AsymmetricPrivateKey(spec: v.spec, privateKeyBytes: [UInt8](hex: v.pkcs8))
            #expect(try key.decrypt(ciphertext: [UInt8](hex: v.oaepSHA1), algorithm: .rsaesOAEPSHA1).hex == v.oaepPlaintext)
            #expect(try key.decrypt(ciphertext: [UInt8](hex: v.oaepSHA256), algorithm: .rsaesOAEPSHA256).hex == v.oaepPlaintext)
        }
    }

    @Test func wrongSizeKeyIsRejected() throws {
        #expect(throws: KMSCryptoError.invalidPrivateKey) {
            try AsymmetricPrivateKey(spec: .rsa4096, privateKeyBytes: [UInt8](hex: Fixtures.rsa2048PKCS8))
        }
        #expect(throws: KMSCryptoError.invalidPublicKey) {
            try AsymmetricPublicKey(spec: .rsa3072, derRepresentation: [UInt8](hex: Fixtures.rsa2048SPKI))
        }
    }
}
