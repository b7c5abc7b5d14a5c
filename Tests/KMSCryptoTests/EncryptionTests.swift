import KMSCrypto
import Testing

/// RSAES_OAEP_SHA_1/256 and SM2PKE round trips, size limits and failures.
@Suite struct EncryptionTests {
    static let cases: [(KeySpec, EncryptionAlgorithm)] = [
        (.rsa2048, .rsaesOAEPSHA1), (.rsa2048, .rsaesOAEPSHA256), (.rsa3072, .rsaesOAEPSHA1),
        (.rsa3072, .rsaesOAEPSHA256), (.rsa4096, .rsaesOAEPSHA1), (.rsa4096, .rsaesOAEPSHA256), (.sm2, .sm2PKE),
    ]

    @Test(arguments: cases)
    func roundTripAtEverySize(spec: KeySpec, algorithm: EncryptionAlgorithm) throws {
        let key = try generatedKey(spec)
        let maximum = try #require(algorithm.maxPlaintextLength(for: spec))
        for length in [1, 17, maximum - 1, maximum] {
            let plaintext = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            let ciphertext = try key.encrypt(plaintext: plaintext, algorithm: algorithm)
            #expect(try key.decrypt(ciphertext: ciphertext, algorithm: algorithm) == plaintext)
            // Public-key-only encryption (as done outside KMS) decrypts too.
            let outside = try AsymmetricPublicKey(spec: spec, derRepresentation: key.publicKeyDER)
                .encrypt(plaintext: plaintext, algorithm: algorithm)
            #expect(outside != ciphertext)   // randomized
            #expect(try key.decrypt(ciphertext: outside, algorithm: algorithm) == plaintext)
        }
        #expect(throws: KMSCryptoError.plaintextTooLarge(maximum: maximum, actual: maximum + 1)) {
            try key.encrypt(plaintext: [UInt8](repeating: 1, count: maximum + 1), algorithm: algorithm)
        }
    }

    @Test(arguments: cases)
    func tamperedOrMisusedCiphertextFails(spec: KeySpec, algorithm: EncryptionAlgorithm) throws {
        let key = try generatedKey(spec)
        let ciphertext = try key.encrypt(plaintext: Array("secret".utf8), algorithm: algorithm)
        for index in [0, ciphertext.count / 2, ciphertext.count - 1] {
            #expect(throws: KMSCryptoError.invalidCiphertext) {
                try key.decrypt(ciphertext: ciphertext.flippingBit(at: index), algorithm: algorithm)
            }
        }
        #expect(throws: KMSCryptoError.invalidCiphertext) { try key.decrypt(ciphertext: [], algorithm: algorithm) }
        #expect(throws: KMSCryptoError.invalidCiphertext) { try key.decrypt(ciphertext: Array(ciphertext.dropLast()), algorithm: algorithm) }
        if let other = secondKeys[spec] {
            #expect(throws: KMSCryptoError.invalidCiphertext) { try other.decrypt(ciphertext: ciphertext, algorithm: algorithm) }
        }
        if algorithm == .rsaesOAEPSHA1 {
            #expect(throws: KMSCryptoError.invalidCiphertext) { try key.decrypt(ciphertext: ciphertext, algorithm: .rsaesOAEPSHA256) }
        }
        if algorithm == .rsaesOAEPSHA256 {
            // As AWS: a SHA-256 OAEP ciphertext also opens when RSAES_OAEP_SHA_1 is named (RSAKeys.swift).
            #expect(try key.decrypt(ciphertext: ciphertext, algorithm: .rsaesOAEPSHA1) == Array("secret".utf8))
        }
    }

    @Test func incompatibleAlgorithmsAreRejected() throws {
        let cases: [(KeySpec, EncryptionAlgorithm)] = [
            (.rsa2048, .sm2PKE), (.rsa2048, .symmetricDefault), (.sm2, .rsaesOAEPSHA256),
            (.eccNISTP256, .rsaesOAEPSHA1), (.eccNISTEdwards25519, .sm2PKE), (.mlDSA44, .rsaesOAEPSHA256),
        ]
        for (spec, algorithm) in cases {
            let key = try generatedKey(spec)
            #expect(throws: KMSCryptoError.incompatibleAlgorithm(keySpec: spec, algorithm: algorithm.rawValue)) {
                try key.encrypt(plaintext: [1], algorithm: algorithm)
            }
            #expect(throws: KMSCryptoError.incompatibleAlgorithm(keySpec: spec, algorithm: algorithm.rawValue)) {
                try key.decrypt(ciphertext: [1], algorithm: algorithm)
            }
        }
    }

    /// SM2PKE ciphertext is the GM/T 0009 DER SEQUENCE { x, y, C3 (32), C2 } AWS expects.
    @Test func sm2CiphertextIsASN1() throws {
        let plaintext = [UInt8](repeating: 0x42, count: 100)
        let ciphertext = try generatedKey(.sm2).encrypt(plaintext: plaintext, algorithm: .sm2PKE)
        #expect(ciphertext.first == 0x30)
        #expect(ciphertext.count > 32 + 64 + plaintext.count)
    }
}
