import Testing
@testable import KMSCore

@Suite struct CiphertextTests {
    let material = KeyMaterial(version: 3, secret: SystemRandom.bytes(32), materialId: "ab", createdAt: 0)
    let keyId = "1234abcd-12ab-34cd-56ef-1234567890ab"

    @Test func blobRoundTripsAndIsSelfDescribing() throws {
        let bytes = try SymmetricCipher.encrypt(plaintext: Array("hello".utf8), account: "111122223333", keyId: keyId,
                                                material: material, context: ["tenant": "42"])
        let blob = try #require(CiphertextBlob.parse(bytes))
        #expect(bytes[0] == 2)
        #expect(blob.format == 2)
        #expect(blob.account == "111122223333")
        #expect(blob.keyId == keyId)
        #expect(blob.materialVersion == 3)
        #expect(blob.bytes == bytes)
        #expect(bytes.count == 1 + 12 + 1 + 36 + 4 + 32 + 5 + 16)
        let plain = try SymmetricCipher.decrypt(blob: blob, material: material, context: ["tenant": "42"])
        #expect(plain == Array("hello".utf8))
    }

    @Test func everyBlobHasItsOwnSaltAndMessageKey() throws {
        let a = try SymmetricCipher.encrypt(plaintext: [9, 9, 9, 9], account: "111122223333", keyId: keyId, material: material, context: nil)
        let b = try SymmetricCipher.encrypt(plaintext: [9, 9, 9, 9], account: "111122223333", keyId: keyId, material: material, context: nil)
        let pa = try #require(CiphertextBlob.parse(a)), pb = try #require(CiphertextBlob.parse(b))
        #expect(pa.nonce.count == 32)
        #expect(pa.nonce != pb.nonce)
        // Same plaintext, same zero GCM nonce, different keys: different ciphertexts and tags.
        #expect(pa.ciphertext != pb.ciphertext)
        #expect(pa.tag != pb.tag)
    }

    @Test func formatV1IsStillWrittenOnRequestAndOpened() throws {
        let bytes = try SymmetricCipher.encrypt(plaintext: Array("v1".utf8), account: "111122223333", keyId: keyId,
                                                material: material, context: ["a": "b"], format: 1)
        #expect(bytes[0] == 1)
        #expect(bytes.count == 1 + 12 + 1 + 36 + 4 + 12 + 2 + 16)
        let blob = try #require(CiphertextBlob.parse(bytes))
        #expect(try SymmetricCipher.decrypt(blob: blob, material: material, context: ["a": "b"]) == Array("v1".utf8))
    }

    /// Blobs made by the v1 server before v2 existed (V1Fixtures.swift) decrypt, forever.
    @Test func v1FixtureBlobsFromTheOldServerDecrypt() throws {
        #expect(V1Fixtures.cases.count == 7)
        for c in V1Fixtures.cases {
            let secret = try #require(Base64.decode(c.keyMaterial))
            let fixtureMaterial = KeyMaterial(version: 1, secret: secret, materialId: "fixture", createdAt: 0)
            let bytes = try #require(Base64.decode(c.blob))
            let blob = try #require(CiphertextBlob.parse(bytes), "\(c.label)")
            #expect(blob.format == 1)
            #expect(blob.account == c.account && blob.keyId == c.keyId && blob.materialVersion == 1)
            let expected = c.plaintext.isEmpty ? (0..<4096).map { UInt8($0 % 256) } : try #require(Base64.decode(c.plaintext))
            #expect(try SymmetricCipher.decrypt(blob: blob, material: fixtureMaterial, context: c.context) == expected, "\(c.label)")
            // The context is still bound.
            #expect(throws: KMSError.invalidCiphertext) {
                try SymmetricCipher.decrypt(blob: blob, material: fixtureMaterial, context: ["other": "context"])
            }
        }
    }

    /// A v2 blob made by Python `cryptography` (KBKDFHMAC + AESGCM, see KMSCryptoTests/MessageKeyTests) opens here.
    @Test func independentlyMadeV2BlobDecrypts() throws {
        let vectorMaterial = KeyMaterial(version: 7, secret: hex("2e16c5b6a5118ec19957ce858bc544f0ff9a5f4dd498bd8ad67ef53a47e1db49"),
                                         materialId: "kat", createdAt: 0)
        let bytes = hex("023131313132323232333333332431323334616263642d313261622d333463642d353665662d31323334353637383930616200000007aa3ad16eca6a899e15bed55f7dd4d3a3203a805b2cb658152210ff9f36f8b74ce631da75d04c59342808035aa476cbf5b5a1650cec4e56f488f680ec7ba5d92f60c76f606562b7b04d7a2d8a0f740af96badd88f")
        let blob = try #require(CiphertextBlob.parse(bytes))
        #expect(blob.materialVersion == 7)
        let plain = try SymmetricCipher.decrypt(blob: blob, material: vectorMaterial, context: ["tenant": "42", "purpose": "kat"])
        #expect(plain == Array("known-answer plaintext for format v2".utf8))
    }

    @Test func wrongContextOrTamperingFails() throws {
        let bytes = try SymmetricCipher.encrypt(plaintext: [1, 2, 3], account: "111122223333", keyId: keyId,
                                                material: material, context: ["a": "b"])
        let blob = try #require(CiphertextBlob.parse(bytes))
        #expect(throws: KMSError.invalidCiphertext) { try SymmetricCipher.decrypt(blob: blob, material: material, context: nil) }
        #expect(throws: KMSError.invalidCiphertext) { try SymmetricCipher.decrypt(blob: blob, material: material, context: ["a": "c"]) }
        // The header is authenticated: relabelling the version is detected.
        let relabelled = CiphertextBlob(account: blob.account, keyId: blob.keyId, materialVersion: 4, nonce: blob.nonce,
                                        ciphertext: blob.ciphertext, tag: blob.tag)
        #expect(throws: KMSError.invalidCiphertext) { try SymmetricCipher.decrypt(blob: relabelled, material: material, context: ["a": "b"]) }
        // So is the format: the same bytes relabelled as v1 do not open.
        let downgraded = [UInt8(1)] + bytes.dropFirst()
        if let b = CiphertextBlob.parse(downgraded) {
            #expect(throws: KMSError.invalidCiphertext) { try SymmetricCipher.decrypt(blob: b, material: material, context: ["a": "b"]) }
        }
    }

    /// Every byte of a v2 blob, flipped in any bit pattern tried, makes it unreadable;
    /// so does every truncation. (0x03 turns the format byte 0x02 into 0x01.)
    @Test(arguments: [UInt8(0x01), 0x03, 0x80, 0xFF])
    func everyTamperedOrTruncatedV2BlobFails(mask: UInt8) throws {
        let bytes = try SymmetricCipher.encrypt(plaintext: Array("tamper me".utf8), account: "111122223333", keyId: keyId,
                                                material: material, context: ["a": "b"])
        for i in bytes.indices {
            var t = bytes
            t[i] ^= mask
            if let b = CiphertextBlob.parse(t) {
                #expect(throws: KMSError.invalidCiphertext, "byte \(i)") {
                    try SymmetricCipher.decrypt(blob: b, material: material, context: ["a": "b"])
                }
            }
        }
        for n in 0..<bytes.count {
            if let b = CiphertextBlob.parse(Array(bytes[..<n])) {
                #expect(throws: KMSError.invalidCiphertext, "length \(n)") {
                    try SymmetricCipher.decrypt(blob: b, material: material, context: ["a": "b"])
                }
            }
        }
        #expect(try SymmetricCipher.decrypt(blob: try #require(CiphertextBlob.parse(bytes)), material: material,
                                            context: ["a": "b"]) == Array("tamper me".utf8))
    }

    func hex(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var it = s.utf8.makeIterator()
        while let hi = it.next(), let lo = it.next() {
            out.append(UInt8(String(decoding: [hi, lo], as: UTF8.self), radix: 16) ?? 0)
        }
        return out
    }

    @Test func garbageIsNotABlob() {
        #expect(CiphertextBlob.parse([]) == nil)
        #expect(CiphertextBlob.parse(Array(repeating: 1, count: 200)) == nil)
        #expect(CiphertextBlob.parse([1] + Array("11112222333x".utf8) + [4] + Array(repeating: 0x61, count: 40)) == nil)
        // Unknown formats, and a v2 blob too short for its 32-byte salt.
        #expect(CiphertextBlob.parse([3] + Array("111122223333".utf8) + [1, 0x61] + Array(repeating: 0, count: 60)) == nil)
        #expect(CiphertextBlob.parse([2] + Array("111122223333".utf8) + [1, 0x61] + Array(repeating: 0, count: 4 + 32 + 15)) == nil)
        #expect(CiphertextBlob.parse([1] + Array("111122223333".utf8) + [1, 0x61] + Array(repeating: 0, count: 4 + 12 + 16)) != nil)
    }

    @Test func encryptionContextIsCanonical() {
        let a = EncryptionContext.canonicalBytes(["x": "1", "y": "2"])
        let b = EncryptionContext.canonicalBytes(["y": "2", "x": "1"])
        #expect(a == b)
        #expect(EncryptionContext.canonicalBytes(["a": "bc"]) != EncryptionContext.canonicalBytes(["ab": "c"]))
        #expect(EncryptionContext.canonicalBytes([:]) == EncryptionContext.canonicalBytes(nil))
    }
}
