import Crypto
import KMSCrypto
import Testing

/// Sign/Verify round trips for every spec × algorithm × MessageType AWS allows, with
/// tamper checks, plus every rejected combination.
@Suite struct SigningTests {
    /// A message or digest of the right shape for the case.
    static func message(for c: SigningCase) -> [UInt8] {
        let raw = Array("round trip \(c.testDescription)".utf8)
        switch c.messageType {
        case .raw: return raw
        case .digest: return [UInt8](repeating: 0xA5, count: c.algorithm.requiredMessageLength(for: .digest) ?? 0)
        case .externalMu: return [UInt8](repeating: 0x5A, count: 64)
        }
    }

    @Test(arguments: SigningCase.all)
    func roundTrip(_ c: SigningCase) throws {
        let key = try generatedKey(c.spec)
        let message = Self.message(for: c)
        let signature = try key.sign(message: message, messageType: c.messageType, algorithm: c.algorithm)
        #expect(try key.verify(signature: signature, message: message, messageType: c.messageType, algorithm: c.algorithm))

        // The public key alone (as GetPublicKey hands it out) verifies too.
        let publicKey = try AsymmetricPublicKey(spec: c.spec, derRepresentation: key.publicKeyDER)
        #expect(try publicKey.verify(signature: signature, message: message, messageType: c.messageType, algorithm: c.algorithm))

        // Tampering with the signature, the message, or using another key fails.
        for index in [0, signature.count / 2, signature.count - 1] {
            #expect(try !key.verify(signature: signature.flippingBit(at: index), message: message, messageType: c.messageType, algorithm: c.algorithm))
        }
        #expect(try !key.verify(signature: signature, message: message.flippingBit(at: 0), messageType: c.messageType, algorithm: c.algorithm))
        #expect(try !key.verify(signature: Array(signature.dropLast()), message: message, messageType: c.messageType, algorithm: c.algorithm))
        #expect(try !key.verify(signature: [], message: message, messageType: c.messageType, algorithm: c.algorithm))
        if let other = secondKeys[c.spec] {
            #expect(try !other.verify(signature: signature, message: message, messageType: c.messageType, algorithm: c.algorithm))
        }
    }

    /// DIGEST of H(m) and RAW of m are the same signature input for the hash-then-sign schemes.
    @Test(arguments: [
        (KeySpec.rsa2048, SigningAlgorithm.rsassaPSSSHA256), (.rsa2048, .rsassaPKCS1v15SHA384),
        (.rsa3072, .rsassaPSSSHA512), (.eccNISTP256, .ecdsaSHA256), (.eccNISTP384, .ecdsaSHA384),
        (.eccNISTP521, .ecdsaSHA512), (.eccSECGP256K1, .ecdsaSHA256),
    ])
    func rawAndDigestAgree(spec: KeySpec, algorithm: SigningAlgorithm) throws {
        let key = try generatedKey(spec)
        let message = Array("raw vs digest".utf8)
        let digest: [UInt8]
        switch algorithm {
        case .rsassaPSSSHA256, .ecdsaSHA256: digest = Array(SHA256.hash(data: message))
        case .rsassaPKCS1v15SHA384, .ecdsaSHA384: digest = Array(SHA384.hash(data: message))
        default: digest = Array(SHA512.hash(data: message))
        }
        let rawSignature = try key.sign(message: message, messageType: .raw, algorithm: algorithm)
        #expect(try key.verify(signature: rawSignature, message: digest, messageType: .digest, algorithm: algorithm))
        let digestSignature = try key.sign(message: digest, messageType: .digest, algorithm: algorithm)
        #expect(try key.verify(signature: digestSignature, message: message, messageType: .raw, algorithm: algorithm))
        // Hashing twice (DIGEST bytes given as RAW) is a different input.
        #expect(try !key.verify(signature: digestSignature, message: digest, messageType: .raw, algorithm: algorithm))
    }

    @Test func ecdsaSignaturesAreDER() throws {
        for spec in [KeySpec.eccNISTP256, .eccNISTP384, .eccNISTP521, .eccSECGP256K1] {
            let algorithm = spec.signingAlgorithms(for: .signVerify)[0]
            let signature = try generatedKey(spec).sign(message: [1, 2, 3], messageType: .raw, algorithm: algorithm)
            #expect(signature.first == 0x30)   // SEQUENCE { r INTEGER, s INTEGER }
            #expect(signature.count >= 8 && signature.count <= 139)
        }
    }

    @Test func rsaSignatureHasModulusLength() throws {
        for spec in [KeySpec.rsa2048, .rsa3072, .rsa4096] {
            let signature = try generatedKey(spec).sign(message: [1], messageType: .raw, algorithm: .rsassaPSSSHA384)
            #expect(signature.count == (spec.rsaModulusBits ?? 0) / 8)
        }
    }

    // MARK: - Rejected requests

    @Test func algorithmFromAnotherSpecIsRejected() throws {
        let cases: [(KeySpec, SigningAlgorithm)] = [
            (.eccNISTP256, .ecdsaSHA384), (.eccNISTP384, .ecdsaSHA256), (.eccSECGP256K1, .ecdsaSHA512),
            (.rsa2048, .ecdsaSHA256), (.eccNISTP256, .rsassaPSSSHA256), (.sm2, .ecdsaSHA256),
            (.eccNISTEdwards25519, .ecdsaSHA512), (.mlDSA65, .ed25519SHA512), (.eccNISTP521, .sm2DSA),
        ]
        for (spec, algorithm) in cases {
            let key = try generatedKey(spec)
            #expect(throws: KMSCryptoError.incompatibleAlgorithm(keySpec: spec, algorithm: algorithm.rawValue)) {
                try key.sign(message: [1], messageType: .raw, algorithm: algorithm)
            }
            #expect(throws: KMSCryptoError.incompatibleAlgorithm(keySpec: spec, algorithm: algorithm.rawValue)) {
                try key.verify(signature: [1], message: [1], messageType: .raw, algorithm: algorithm)
            }
        }
    }

    @Test func unsupportedMessageTypesAreRejected() throws {
        let cases: [(KeySpec, SigningAlgorithm, MessageType)] = [
            (.eccNISTEdwards25519, .ed25519SHA512, .digest), (.eccNISTEdwards25519, .ed25519PHSHA512, .raw),
            (.eccNISTEdwards25519, .ed25519SHA512, .externalMu), (.mlDSA44, .mlDSASHAKE256, .digest),
            (.mlDSA87, .mlDSASHAKE256, .digest), (.rsa2048, .rsassaPKCS1v15SHA256, .externalMu),
            (.eccNISTP256, .ecdsaSHA256, .externalMu), (.sm2, .sm2DSA, .externalMu),
        ]
        for (spec, algorithm, messageType) in cases {
            let key = try generatedKey(spec)
            let message = [UInt8](repeating: 1, count: 64)
            #expect(throws: KMSCryptoError.unsupportedMessageType(algorithm: algorithm, messageType: messageType)) {
                try key.sign(message: message, messageType: messageType, algorithm: algorithm)
            }
            #expect(throws: KMSCryptoError.unsupportedMessageType(algorithm: algorithm, messageType: messageType)) {
                try key.verify(signature: [1], message: message, messageType: messageType, algorithm: algorithm)
            }
        }
    }

    @Test func wrongDigestLengthsAreRejected() throws {
        let cases: [(KeySpec, SigningAlgorithm, MessageType, Int)] = [
            (.eccNISTP256, .ecdsaSHA256, .digest, 32), (.eccNISTP384, .ecdsaSHA384, .digest, 48),
            (.eccNISTP521, .ecdsaSHA512, .digest, 64), (.rsa2048, .rsassaPSSSHA384, .digest, 48),
            (.rsa2048, .rsassaPKCS1v15SHA512, .digest, 64), (.sm2, .sm2DSA, .digest, 32),
            (.eccNISTEdwards25519, .ed25519PHSHA512, .digest, 64), (.mlDSA65, .mlDSASHAKE256, .externalMu, 64),
            (.eccSECGP256K1, .ecdsaSHA256, .digest, 32),
        ]
        for (spec, algorithm, messageType, expected) in cases {
            let key = try generatedKey(spec)
            for actual in [0, expected - 1, expected + 1] {
                #expect(throws: KMSCryptoError.invalidMessageLength(messageType: messageType, expected: expected, actual: actual)) {
                    try key.sign(message: [UInt8](repeating: 7, count: actual), messageType: messageType, algorithm: algorithm)
                }
            }
        }
    }

    @Test func emptyRawMessagesAreSignable() throws {
        for c in SigningCase.all where c.messageType == .raw {
            let key = try generatedKey(c.spec)
            let signature = try key.sign(message: [], messageType: .raw, algorithm: c.algorithm)
            #expect(try key.verify(signature: signature, message: [], messageType: .raw, algorithm: c.algorithm))
        }
    }
}
