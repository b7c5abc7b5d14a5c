import Crypto
import Foundation
import IAMPolicy
import Testing
@testable import STS

@Suite struct SessionTokenTests {
    let sealer = SessionTokenSealer(key: SymmetricKey(size: .bits256))

    func session(expires: Double = 2_000_000_000) -> STSSession {
        STSSession(kind: .assumedRole, accessKeyId: AccessKeyID.make(prefix: "ASIA", account: "111122223333"),
                   secretAccessKey: AccessKeyID.newSecret(), account: "111122223333",
                   arn: "arn:aws:sts::111122223333:assumed-role/R/s1", userId: "AROAEXAMPLE:s1",
                   roleArn: "arn:aws:iam::111122223333:role/R", roleId: "AROAEXAMPLE", sessionName: "s1",
                   tags: ["team": "a"], policy: #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#,
                   issuedFor: "arn:aws:iam::111122223333:user/bob", issued: 1_700_000_000, expires: expires)
    }

    @Test func roundTripAndOpacity() throws {
        let s = session()
        let token = try sealer.seal(s)
        #expect(try sealer.open(token, accessKeyId: s.accessKeyId) == s)
        // Opaque: neither the secret, the key ID, the ARN nor the policy can be read from it.
        for needle in [s.secretAccessKey, s.accessKeyId, "assumed-role", "kms:*", "111122223333"] {
            #expect(!token.contains(needle))
            let decoded = Base64URL.decode(token) ?? []
            #expect(!String(decoding: decoded, as: UTF8.self).contains(needle))
        }
        // Two seals of the same session differ (fresh nonce).
        #expect(try sealer.seal(s) != token)
    }

    @Test func everyTamperedByteIsRefused() throws {
        let s = session()
        let token = try sealer.seal(s)
        let raw = try #require(Base64URL.decode(token))
        for i in raw.indices {
            for flip: UInt8 in [0x01, 0x80] {
                var t = raw
                t[i] ^= flip
                #expect(throws: SessionTokenError.invalid) { try sealer.open(Base64URL.encode(t), accessKeyId: s.accessKeyId) }
            }
        }
        // Every character of the text form, too (including non-canonical spellings).
        var chars = Array(token.utf8)
        for i in chars.indices {
            let saved = chars[i]
            chars[i] = saved == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
            #expect(throws: SessionTokenError.invalid) { try sealer.open(String(decoding: chars, as: UTF8.self), accessKeyId: s.accessKeyId) }
            chars[i] = saved
        }
        // Truncated, extended, empty, garbage, oversized.
        #expect(throws: SessionTokenError.invalid) { try sealer.open(String(token.dropLast(4)), accessKeyId: s.accessKeyId) }
        #expect(throws: SessionTokenError.invalid) { try sealer.open(token + "AAAA", accessKeyId: s.accessKeyId) }
        #expect(throws: SessionTokenError.invalid) { try sealer.open("", accessKeyId: s.accessKeyId) }
        #expect(throws: SessionTokenError.invalid) { try sealer.open("not a token!", accessKeyId: s.accessKeyId) }
        #expect(throws: SessionTokenError.invalid) { try sealer.open(String(repeating: "A", count: SessionTokenSealer.maxTokenLength + 4), accessKeyId: s.accessKeyId) }
    }

    @Test func anotherServerKeyCannotOpen() throws {
        let s = session()
        let token = try sealer.seal(s)
        let other = SessionTokenSealer(key: SymmetricKey(size: .bits256))
        #expect(throws: SessionTokenError.invalid) { try other.open(token, accessKeyId: s.accessKeyId) }
    }

    @Test func boundToItsAccessKeyAndExpiry() throws {
        let s = session(expires: 1_700_003_600)
        let token = try sealer.seal(s)
        #expect(try sealer.verify(token, accessKeyId: s.accessKeyId, now: 1_700_000_000) == s)
        let otherKey = AccessKeyID.make(prefix: "ASIA", account: "111122223333")
        #expect(throws: SessionTokenError.invalid) { try sealer.verify(token, accessKeyId: otherKey, now: 1_700_000_000) }
        #expect(throws: SessionTokenError.expired) { try sealer.verify(token, accessKeyId: s.accessKeyId, now: 1_700_003_600) }
        #expect(throws: SessionTokenError.expired) { try sealer.verify(token, accessKeyId: s.accessKeyId, now: 1_800_000_000) }
        // Binding is checked before expiry: an expired token with a wrong key is invalid.
        #expect(throws: SessionTokenError.invalid) { try sealer.verify(token, accessKeyId: otherKey, now: 1_800_000_000) }
    }

    @Test func accessKeyIdsEncodeTheAccount() {
        for account in ["111122223333", "000000000000", "999999999999", "123456789012"] {
            let id = AccessKeyID.make(prefix: "ASIA", account: account)
            #expect(id.hasPrefix("ASIA") && id.utf8.count == 20)
            #expect(AccessKeyID.account(of: id) == account)
        }
        // AWS's documented example key decodes to its documented account.
        #expect(AccessKeyID.account(of: "ASIAY34FZKBOKMUTVV7A") == "609629065308")
        #expect(AccessKeyID.account(of: "short") == nil)
    }

    @Test func cacheIsBoundedLRU() {
        let cache = SessionTokenCache<Int>(capacity: 3)
        let k = (0..<5).map { SessionTokenCache<Int>.Key(token: "token-\($0)") }
        cache.insert(0, for: k[0]); cache.insert(1, for: k[1]); cache.insert(2, for: k[2])
        #expect(cache.value(for: k[0]) == 0)  // 0 is now the most recent
        cache.insert(3, for: k[3])            // evicts 1, the least recent
        #expect(cache.value(for: k[1]) == nil)
        #expect(cache.value(for: k[0]) == 0 && cache.value(for: k[2]) == 2 && cache.value(for: k[3]) == 3)
        cache.insert(4, for: k[4])            // evicts 0: read before 2 and 3 in the line above
        #expect(cache.count == 3)
        #expect(cache.value(for: k[0]) == nil)
    }
}
