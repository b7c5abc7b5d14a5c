import Foundation
import Testing
@testable import SigV4

@Suite struct SigningKeyCacheTests {
    // SymmetricKey is ContiguousBytes; naming it would need `import Crypto`, which this target does not declare.
    func hex(_ key: some ContiguousBytes) -> String {
        key.withUnsafeBytes { ASCII.hex($0) }
    }

    /// Includes AWS's published example (20150830/us-east-1/iam).
    @Test(arguments: Fixtures.signingKeys.indices)
    func derivationMatchesBotocore(_ index: Int) {
        let k = Fixtures.signingKeys[index]
        let fresh = SigningKeyCache.deriveSigningKey(
            secretAccessKey: k.secretAccessKey, date: k.date, region: k.region, service: k.service)
        #expect(hex(fresh) == k.keyHex)
    }

    @Test func cachedKeyEqualsFreshDerivation() {
        let cache = SigningKeyCache()
        for k in Fixtures.signingKeys {
            let first = cache.signingKey(secretAccessKey: k.secretAccessKey, date: k.date, region: k.region, service: k.service)
            let second = cache.signingKey(secretAccessKey: k.secretAccessKey, date: k.date, region: k.region, service: k.service)
            let fresh = SigningKeyCache.deriveSigningKey(
                secretAccessKey: k.secretAccessKey, date: k.date, region: k.region, service: k.service)
            #expect(hex(first) == hex(fresh))
            #expect(hex(second) == hex(fresh))
            #expect(hex(second) == k.keyHex)
        }
        #expect(cache.count == Fixtures.signingKeys.count)
    }

    @Test func cachedMACIsKeyedWithTheSigningKey() {
        let cache = SigningKeyCache()
        let entry = cache.entry(secretAccessKey: "s", date: "20261123", region: "us-east-1", service: "kms")
        let keyBytes = entry.key.withUnsafeBytes { Array($0) }
        for length in [0, 1, 55, 56, 63, 64, 65, 200] {
            let message = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let expected = HMACSHA256(key: keyBytes).authenticationCode(for: message).bytes
            #expect(entry.mac.authenticationCode(for: message).bytes == expected, "length \(length)")
            // The cached state is reused: a second message must not see the first.
            #expect(entry.mac.authenticationCode(for: message).bytes == expected)
        }
    }

    /// RFC 4231 test cases 1, 2, 3, 4, 6 and 7 (keys of 20, 4, 20, 25 and 131 bytes).
    @Test(arguments: [
        (Array(repeating: UInt8(0x0b), count: 20), Array("Hi There".utf8),
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        (Array("Jefe".utf8), Array("what do ya want for nothing?".utf8),
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        (Array(repeating: UInt8(0xaa), count: 20), Array(repeating: UInt8(0xdd), count: 50),
         "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        (Array(UInt8(1)...UInt8(25)), Array(repeating: UInt8(0xcd), count: 50),
         "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
        (Array(repeating: UInt8(0xaa), count: 131), Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        (Array(repeating: UInt8(0xaa), count: 131),
         Array(("This is a test using a larger than block-size key and a larger than block-size data. "
             + "The key needs to be hashed before being used by the HMAC algorithm.").utf8),
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
    ])
    func hmacRFC4231(_ key: [UInt8], _ data: [UInt8], _ expected: String) {
        #expect(ASCII.hex(HMACSHA256(key: key).authenticationCode(for: data).bytes) == expected)
    }

    /// Keys around the 64-byte block size; expected values from Python's hmac module.
    @Test(arguments: [
        (0, "fb011e6154a19b9a4c767373c305275a5a69e8b68b0b4c9200c383dced19a416"),
        (63, "844f81f444ceddbdf7741e3fac8db2503e50352537aa049abd85b131e1967d27"),
        (64, "1c935c243397e8b8a22ae967e10f695ed9997de7a469b9ea04ff3a62b0069988"),
        (65, "837f9487830e2d3d35ce41d427706db62074126f4e75a1a1885ae8e9a85242f0"),
    ])
    func hmacAroundBlockSize(_ keyLength: Int, _ expected: String) {
        let key = (0..<keyLength).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        let mac = HMACSHA256(key: key).authenticationCode(for: Array("The quick brown fox jumps over the lazy dog".utf8))
        #expect(ASCII.hex(mac.bytes) == expected)
    }

    @Test func everyScopePartMatters() {
        let cache = SigningKeyCache()
        let base = hex(cache.signingKey(secretAccessKey: "s", date: "20261123", region: "us-east-1", service: "kms"))
        #expect(hex(cache.signingKey(secretAccessKey: "t", date: "20261123", region: "us-east-1", service: "kms")) != base)
        #expect(hex(cache.signingKey(secretAccessKey: "s", date: "20261124", region: "us-east-1", service: "kms")) != base)
        #expect(hex(cache.signingKey(secretAccessKey: "s", date: "20261123", region: "us-east-2", service: "kms")) != base)
        #expect(hex(cache.signingKey(secretAccessKey: "s", date: "20261123", region: "us-east-1", service: "kmt")) != base)
        #expect(cache.count == 5)
    }

    @Test func staysBounded() {
        let cache = SigningKeyCache(limit: 8)
        for i in 0..<100 {
            _ = cache.signingKey(secretAccessKey: "secret\(i)", date: "20261123", region: "us-east-1", service: "kms")
            #expect(cache.count <= 8)
        }
        let k = cache.signingKey(secretAccessKey: "secret99", date: "20261123", region: "us-east-1", service: "kms")
        #expect(hex(k) == hex(SigningKeyCache.deriveSigningKey(
            secretAccessKey: "secret99", date: "20261123", region: "us-east-1", service: "kms")))
        cache.removeAll()
        #expect(cache.count == 0)
    }

    @Test func concurrentUseAgreesWithFreshDerivation() async {
        let cache = SigningKeyCache(limit: 16)
        let secrets = (0..<24).map { "secret-\($0)" }
        let expected = secrets.map {
            hex(SigningKeyCache.deriveSigningKey(secretAccessKey: $0, date: "20261123", region: "eu-west-1", service: "kms"))
        }
        let mismatches = await withTaskGroup(of: Int.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var bad = 0
                    for round in 0..<300 {
                        let i = (worker * 7 + round) % secrets.count
                        let key = cache.signingKey(
                            secretAccessKey: secrets[i], date: "20261123", region: "eu-west-1", service: "kms")
                        if hex(key) != expected[i] { bad += 1 }
                    }
                    return bad
                }
            }
            return await group.reduce(0, +)
        }
        #expect(mismatches == 0)
        #expect(cache.count <= 16)
    }
}
