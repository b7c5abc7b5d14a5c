import Crypto
import Foundation
import KMSCrypto
import Synchronization
import Testing

/// AES-256-GCM through pooled OpenSSL contexts: the GCM specification's test case 16,
/// byte-for-byte agreement with swift-crypto's AES.GCM in both directions, tamper
/// detection, and concurrent use of one key.
@Suite struct AESGCMTests {
    // McGrew & Viega, "The Galois/Counter Mode of Operation", test case 16 (AES-256, 60-byte
    // plaintext, 20-byte AAD).
    static let key = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"
    static let nonce = "cafebabefacedbaddecaf888"
    static let plaintext = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
    static let aad = "feedfacedeadbeeffeedfacedeadbeefabaddad2"
    static let ciphertext = "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
    static let tag = "76fc6ece0f4e1768cddf8853bb2d551b"

    static func seal(_ key: AESGCMKey, _ plaintext: [UInt8], nonce: [UInt8], aad: [UInt8]) throws -> [UInt8] {
        var out: [UInt8] = [0xAA]  // sealing appends: what was there stays
        try plaintext.withUnsafeBytes { p in
            try nonce.withUnsafeBytes { n in
                try aad.withUnsafeBytes { a in try key.seal(p, nonce: n, authenticating: a, appendingTo: &out) }
            }
        }
        #expect(out.first == 0xAA)
        return Array(out.dropFirst())
    }

    static func open(_ key: AESGCMKey, _ sealed: [UInt8], nonce: [UInt8], aad: [UInt8]) throws -> [UInt8] {
        let body = Array(sealed.dropLast(16)), tag = Array(sealed.suffix(16))
        return try body.withUnsafeBytes { c in
            try tag.withUnsafeBytes { t in
                try nonce.withUnsafeBytes { n in
                    try aad.withUnsafeBytes { a in try key.open(c, tag: t, nonce: n, authenticating: a) }
                }
            }
        }
    }

    @Test func gcmSpecificationTestCase16() throws {
        let key = try AESGCMKey(key: [UInt8](hex: Self.key))
        let sealed = try Self.seal(key, [UInt8](hex: Self.plaintext), nonce: [UInt8](hex: Self.nonce), aad: [UInt8](hex: Self.aad))
        #expect(sealed.hex == Self.ciphertext + Self.tag)
        let opened = try Self.open(key, sealed, nonce: [UInt8](hex: Self.nonce), aad: [UInt8](hex: Self.aad))
        #expect(opened.hex == Self.plaintext)
    }

    @Test func agreesWithSwiftCryptoBothWays() throws {
        for length in [0, 1, 15, 16, 17, 64, 1000, 4096] {
            let keyBytes = SystemRandom.bytes(32), nonce = SystemRandom.bytes(12)
            let plaintext = SystemRandom.bytes(length), aad = SystemRandom.bytes(length % 50)
            let key = try AESGCMKey(key: keyBytes)
            let reference = try AES.GCM.seal(plaintext, using: SymmetricKey(data: keyBytes),
                                             nonce: AES.GCM.Nonce(data: nonce), authenticating: aad)
            let sealed = try Self.seal(key, plaintext, nonce: nonce, aad: aad)
            #expect(sealed == Array(reference.ciphertext) + Array(reference.tag))
            let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: nonce), ciphertext: sealed.dropLast(16), tag: sealed.suffix(16))
            #expect(Array(try AES.GCM.open(box, using: SymmetricKey(data: keyBytes), authenticating: aad)) == plaintext)
            #expect(try Self.open(key, sealed, nonce: nonce, aad: aad) == plaintext)
        }
    }

    @Test func tamperingWrongAADAndWrongKeyAreRefused() throws {
        let key = try AESGCMKey(key: SystemRandom.bytes(32)), other = try AESGCMKey(key: SystemRandom.bytes(32))
        let nonce = SystemRandom.bytes(12), aad = Array("context".utf8), plaintext = Array("attack at dawn".utf8)
        let sealed = try Self.seal(key, plaintext, nonce: nonce, aad: aad)
        for index in [0, 5, sealed.count - 1] {  // ciphertext and tag bytes
            var bad = sealed
            bad[index] ^= 0x01
            #expect(throws: KMSCryptoError.invalidCiphertext) { try Self.open(key, bad, nonce: nonce, aad: aad) }
        }
        #expect(throws: KMSCryptoError.invalidCiphertext) { try Self.open(key, sealed, nonce: nonce, aad: Array("contexT".utf8)) }
        #expect(throws: KMSCryptoError.invalidCiphertext) { try Self.open(key, sealed, nonce: nonce, aad: []) }
        #expect(throws: KMSCryptoError.invalidCiphertext) { try Self.open(other, sealed, nonce: nonce, aad: aad) }
        // A refused open leaves the key usable.
        #expect(try Self.open(key, sealed, nonce: nonce, aad: aad) == plaintext)
    }

    @Test func refusesBadKeyAndNonceLengths() throws {
        #expect(throws: KMSCryptoError.self) { try AESGCMKey(key: SystemRandom.bytes(16)) }
        let key = try AESGCMKey(key: SystemRandom.bytes(32))
        #expect(throws: KMSCryptoError.self) { try Self.seal(key, [1, 2, 3], nonce: SystemRandom.bytes(16), aad: []) }
    }

    @Test func oneKeyUsedFromManyThreads() throws {
        let keyBytes = SystemRandom.bytes(32)
        let key = try AESGCMKey(key: keyBytes)
        let failures = Atomic(0)
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            for j in 0..<200 {
                let nonce = SystemRandom.bytes(12), plaintext = Array("message \(i) \(j)".utf8)
                guard let sealed = try? Self.seal(key, plaintext, nonce: nonce, aad: [UInt8(i)]),
                      let box = try? AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: nonce), ciphertext: sealed.dropLast(16), tag: sealed.suffix(16)),
                      let opened = try? AES.GCM.open(box, using: SymmetricKey(data: keyBytes), authenticating: [UInt8(i)]),
                      Array(opened) == plaintext,
                      (try? Self.open(key, sealed, nonce: nonce, aad: [UInt8(i)])) == plaintext
                else { failures.add(1, ordering: .relaxed); continue }
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
    }

    @Test func randomBytesAreFreshAndSized() {
        #expect(SystemRandom.bytes(0).isEmpty)
        let a = SystemRandom.bytes(32), b = SystemRandom.bytes(32)
        #expect(a.count == 32 && b.count == 32 && a != b)
        #expect(Set(SystemRandom.bytes(4096)).count > 200)  // all 256 values are near-certain
    }
}
