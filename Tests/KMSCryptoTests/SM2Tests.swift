import KMSCrypto
import Testing

/// SM2 against the openssl 3.0 command line and an independent (Python hashlib SM3)
/// computation of e = SM3(Z_A || M) with the default distinguishing ID.
@Suite struct SM2Tests {
    let message = [UInt8](hex: Fixtures.message)

    @Test func keyFromOpenSSLLoadsWithTheSameSPKI() throws {
        let key = try AsymmetricPrivateKey(spec: .sm2, privateKeyBytes: [UInt8](hex: Fixtures.sm2PKCS8))
        #expect(key.publicKeyDER.hex == Fixtures.sm2SPKI)
        // id-ecPublicKey with the SM2 curve OID 1.2.156.10197.1.301.
        #expect(key.publicKeyDER.hex.contains("06072a8648ce3d020106082a811ccf5501822d"))
    }

    /// The CLI signed M with distid 1234567812345678; RAW verification recomputes Z_A.
    @Test func openSSLSignatureVerifiesAsRawAndAsDigest() throws {
        let publicKey = try AsymmetricPublicKey(spec: .sm2, derRepresentation: [UInt8](hex: Fixtures.sm2SPKI))
        let signature = [UInt8](hex: Fixtures.sm2Signature)
        #expect(try publicKey.verify(signature: signature, message: message, messageType: .raw, algorithm: .sm2DSA))
        #expect(try publicKey.verify(signature: signature, message: [UInt8](hex: Fixtures.sm2E), messageType: .digest, algorithm: .sm2DSA))
        #expect(try !publicKey.verify(signature: signature, message: message + [1], messageType: .raw, algorithm: .sm2DSA))
    }

    /// Our RAW signature is over the independently computed e, so Z_A is right.
    @Test func ourRawSignatureIsOverTheStandardDigest() throws {
        let key = try AsymmetricPrivateKey(spec: .sm2, privateKeyBytes: [UInt8](hex: Fixtures.sm2PKCS8))
        let signature = try key.sign(message: message, messageType: .raw, algorithm: .sm2DSA)
        #expect(signature.first == 0x30)
        #expect(try key.verify(signature: signature, message: [UInt8](hex: Fixtures.sm2E), messageType: .digest, algorithm: .sm2DSA))
        let fromDigest = try key.sign(message: [UInt8](hex: Fixtures.sm2E), messageType: .digest, algorithm: .sm2DSA)
        #expect(try key.verify(signature: fromDigest, message: message, messageType: .raw, algorithm: .sm2DSA))
    }

    @Test func openSSLCiphertextDecrypts() throws {
        let key = try AsymmetricPrivateKey(spec: .sm2, privateKeyBytes: [UInt8](hex: Fixtures.sm2PKCS8))
        #expect(try key.decrypt(ciphertext: [UInt8](hex: Fixtures.sm2Ciphertext), algorithm: .sm2PKE).hex == Fixtures.sm2Plaintext)
    }

    /// The published sm2p256v1 signature example (GM/T 0003.5 / GB/T 32918.5 annex; also
    /// in OpenSSL's SM2 tests): d = 3945208F..., ID "1234567812345678", M = "message digest",
    /// Z_A = B2E14C5C..., e = F0B43E94..., (r, s) = (F5A03B06..., B1B6AA29...). RAW
    /// verification checks our Z_A computation against a published value.
    @Test func publishedSignatureVectorVerifies() throws {
        let spki = "3059301306072a8648ce3d020106082a811ccf5501822d03420004"
            + "09f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020"
            + "ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13"
        let e = [UInt8](hex: "f0b43e94ba45accaace692ed534382eb17e6ab5a19ce7b31f4486fdfc0d28640")
        let signature = [UInt8](hex: "3046022100f5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3"
            + "022100b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa")
        let publicKey = try AsymmetricPublicKey(spec: .sm2, derRepresentation: [UInt8](hex: spki))
        #expect(try publicKey.verify(signature: signature, message: e, messageType: .digest, algorithm: .sm2DSA))
        #expect(try publicKey.verify(signature: signature, message: Array("message digest".utf8), messageType: .raw, algorithm: .sm2DSA))
        #expect(try !publicKey.verify(signature: signature, message: Array("message digesT".utf8), messageType: .raw, algorithm: .sm2DSA))
        #expect(try !publicKey.verify(signature: signature, message: e.flippingBit(at: 31), messageType: .digest, algorithm: .sm2DSA))
    }

    /// A peer or verifier may hold the SM2 key with a compressed point (02/03 || x).
    @Test func compressedPointSPKIWorks() throws {
        let key = try generatedKey(.sm2)
        let spki = key.publicKeyDER
        let x = Array(spki[spki.count - 64 ..< spki.count - 32])
        let yIsOdd = spki[spki.count - 1] & 1 == 1
        // SEQUENCE { AlgorithmIdentifier(ecPublicKey, SM2), BIT STRING (34 bytes) }
        let compressed = [UInt8](hex: "3039301306072a8648ce3d020106082a811ccf5501822d032200") + [yIsOdd ? 0x03 : 0x02] + x
        let publicKey = try AsymmetricPublicKey(spec: .sm2, derRepresentation: compressed)
        let signature = try key.sign(message: message, messageType: .raw, algorithm: .sm2DSA)
        #expect(try publicKey.verify(signature: signature, message: message, messageType: .raw, algorithm: .sm2DSA))
        let peer = try #require(secondKeys[.sm2])
        #expect(try peer.deriveSharedSecret(peerPublicKeyDER: compressed) == peer.deriveSharedSecret(peerPublicKeyDER: spki))
    }
}
