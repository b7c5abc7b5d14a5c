import KMSCrypto
import Testing

/// DeriveSharedSecret (ECDH) for the NIST curves and SM2.
@Suite struct KeyAgreementTests {
    @Test(arguments: [KeySpec.eccNISTP256, .eccNISTP384, .eccNISTP521, .sm2])
    func bothSidesDeriveTheSameSecret(spec: KeySpec) throws {
        let alice = try generatedKey(spec)
        let bob = try #require(secondKeys[spec])
        let fromAlice = try alice.deriveSharedSecret(peerPublicKeyDER: bob.publicKeyDER)
        let fromBob = try bob.deriveSharedSecret(peerPublicKeyDER: alice.publicKeyDER)
        #expect(fromAlice == fromBob)
        #expect(fromAlice.count == [KeySpec.eccNISTP384: 48, .eccNISTP521: 66][spec, default: 32])
        #expect(fromAlice != [UInt8](repeating: 0, count: fromAlice.count))
    }

    @Test func peerOnAnotherCurveIsRejected() throws {
        let pairs: [(KeySpec, KeySpec)] = [
            (.eccNISTP256, .eccNISTP384), (.eccNISTP384, .eccNISTP256), (.eccNISTP521, .eccSECGP256K1),
            (.sm2, .eccNISTP256), (.eccNISTP256, .sm2), (.eccNISTP256, .rsa2048), (.sm2, .eccNISTEdwards25519),
        ]
        for (spec, peerSpec) in pairs {
            #expect(throws: KMSCryptoError.invalidPeerPublicKey) {
                try generatedKey(spec).deriveSharedSecret(peerPublicKeyDER: generatedKey(peerSpec).publicKeyDER)
            }
        }
    }

    @Test(arguments: [KeySpec.eccNISTP256, .eccNISTP521, .sm2])
    func malformedPeerKeysAreRejected(spec: KeySpec) throws {
        let key = try generatedKey(spec)
        let valid = key.publicKeyDER
        // Garbage, truncation, and a point moved off the curve (last coordinate byte changed).
        for bad in [[], [0x30, 0x00], Array(valid.dropLast()), valid.flippingBit(at: valid.count - 1), valid + [0]] {
            #expect(throws: KMSCryptoError.invalidPeerPublicKey) { try key.deriveSharedSecret(peerPublicKeyDER: bad) }
        }
    }

    @Test func specsWithoutKeyAgreementAreRejected() throws {
        for spec in [KeySpec.rsa2048, .eccSECGP256K1, .eccNISTEdwards25519, .mlDSA65] {
            #expect(throws: KMSCryptoError.incompatibleAlgorithm(keySpec: spec, algorithm: "ECDH")) {
                try generatedKey(spec).deriveSharedSecret(peerPublicKeyDER: generatedKey(spec).publicKeyDER)
            }
        }
    }
}
