import Testing
@testable import KMSCore

@Suite struct CiphertextTests {
    let material = KeyMaterial(version: 3, secret: SystemRandom.bytes(32), materialId: "ab", createdAt: 0)
    let keyId = "1234abcd-12ab-34cd-56ef-1234567890ab"

    @Test func blobRoundTripsAndIsSelfDescribing() throws {
        let bytes = try SymmetricCipher.encrypt(plaintext: Array("hello".utf8), account: "111122223333", keyId: keyId,
                                                material: material, context: ["tenant": "42"])
        let blob = try #require(CiphertextBlob.parse(bytes))
        #expect(blob.account == "111122223333")
        #expect(blob.keyId == keyId)
        #expect(blob.materialVersion == 3)
        #expect(blob.bytes == bytes)
        #expect(bytes.count == 1 + 12 + 1 + 36 + 4 + 12 + 5 + 16)
        let plain = try SymmetricCipher.decrypt(blob: blob, material: material, context: ["tenant": "42"])
        #expect(plain == Array("hello".utf8))
    }

    @Test func wrongContextOrTamperingFails() throws {
        let bytes = try SymmetricCipher.encrypt(plaintext: [1, 2, 3], account: "111122223333", keyId: keyId,
                                                material: material, context: ["a": "b"])
        let blob = try #require(CiphertextBlob.parse(bytes))
        #expect(throws: KMSError.invalidCiphertext) { try SymmetricCipher.decrypt(blob: blob, material: material, context: nil) }
        #expect(throws: KMSError.invalidCiphertext) { try SymmetricCipher.decrypt(blob: blob, material: material, context: ["a": "c"]) }
        for i in [0, 20, bytes.count - 20, bytes.count - 1] {
            var t = bytes
            t[i] ^= 1
            if let b = CiphertextBlob.parse(t) {
                #expect(throws: KMSError.self) { try SymmetricCipher.decrypt(blob: b, material: material, context: ["a": "b"]) }
            }
        }
        // The header is authenticated: relabelling the version is detected.
        let relabelled = CiphertextBlob(account: blob.account, keyId: blob.keyId, materialVersion: 4, nonce: blob.nonce,
                                        ciphertext: blob.ciphertext, tag: blob.tag)
        #expect(throws: KMSError.invalidCiphertext) { try SymmetricCipher.decrypt(blob: relabelled, material: material, context: ["a": "b"]) }
    }

    @Test func garbageIsNotABlob() {
        #expect(CiphertextBlob.parse([]) == nil)
        #expect(CiphertextBlob.parse(Array(repeating: 1, count: 200)) == nil)
        #expect(CiphertextBlob.parse([1] + Array("11112222333x".utf8) + [4] + Array(repeating: 0x61, count: 40)) == nil)
    }

    @Test func encryptionContextIsCanonical() {
        let a = EncryptionContext.canonicalBytes(["x": "1", "y": "2"])
        let b = EncryptionContext.canonicalBytes(["y": "2", "x": "1"])
        #expect(a == b)
        #expect(EncryptionContext.canonicalBytes(["a": "bc"]) != EncryptionContext.canonicalBytes(["ab": "c"]))
        #expect(EncryptionContext.canonicalBytes([:]) == EncryptionContext.canonicalBytes(nil))
    }
}
