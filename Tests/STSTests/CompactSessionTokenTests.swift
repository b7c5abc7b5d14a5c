import Crypto
import Foundation
import IAMPolicy
import Testing
@testable import STS

/// Version-2 session tokens (CompactSessionToken): every field survives the round trip,
/// derived fields come back byte for byte, the access key ID is bound as associated data,
/// version-1 tokens still open, and malformed plaintexts are refused without a crash.
@Suite struct CompactSessionTokenTests {
    let sealer = SessionTokenSealer(key: SymmetricKey(size: .bits256))
    static let account = "111122223333"

    static func key(_ account: String = account) -> String { AccessKeyID.make(prefix: "ASIA", account: account) }

    /// A typical AssumeRole session: no tags, no session policy, as STSService builds it.
    static func assumedRole(roleArn: String = "arn:aws:iam::111122223333:role/R", name: String = "R",
                            session: String = "s1", tags: [String: String] = [:], policy: String? = nil,
                            policyArns: [String]? = nil, sourceIdentity: String? = nil,
                            issuedFor: String = "arn:aws:iam::111122223333:user/bob") -> STSSession {
        STSSession(kind: .assumedRole, accessKeyId: key(), secretAccessKey: AccessKeyID.newSecret(), account: account,
                   arn: "arn:aws:sts::\(account):assumed-role/\(name)/\(session)", userId: "AROAEXAMPLEROLEID1234:\(session)",
                   roleArn: roleArn, roleId: "AROAEXAMPLEROLEID1234", sessionName: session, sourceIdentity: sourceIdentity,
                   tags: tags, policy: policy, policyArns: policyArns, issuedFor: issuedFor,
                   issued: 1_700_000_000, expires: 1_700_003_600)
    }

    /// Every shape of session STSService issues, and some it never does (nothing derivable).
    static var sessions: [STSSession] {
        [
            assumedRole(),
            assumedRole(roleArn: "arn:aws:iam::111122223333:role/team/a/Deploy", name: "Deploy", session: "ci@example.com"),
            assumedRole(tags: ["team": "a", "Project": "ünïcode ✓", "": ""],
                        policy: #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#,
                        policyArns: ["arn:aws:iam::111122223333:policy/P1", "arn:aws:iam::aws:policy/ReadOnlyAccess"],
                        sourceIdentity: "alice"),
            assumedRole(policyArns: []),
            // Web identity: issued for the OIDC provider, carrying the role's tags.
            assumedRole(tags: ["env": "prod"], issuedFor: "arn:aws:iam::111122223333:oidc-provider/oidc.example.com/tenant"),
            // A chained session: issued for another session.
            assumedRole(session: "chained", sourceIdentity: "alice", issuedFor: "arn:aws:sts::111122223333:assumed-role/R/s1"),
            // GetSessionToken for the account root and for a user.
            STSSession(kind: .sessionToken, accessKeyId: key(), secretAccessKey: AccessKeyID.newSecret(), account: account,
                       arn: "arn:aws:iam::111122223333:root", userId: account, issuedFor: "arn:aws:iam::111122223333:root",
                       issued: 1_700_000_000.25, expires: 1_700_043_200.25),
            STSSession(kind: .sessionToken, accessKeyId: key(), secretAccessKey: AccessKeyID.newSecret(), account: account,
                       arn: "arn:aws:iam::111122223333:user/path/bob", userId: "AIDAEXAMPLEUSERID123", tags: ["dept": "x"],
                       issuedFor: "arn:aws:iam::111122223333:user/path/bob", issued: 1_700_000_000, expires: 1_700_000_900),
            // Nothing derivable: a key ID that encodes no account, a secret outside the alphabet,
            // an ARN and user ID that are not the role's, fractional times, ARNs in no account.
            STSSession(kind: .assumedRole, accessKeyId: "ASIAFAKE", secretAccessKey: "short secret é", account: "dev",
                       arn: "arn:aws:sts::dev:assumed-role/Other/x", userId: "custom", roleArn: "no-slash", roleId: "",
                       sessionName: "s", tags: [:], issuedFor: "", issued: 1.5, expires: 0.75),
            STSSession(kind: .sessionToken, accessKeyId: key("999999999999"), secretAccessKey: AccessKeyID.newSecret(),
                       account: account, arn: "arn:aws:iam::999999999999:user/x", userId: "AIDA", roleArn: nil,
                       issuedFor: "arn:aws:iam::999999999999:user/x", issued: -1, expires: Double(UInt32.max) * 2),
        ]
    }

    @Test func everyFieldRoundTrips() throws {
        for s in Self.sessions {
            let token = try sealer.seal(s)
            #expect(Base64URL.decode(token)?.first == SessionTokenSealer.compactVersion)
            let opened = try sealer.open(token, accessKeyId: s.accessKeyId)
            #expect(opened == s)
            // Byte for byte, not only canonically equal (derived strings are rebuilt).
            for (a, b) in [(opened.arn, s.arn), (opened.userId, s.userId), (opened.account, s.account),
                           (opened.secretAccessKey, s.secretAccessKey), (opened.issuedFor, s.issuedFor)] {
                #expect(Array(a.utf8) == Array(b.utf8))
            }
            #expect(opened.principal == s.principal)
            // The codec alone, too.
            #expect(CompactSessionToken.decode(CompactSessionToken.encode(s), accessKeyId: s.accessKeyId) == s)
        }
    }

    @Test func typicalAssumeRoleTokenIsUnderHalfOfVersion1() throws {
        let s = Self.assumedRole()
        let v2 = try sealer.seal(s), v1 = try sealer.sealVersion1(s)
        #expect(v2.utf8.count * 2 < v1.utf8.count)
        #expect(v2.utf8.count < 200)
        // Opaque: nothing of the session is readable in it.
        let decoded = String(decoding: Base64URL.decode(v2) ?? [], as: UTF8.self)
        for needle in [s.secretAccessKey, s.accessKeyId, "assumed-role", "role/R", "bob", "AROA", "s1"] {
            #expect(!v2.contains(needle) && !decoded.contains(needle))
        }
        #expect(try sealer.seal(s) != v2)  // a fresh nonce each time
    }

    @Test func boundToItsAccessKeyId() throws {
        let s = Self.assumedRole()
        let token = try sealer.seal(s)
        for other in [Self.key(), s.accessKeyId.lowercased(), String(s.accessKeyId.dropLast()), s.accessKeyId + "A", ""] {
            #expect(throws: SessionTokenError.invalid) { try sealer.open(token, accessKeyId: other) }
            #expect(throws: SessionTokenError.invalid) { try sealer.verify(token, accessKeyId: other, now: 1_700_000_000) }
        }
        #expect(try sealer.verify(token, accessKeyId: s.accessKeyId, now: 1_700_000_000) == s)
        #expect(throws: SessionTokenError.expired) { try sealer.verify(token, accessKeyId: s.accessKeyId, now: 1_700_003_600) }
    }

    @Test func everyTamperedByteIsRefused() throws {
        let s = Self.assumedRole(tags: ["a": "b"], policy: "{}")
        let raw = try #require(Base64URL.decode(try sealer.seal(s)))
        for i in raw.indices {
            for flip: UInt8 in [0x01, 0x80, 0xFF] {
                var t = raw
                t[i] ^= flip
                #expect(throws: SessionTokenError.invalid) { try sealer.open(Base64URL.encode(t), accessKeyId: s.accessKeyId) }
            }
        }
        // A version-2 token relabelled as version 1 (and the reverse) does not open.
        var relabelled = raw
        relabelled[0] = SessionTokenSealer.version
        #expect(throws: SessionTokenError.invalid) { try sealer.open(Base64URL.encode(relabelled), accessKeyId: s.accessKeyId) }
        var v1 = try #require(Base64URL.decode(try sealer.sealVersion1(s)))
        v1[0] = SessionTokenSealer.compactVersion
        #expect(throws: SessionTokenError.invalid) { try sealer.open(Base64URL.encode(v1), accessKeyId: s.accessKeyId) }
    }

    @Test func version1TokensStillOpen() throws {
        for s in Self.sessions {
            let token = try sealer.sealVersion1(s)
            #expect(Base64URL.decode(token)?.first == SessionTokenSealer.version)
            #expect(try sealer.open(token, accessKeyId: s.accessKeyId) == s)
            #expect(try sealer.verify(token, accessKeyId: s.accessKeyId, now: min(s.issued, s.expires) - 1) == s)
            // Bound to its key by the carried ID, as before.
            #expect(throws: SessionTokenError.invalid) { try sealer.verify(token, accessKeyId: Self.key(), now: 0) }
        }
    }

    /// Seals `plaintext` as a version-2 token would be, so the decoder behind an intact seal is tested.
    func sealRaw(_ plaintext: [UInt8], accessKeyId: String) throws -> String {
        let box = try AES.GCM.seal(plaintext, using: sealer.key, nonce: AES.GCM.Nonce(),
                                   authenticating: SessionTokenSealer.compactAAD(accessKeyId: accessKeyId))
        return SessionTokenSealer.frame(SessionTokenSealer.compactVersion, box, count: plaintext.count)
    }

    @Test func malformedPlaintextsAreRefused() throws {
        let s = Self.assumedRole(tags: ["k": "v", "k2": "v2"], policy: "{}", policyArns: ["arn:aws:iam::111122223333:policy/P"],
                                 sourceIdentity: "src")
        let good = CompactSessionToken.encode(s)
        #expect(try sealer.open(try sealRaw(good, accessKeyId: s.accessKeyId), accessKeyId: s.accessKeyId) == s)
        // Every truncation and one trailing byte.
        for n in 0..<good.count {
            #expect(CompactSessionToken.decode(Array(good.prefix(n)), accessKeyId: s.accessKeyId) == nil)
        }
        #expect(CompactSessionToken.decode(good + [0], accessKeyId: s.accessKeyId) == nil)
        #expect(throws: SessionTokenError.invalid) {
            try sealer.open(try sealRaw(Array(good.prefix(40)), accessKeyId: s.accessKeyId), accessKeyId: s.accessKeyId)
        }
        // Unknown kind, unknown flag, contradictory flags.
        var bad = good; bad[0] = 2
        #expect(CompactSessionToken.decode(bad, accessKeyId: s.accessKeyId) == nil)
        bad = good; bad[2] |= 0x80
        #expect(CompactSessionToken.decode(bad, accessKeyId: s.accessKeyId) == nil)
        bad = good; bad[1] |= 0x18
        #expect(CompactSessionToken.decode(bad, accessKeyId: s.accessKeyId) == nil)
        // Hand-built: header, then a string whose length runs past the end, an overlong
        // (non-minimal or four-byte) length, a huge tag count, a duplicate tag, invalid UTF-8.
        func header(_ flags: CompactSessionToken.Flags) -> [UInt8] {
            [1, UInt8(flags.rawValue & 0xFF), UInt8(flags.rawValue >> 8)] + Array(repeating: 0, count: 8) + [0x10, 0x0E, 0, 0]
        }
        let base: CompactSessionToken.Flags = [.accountFromKeyId, .userIdIsAccount, .durationExpiry]
        let tail: [UInt8] = [0, 0, 0, 0]  // arn literal "", issuedFor literal ""
        let valid = header(base) + [3] + Array("abc".utf8) + tail
        #expect(CompactSessionToken.decode(valid, accessKeyId: s.accessKeyId)?.secretAccessKey == "abc")
        let cases: [[UInt8]] = [
            header(base) + [0x7F] + Array("abc".utf8) + tail,                 // length past the end
            header(base) + [0xFF, 0xFF, 0xFF, 0x7F] + tail,                    // four-byte length
            header(base) + [0x83, 0x00] + Array("abc".utf8) + tail,            // non-minimal length
            header(base) + [0xFF, 0xFF, 0xFF] ,                                // unterminated length
            header(base) + [2, 0xC3, 0x28] + tail,                             // invalid UTF-8
            header(base) + [0] + [9, 0],                                       // ARN prefix byte out of range
            header(base.union(.tags)) + [0] + [0, 0] + [0xFF, 0xFF, 0x7F] + tail,  // tag count beyond the bytes
            header(base.union(.tags)) + [0] + [0, 0] + [0] + tail,            // tag flag with no tags
            header(base.union(.tags)) + [0] + [0, 0] + [2, 1, 0x6B, 0, 1, 0x6B, 0] + [0, 0],  // duplicate tag key
            header(base.union(.policyArns)) + [0] + [0, 0] + [0xFF, 0x7F] + tail,   // ARN count beyond the bytes
            header(base.union(.derivedArn)) + [0] + [0, 0],                    // derived ARN without a role
            header(base.subtracting(.userIdIsAccount).union(.derivedUserId)) + [0] + [0, 0] + [0, 0],  // derived user ID without a role
        ]
        for c in cases {
            #expect(CompactSessionToken.decode(c, accessKeyId: s.accessKeyId) == nil)
            #expect(throws: SessionTokenError.invalid) { try sealer.open(try sealRaw(c, accessKeyId: s.accessKeyId), accessKeyId: s.accessKeyId) }
        }
        // An account encoded in no key ID cannot be derived.
        #expect(CompactSessionToken.decode(valid, accessKeyId: "ASIAFAKE") == nil)
    }

    /// Random corruption of valid plaintexts: every answer is a session or nil, never a crash.
    @Test func randomCorruptionNeverCrashes() {
        var rng = SystemRandomNumberGenerator()
        var opened = 0
        for s in Self.sessions {
            let good = CompactSessionToken.encode(s)
            for _ in 0..<2_000 {
                var bytes = good
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
                if Bool.random(using: &rng) { bytes.removeLast(Int.random(in: 0..<bytes.count, using: &rng)) }
                if CompactSessionToken.decode(bytes, accessKeyId: s.accessKeyId) != nil { opened += 1 }
            }
        }
        #expect(opened < Self.sessions.count * 2_000)
    }
}
