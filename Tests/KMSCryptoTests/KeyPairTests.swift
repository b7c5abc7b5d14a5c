import KMSCrypto
import Testing

/// Generation, storage round trips, DER shapes and data key pairs.
@Suite struct KeyPairTests {
    static let asymmetricSpecs = KeySpec.allCases.filter(\.isAsymmetric)

    @Test(arguments: asymmetricSpecs)
    func storedBytesRoundTrip(spec: KeySpec) throws {
        let pair = try #require(generatedKeys[spec])
        #expect(pair.keySpec == spec)
        #expect(pair.pkcs8 == pair.privateKeyBytes)
        #expect(pair.privateKey.publicKeyDER == pair.publicKeyDER)
        let reloaded = try AsymmetricPrivateKey(spec: spec, privateKeyBytes: pair.privateKeyBytes)
        #expect(reloaded.keySpec == spec)
        #expect(reloaded.publicKeyDER == pair.publicKeyDER)
        // Keys are fresh each time.
        if let second = secondKeys[spec] { #expect(second.publicKeyDER != pair.publicKeyDER) }
        // PKCS#8 PrivateKeyInfo: SEQUENCE { INTEGER 0, ... }.
        #expect(pair.privateKeyBytes.first == 0x30)
        #expect(pair.publicKeyDER.first == 0x30)
        #expect(try AsymmetricPublicKey(spec: spec, derRepresentation: pair.publicKeyDER).derRepresentation == pair.publicKeyDER)
    }

    /// The SPKI AlgorithmIdentifier each spec must carry (GetPublicKey).
    @Test func spkiAlgorithmIdentifiers() throws {
        let expected: [KeySpec: String] = [
            .rsa2048: "300d06092a864886f70d0101010500",                               // rsaEncryption, NULL
            .eccNISTP256: "301306072a8648ce3d020106082a8648ce3d030107",               // id-ecPublicKey, prime256v1
            .eccNISTP384: "301006072a8648ce3d020106052b81040022",                     // secp384r1
            .eccNISTP521: "301006072a8648ce3d020106052b81040023",                     // secp521r1
            .eccSECGP256K1: "301006072a8648ce3d020106052b8104000a",                   // secp256k1
            .sm2: "301306072a8648ce3d020106082a811ccf5501822d",                       // SM2 1.2.156.10197.1.301
            .eccNISTEdwards25519: "300506032b6570",                                   // id-Ed25519
            .mlDSA44: "300b0609608648016503040311",                                   // id-ml-dsa-44, no params
            .mlDSA65: "300b0609608648016503040312",
            .mlDSA87: "300b0609608648016503040313",
        ]
        for (spec, algorithmIdentifier) in expected {
            let spki = try #require(generatedKeys[spec]).publicKeyDER.hex
            #expect(spki.contains(algorithmIdentifier), "\(spec.rawValue)")
        }
        let sizes: [KeySpec: Int] = [.eccNISTP256: 91, .eccNISTP384: 120, .eccNISTP521: 158, .eccSECGP256K1: 88, .sm2: 91,
                                     .eccNISTEdwards25519: 44, .mlDSA44: 1334, .mlDSA65: 1974, .mlDSA87: 2614]
        for (spec, size) in sizes { #expect(try #require(generatedKeys[spec]).publicKeyDER.count == size, "\(spec.rawValue)") }
    }

    @Test(arguments: DataKeyPairSpec.allCases)
    func dataKeyPairs(spec: DataKeyPairSpec) throws {
        let pair = try AsymmetricKeyPair.generate(dataKeyPairSpec: spec)
        #expect(pair.keySpec == spec.keySpec)
        let key = try AsymmetricPrivateKey(spec: spec.keySpec, privateKeyBytes: pair.pkcs8)
        let signing = spec.keySpec.signingAlgorithms(for: .signVerify)[0]
        let messageType = signing.supportedMessageTypes[0]
        let message = [UInt8](repeating: 3, count: signing.requiredMessageLength(for: messageType) ?? 10)
        let signature = try key.sign(message: message, messageType: messageType, algorithm: signing)
        let publicKey = try AsymmetricPublicKey(spec: spec.keySpec, derRepresentation: pair.publicKeyDER)
        #expect(try publicKey.verify(signature: signature, message: message, messageType: messageType, algorithm: signing))
        if let encryption = spec.keySpec.encryptionAlgorithms(for: .encryptDecrypt).first {
            let ciphertext = try publicKey.encrypt(plaintext: [1, 2, 3], algorithm: encryption)
            #expect(try key.decrypt(ciphertext: ciphertext, algorithm: encryption) == [1, 2, 3])
        }
    }

    @Test func symmetricSpecsAreNotAsymmetricKeys() throws {
        for spec in [KeySpec.symmetricDefault, .hmac224, .hmac512] {
            #expect(throws: KMSCryptoError.unsupportedKeySpec(spec)) { try AsymmetricKeyPair.generate(spec) }
            #expect(throws: KMSCryptoError.unsupportedKeySpec(spec)) { try AsymmetricPrivateKey(spec: spec, privateKeyBytes: [0x30, 0]) }
            #expect(throws: KMSCryptoError.unsupportedKeySpec(spec)) { try AsymmetricPublicKey(spec: spec, derRepresentation: [0x30, 0]) }
        }
    }

    /// Bytes of one spec never load as another, and garbage never loads.
    @Test(arguments: asymmetricSpecs)
    func foreignOrCorruptBytesAreRejected(spec: KeySpec) throws {
        for other in Self.asymmetricSpecs where other != spec {
            let bytes = try #require(generatedKeys[other]).privateKeyBytes
            #expect(throws: KMSCryptoError.invalidPrivateKey, "\(other.rawValue) as \(spec.rawValue)") {
                try AsymmetricPrivateKey(spec: spec, privateKeyBytes: bytes)
            }
            let spki = try #require(generatedKeys[other]).publicKeyDER
            #expect(throws: KMSCryptoError.invalidPublicKey, "\(other.rawValue) as \(spec.rawValue)") {
                try AsymmetricPublicKey(spec: spec, derRepresentation: spki)
            }
        }
        let own = try #require(generatedKeys[spec]).privateKeyBytes
        for bad in [[], [0x30], Array(own.dropLast()), own + [0], Array(own.prefix(own.count / 2))] {
            #expect(throws: KMSCryptoError.invalidPrivateKey) { try AsymmetricPrivateKey(spec: spec, privateKeyBytes: bad) }
        }
    }

    @Test func errorDescriptionsCarryNoKeyMaterial() throws {
        let pair = try #require(generatedKeys[.eccNISTP256])
        do {
            _ = try AsymmetricPrivateKey(spec: .eccNISTP384, privateKeyBytes: pair.privateKeyBytes)
            Issue.record("expected a failure")
        } catch {
            let text = String(describing: error)
            #expect(!text.contains(pair.privateKeyBytes.hex.suffix(20)))
            #expect(text == "The stored private key is malformed or does not match the key spec")
        }
    }
}

/// One cached key used from many tasks at once, as the core will.
@Suite struct ConcurrencyTests {
    @Test(arguments: [KeySpec.eccNISTP256, .rsa2048, .eccSECGP256K1, .sm2, .eccNISTEdwards25519, .mlDSA44, .mlDSA65])
    func concurrentSigningAndVerifying(spec: KeySpec) async throws {
        let key = try generatedKey(spec)
        let algorithm = spec.signingAlgorithms(for: .signVerify)[0]
        let ok = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<16 {
                group.addTask {
                    let message = Array("message \(i)".utf8)
                    var all = true
                    for _ in 0..<4 {
                        let signature = try key.sign(message: message, messageType: .raw, algorithm: algorithm)
                        all = try all && key.verify(signature: signature, message: message, messageType: .raw, algorithm: algorithm)
                    }
                    return all
                }
            }
            return try await group.reduce(true) { $0 && $1 }
        }
        #expect(ok)
    }
}
