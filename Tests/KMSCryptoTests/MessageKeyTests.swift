import Crypto
import Foundation
import KMSCrypto
import Synchronization
import Testing

/// Ciphertext format v2's per-message keys: NIST SP 800-108r1 counter-mode KDF with
/// HMAC-SHA256, and AES-256-GCM under the derived key. The expected values were computed
/// with Python `cryptography` (`KBKDFHMAC`, `AESGCM`), an implementation independent of
/// this one, by IntegrationTests/fixtures/make_v2_vectors.py.
@Suite struct MessageKeyTests {
    struct Vector {
        let name, key, label, context, output: String
    }

    static let kdfVectors: [Vector] = [
        Vector(name: "L256", key: "c147f262cd2ac908568d2dcd6a03a7a14bc3a2647e1cc359d7ca656df08bfffb",
               label: "73776966742d6b6d732063697068657274657874207632",
               context: "53ab081f0cf42d42f768c10fef9c0e178e87a0b6e5eb226c5d8537fdbcc998e2",
               output: "993f779f0919c6036ba6a322b6c8657fe91ca40d9eacbcc48a4760746235fc6e"),
        Vector(name: "L512", key: "edd003ce0319e58267d16f127e1269724bcc29913804b83b3dcbdb29ad094ba8",
               label: "73776966742d6b6d732063697068657274657874207632",
               context: "6e5b96b9854404ee3bcb5aeb9cccd984a68fb32ba4332ab63e4a1b08344f0cab",
               output: "d37a923059edcadd9143d5c6bc5de8b0ed004809bc2b5e8c55c8a230d3e9769d68fe12b36c075ec813753fe5e102416522b4a3362bb92c5cbcaf31ffb47c2adc"),
        Vector(name: "L200 (partial last block)", key: "f015c211df1fdfafe5fd262073fc754b346e7f490dd5f958ebe8df4ca34325e6",
               label: "6c6162656c", context: "636f6e74657874",
               output: "bffdb677c15eaf2afb726cea84097483e7e3e3028f9473ffec"),
        Vector(name: "key longer than the HMAC block",
               key: "dfb211efbd99065f1eb8d68dbddb112f1e15406ed5f18ca89c16bb07f3e158a045a66c329fda29aa58b6aedabeeb7148e3d1be740613100ae635842ce1e829eff9d558f8dcb2ec1a6e81fbe0488cf1a7b18f38505ecb06be6b2313adbbca49958b52de03",
               label: "4c",
               context: "a7164488dd6fe07d6e647c14f79178c7f2dce84d6f95d211fbc1ab95105b38d63343bd0c663c8e363ce9a5329d56371b7e321a679916450dbb7b31d7e066b08806c2a4e1ecb8",
               output: "47f0e8c3fd8c1e364d0a8351549e2a8e594694f4b688d5b9c4791cab72b2460a"),
        Vector(name: "empty context", key: "72f267aa6bf556fa3853913e3ff4b961", label: "6f6e6c792061206c6162656c", context: "",
               output: "dbf3d1746afcb5299d398b4cee4afbb0d69a5080eefe544f53b3accd59d4c01365be3cc158ab3e62eebd053b07374893"),
    ]

    @Test(arguments: kdfVectors.indices)
    func counterModeKDFKnownAnswers(_ i: Int) {
        let v = Self.kdfVectors[i]
        let kdf = CounterModeKDF(key: [UInt8](hex: v.key))
        let out = kdf.derive(label: [UInt8](hex: v.label), context: [UInt8](hex: v.context),
                             byteCount: v.output.count / 2)
        #expect(out == [UInt8](hex: v.output), "\(v.name)")
    }

    /// The first output block is one HMAC: check the precomputed-state HMAC against swift-crypto's.
    @Test func firstBlockIsHMACSHA256() {
        let key = SystemRandom.bytes(32), label = Array("lbl".utf8), context = SystemRandom.bytes(32)
        let input = [0, 0, 0, 1] + label + [0] + context + [0, 0, 1, 0]
        let mac = Array(HMAC<SHA256>.authenticationCode(for: input, using: SymmetricKey(data: key)))
        #expect(CounterModeKDF(key: key).derive(label: label, context: context, byteCount: 32) == mac)
    }

    // The v2 blob vector: header || salt || AES-256-GCM(K_msg, 0^96, header || canonical context).
    static let material = "2e16c5b6a5118ec19957ce858bc544f0ff9a5f4dd498bd8ad67ef53a47e1db49"
    static let salt = "aa3ad16eca6a899e15bed55f7dd4d3a3203a805b2cb658152210ff9f36f8b74c"
    static let messageKey = "b1b461e5dfa661b2013fe24d5f5fa9a1fa36dbf10a6605be91bb98b68b5c0596"
    static let plaintext = "6b6e6f776e2d616e7377657220706c61696e7465787420666f7220666f726d6174207632"
    static let blob = "023131313132323232333333332431323334616263642d313261622d333463642d353665662d31323334353637383930616200000007aa3ad16eca6a899e15bed55f7dd4d3a3203a805b2cb658152210ff9f36f8b74ce631da75d04c59342808035aa476cbf5b5a1650cec4e56f488f680ec7ba5d92f60c76f606562b7b04d7a2d8a0f740af96badd88f"
    static let headerLength = 1 + 12 + 1 + 36 + 4
    /// canonical({"tenant": "42", "purpose": "kat"}): count, then pairs sorted by key.
    static let canonicalContext: [UInt8] = [0, 0, 0, 2] + [0, 0, 0, 7] + Array("purpose".utf8) + [0, 0, 0, 3] + Array("kat".utf8)
        + [0, 0, 0, 6] + Array("tenant".utf8) + [0, 0, 0, 2] + Array("42".utf8)

    @Test func messageKeyAndSealMatchTheVector() throws {
        let cipher = try [UInt8](hex: Self.material).withUnsafeBytes { try MessageKeyAESGCM(material: $0) }
        #expect(cipher.messageKey(salt: [UInt8](hex: Self.salt)) == [UInt8](hex: Self.messageKey))
        let blob = [UInt8](hex: Self.blob)
        let header = Array(blob[..<Self.headerLength])
        var out = header + [UInt8](hex: Self.salt)
        let aad = header + Self.canonicalContext
        try [UInt8](hex: Self.plaintext).withUnsafeBytes { p in
            try [UInt8](hex: Self.salt).withUnsafeBytes { s in
                try aad.withUnsafeBytes { a in try cipher.seal(p, salt: s, authenticating: a, appendingTo: &out) }
            }
        }
        #expect(out == blob)
        let body = Array(blob[(Self.headerLength + 32)...])
        let opened = try body.withUnsafeBytes { all in
            try [UInt8](hex: Self.salt).withUnsafeBytes { s in
                try aad.withUnsafeBytes { a in
                    try cipher.open(UnsafeRawBufferPointer(rebasing: all[..<(all.count - 16)]),
                                    tag: UnsafeRawBufferPointer(rebasing: all[(all.count - 16)...]), salt: s, authenticating: a)
                }
            }
        }
        #expect(opened == [UInt8](hex: Self.plaintext))
        // The derived key is plain AES-256-GCM with a zero nonce (swift-crypto agrees).
        let box = try AES.GCM.seal([UInt8](hex: Self.plaintext), using: SymmetricKey(data: [UInt8](hex: Self.messageKey)),
                                   nonce: AES.GCM.Nonce(data: [UInt8](repeating: 0, count: 12)), authenticating: aad)
        #expect(Array(box.ciphertext) + Array(box.tag) == body)
    }

    @Test func differentSaltsGiveDifferentKeysAndAWrongSaltFails() throws {
        let cipher = try SystemRandom.bytes(32).withUnsafeBytes { try MessageKeyAESGCM(material: $0) }
        let s1 = SystemRandom.bytes(32), s2 = SystemRandom.bytes(32)
        #expect(cipher.messageKey(salt: s1) != cipher.messageKey(salt: s2))
        var sealed: [UInt8] = []
        let plain = Array("x".utf8)
        try plain.withUnsafeBytes { p in
            try s1.withUnsafeBytes { s in try cipher.seal(p, salt: s, authenticating: UnsafeRawBufferPointer(start: nil, count: 0), appendingTo: &sealed) }
        }
        #expect(throws: KMSCryptoError.self) {
            try sealed.withUnsafeBytes { all in
                try s2.withUnsafeBytes { s in
                    try cipher.open(UnsafeRawBufferPointer(rebasing: all[..<1]), tag: UnsafeRawBufferPointer(rebasing: all[1...]),
                                    salt: s, authenticating: UnsafeRawBufferPointer(start: nil, count: 0))
                }
            }
        }
    }

    /// Pooled contexts are re-keyed per call: concurrent calls must never see each
    /// other's key. Each result is checked against swift-crypto under the expected K_msg.
    @Test func oneMaterialUsedFromManyThreads() throws {
        let cipher = try SystemRandom.bytes(32).withUnsafeBytes { try MessageKeyAESGCM(material: $0) }
        let failures = Atomic(0)
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            for j in 0..<200 {
                let salt = SystemRandom.bytes(32), plaintext = Array("message \(i) \(j)".utf8), aad = [UInt8(i)]
                var sealed: [UInt8] = []
                let ok = (try? plaintext.withUnsafeBytes { p in
                    try salt.withUnsafeBytes { s in
                        try aad.withUnsafeBytes { a in try cipher.seal(p, salt: s, authenticating: a, appendingTo: &sealed) }
                    }
                }) != nil
                let box = try? AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: [UInt8](repeating: 0, count: 12)),
                                                 ciphertext: sealed.dropLast(16), tag: sealed.suffix(16))
                let outside = box.flatMap { try? AES.GCM.open($0, using: SymmetricKey(data: cipher.messageKey(salt: salt)), authenticating: aad) }
                let opened = try? sealed.withUnsafeBytes { all in
                    try salt.withUnsafeBytes { s in
                        try aad.withUnsafeBytes { a in
                            try cipher.open(UnsafeRawBufferPointer(rebasing: all[..<(all.count - 16)]),
                                            tag: UnsafeRawBufferPointer(rebasing: all[(all.count - 16)...]), salt: s, authenticating: a)
                        }
                    }
                }
                if !ok || outside.map(Array.init) != plaintext || opened != plaintext { failures.add(1, ordering: .relaxed) }
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
    }

    @Test func secretBytesAreHeldAndCopied() {
        var source: [UInt8] = Array(0..<200)
        let secret = SecretBytes(copying: source.withUnsafeBytes { UnsafeRawBufferPointer($0) })
        #expect(secret.count == 200)
        #expect(secret.bytes == source)
        // Slots are page-internal but never overlap: many small secrets keep their bytes.
        let many = (0..<300).map { i in SecretBytes(consuming: [UInt8](repeating: UInt8(i % 251), count: 32)) }
        for (i, s) in many.enumerated() { #expect(s.bytes == [UInt8](repeating: UInt8(i % 251), count: 32)) }
        // A large secret gets its own mapping.
        let large = SecretBytes(consuming: [UInt8](repeating: 7, count: 10_000))
        #expect(large.bytes == [UInt8](repeating: 7, count: 10_000))
        source[0] = 1
        #expect(secret.bytes[0] == 0)  // a copy, not a view of the caller's array
    }

    /// Wiping a consumed array must never reach another holder's copy (copy-on-write).
    @Test func consumingInitLeavesSharedArraysIntact() {
        let kept = [UInt8](repeating: 0xAB, count: 32)
        let secret = SecretBytes(consuming: kept)
        #expect(secret.bytes == kept)
        #expect(kept == [UInt8](repeating: 0xAB, count: 32))
    }
}
