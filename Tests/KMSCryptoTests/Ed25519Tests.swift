import Crypto
import KMSCrypto
import Testing

/// ECC_NIST_EDWARDS25519: RFC 8032 vectors (via Python `cryptography`) for ED25519_SHA_512,
/// and an independent pure-Python Ed25519ph for ED25519_PH_SHA_512.
@Suite struct Ed25519Tests {
    @Test(arguments: [
        (Fixtures.ed25519PKCS81, Fixtures.ed25519SPKI1, Fixtures.ed25519Message1, Fixtures.ed25519Signature1),
        (Fixtures.ed25519PKCS82, Fixtures.ed25519SPKI2, Fixtures.ed25519Message2, Fixtures.ed25519Signature2),
    ])
    func rfc8032PureSignaturesMatch(pkcs8: String, spki: String, message: String, signature: String) throws {
        let key = try AsymmetricPrivateKey(spec: .eccNISTEdwards25519, privateKeyBytes: [UInt8](hex: pkcs8))
        #expect(key.publicKeyDER.hex == spki)
        #expect(try key.sign(message: [UInt8](hex: message), messageType: .raw, algorithm: .ed25519SHA512).hex == signature)
        let publicKey = try AsymmetricPublicKey(spec: .eccNISTEdwards25519, derRepresentation: [UInt8](hex: spki))
        #expect(try publicKey.verify(signature: [UInt8](hex: signature), message: [UInt8](hex: message), messageType: .raw, algorithm: .ed25519SHA512))
    }

    /// RFC 8032 TEST 2 key, raw public key and signature as printed in the RFC.
    @Test func rfc8032Test2Literal() throws {
        #expect(Fixtures.ed25519Seed1 == "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
        #expect(Fixtures.ed25519SPKI1.hasSuffix("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"))
        #expect(Fixtures.ed25519Signature1 == "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
            + "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00")
    }

    /// ED25519_PH_SHA_512 with DIGEST signs Ed25519ph(M = digest), i.e. SHA-512 is applied
    /// again inside, as the AWS Sign reference states. Ed25519ph is deterministic.
    @Test func ed25519phMatchesIndependentImplementation() throws {
        let key = try AsymmetricPrivateKey(spec: .eccNISTEdwards25519, privateKeyBytes: [UInt8](hex: Fixtures.ed25519phPKCS8))
        #expect(key.publicKeyDER.hex == Fixtures.ed25519phSPKI)
        let digest = [UInt8](hex: Fixtures.ed25519phDigest)
        #expect(digest == Array(SHA512.hash(data: [UInt8](hex: Fixtures.message))))
        let signature = try key.sign(message: digest, messageType: .digest, algorithm: .ed25519PHSHA512)
        #expect(signature.hex == Fixtures.ed25519phSignature)
        #expect(try key.verify(signature: signature, message: digest, messageType: .digest, algorithm: .ed25519PHSHA512))
        // Pure and prehashed signatures are not interchangeable.
        #expect(try !key.verify(signature: signature, message: digest, messageType: .raw, algorithm: .ed25519SHA512))
        let pure = try key.sign(message: digest, messageType: .raw, algorithm: .ed25519SHA512)
        #expect(pure != signature)
        #expect(try !key.verify(signature: pure, message: digest, messageType: .digest, algorithm: .ed25519PHSHA512))
    }

    @Test func pkcs8IsRFC8410() throws {
        let pair = try AsymmetricKeyPair.generate(.eccNISTEdwards25519)
        // 30 2e 02 01 00 30 05 06 03 2b 65 70 04 22 04 20 <seed>
        #expect(pair.privateKeyBytes.count == 48)
        #expect(Array(pair.privateKeyBytes.prefix(16)).hex == "302e020100300506032b657004220420")
        #expect(Array(pair.publicKeyDER.prefix(12)).hex == "302a300506032b6570032100")
        #expect(throws: KMSCryptoError.invalidPrivateKey) {
            try AsymmetricPrivateKey(spec: .eccNISTEdwards25519, privateKeyBytes: Array(pair.privateKeyBytes.dropLast()))
        }
    }
}
