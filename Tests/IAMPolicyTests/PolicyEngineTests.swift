import Foundation
import Testing
@testable import IAMPolicy

/// Focused tests of the engine's parts: AWS's AccessDenied wording, wildcard matching and its
/// bound, date and CIDR parsing, compile-once fast paths, and the cost of one decision.
@Suite struct PolicyEngineTests {
    static let key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    static let alice = RequestPrincipal.user("arn:aws:iam::111122223333:user/alice")

    func context(_ action: String = "kms:Decrypt", principal: RequestPrincipal = alice, conditions: [String: [String]] = [:]) -> AuthorizationContext {
        AuthorizationContext(principal: principal, action: action, resource: Self.key, conditions: conditions)
    }

    @Test func accessDeniedMessagesAreWordedAsAWS() throws {
        let none = try CompiledPolicy(#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"kms:*","Resource":"*"}]}"#, kind: .resourceBased)
        let c = context()
        #expect(PolicyEvaluator(resourcePolicy: none).evaluate(c).accessDeniedMessage(for: c) ==
            "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: kms:Decrypt on resource: \(Self.key) because no resource-based policy allows the kms:Decrypt action")

        let deny = try CompiledPolicy(#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*"}]}"#, kind: .resourceBased)
        #expect(PolicyEvaluator(resourcePolicy: deny).evaluate(c).accessDeniedMessage(for: c) ==
            "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: kms:Decrypt on resource: \(Self.key) with an explicit deny in a resource-based policy")

        let root = try CompiledPolicy(#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}"#, kind: .resourceBased)
        #expect(PolicyEvaluator(resourcePolicy: root).evaluate(c).accessDeniedMessage(for: c) ==
            "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: kms:Decrypt on resource: \(Self.key) because no identity-based policy allows the kms:Decrypt action")

        let idDeny = try CompiledPolicy(#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"kms:*","Resource":"*"}}"#, kind: .identityBased)
        #expect(PolicyEvaluator(resourcePolicy: root, identityPolicies: [idDeny]).evaluate(c).accessDeniedMessage(for: c) ==
            "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: kms:Decrypt on resource: \(Self.key) with an explicit deny in an identity-based policy")

        let allowAll = try CompiledPolicy(#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}"#, kind: .identityBased)
        let onlyEncrypt = try CompiledPolicy(#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}}"#, kind: .identityBased)
        let session = RequestPrincipal.assumedRole(roleArn: "arn:aws:iam::111122223333:role/Worker", session: "s1")
        let sc = context(principal: session)
        #expect(PolicyEvaluator(resourcePolicy: root, identityPolicies: [allowAll], sessionPolicies: [onlyEncrypt]).evaluate(sc).accessDeniedMessage(for: sc) ==
            "User: arn:aws:sts::111122223333:assumed-role/Worker/s1 is not authorized to perform: kms:Decrypt on resource: \(Self.key) because no session policy allows the kms:Decrypt action")
        #expect(PolicyEvaluator(resourcePolicy: root, identityPolicies: [allowAll]).evaluate(sc).accessDeniedMessage(for: sc) == nil)
    }

    /// A repeated top-level member is refused as a duplicate whatever its values, so the
    /// verdict does not depend on which copy is read first (found by FuzzPolicy, seed 1).
    @Test func aDuplicateMemberIsRefusedBeforeItsValueIsJudged() {
        let statement = #""Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Encrypt","Resource":"*"}]"#
        for doc in [#"{"Version":"2.0","Version":"2012-10-17","# + statement + "}",
                    #"{"Version":"2012-10-17","Version":"2.0","# + statement + "}"] {
            do {
                _ = try CompiledPolicy(doc, kind: .resourceBased)
                Issue.record("accepted: \(doc)")
            } catch {
                #expect(error.message == "The policy document contains a duplicate element: Version")
            }
        }
    }

    @Test func wildcardMatching() {
        #expect(Wildcard("*").matches(""))
        #expect(Wildcard("a*").matches("a"))
        #expect(Wildcard("*a").matches("ba"))
        #expect(!Wildcard("*a").matches("ab"))
        #expect(Wildcard("a?c").matches("abc"))
        #expect(!Wildcard("a?c").matches("ac"))
        #expect(Wildcard("a*b?d*").matches("aXXbcdYY"))
        #expect(Wildcard("**").matches("anything"))
        #expect(Wildcard("a*", wildcards: false).matches("a*"))
        #expect(!Wildcard("a*", wildcards: false).matches("ab"))
        #expect(Wildcard("KMS:Get*", lowercase: true).matches("kms:getkeypolicy"))
        // compile-time fast paths
        #expect(Wildcard("*").kind == .anything)
        #expect(Wildcard("kms:decrypt").kind == .literal && Wildcard("kms:decrypt").bytes == Array("kms:decrypt".utf8))
        #expect(Wildcard("kms:get*").kind == .prefix && Wildcard("kms:get*").bytes == Array("kms:get".utf8))
        #expect(Wildcard("kms:*key").kind == .general)
    }

    /// The two-pointer glob is O(pattern × text): a hostile pattern against a long value
    /// returns in milliseconds (exponential backtracking would take years).
    @Test func wildcardWorkIsBounded() {
        let pattern = Wildcard(String(repeating: "*a", count: 200) + "*b")
        let text = String(repeating: "a", count: 20_000)
        let start = ContinuousClock.now
        #expect(!pattern.matches(text))
        #expect(ContinuousClock.now - start < .seconds(2))
    }

    @Test func dates() {
        #expect(PolicyDate.parse("1970-01-01T00:00:00Z") == 0)
        #expect(PolicyDate.parse("2000-03-01") == 951_868_800)
        #expect(PolicyDate.parse("2024-06-30T00:00:00Z") == 1_719_705_600)
        #expect(PolicyDate.parse("2024-06-30T02:00:00+02:00") == 1_719_705_600)
        #expect(PolicyDate.parse("2024-06-29T19:00:00-05:00") == 1_719_705_600)
        #expect(PolicyDate.parse("2024-06-30T00:00:00.250Z") == 1_719_705_600.25)
        #expect(PolicyDate.parse("1719705600") == 1_719_705_600)
        #expect(PolicyDate.parse("2024-13-01") == nil)
        #expect(PolicyDate.parse("2024-06-30T25:00:00Z") == nil)
        #expect(PolicyDate.parse("yesterday") == nil)
        #expect(PolicyDate.parse("") == nil)
    }

    @Test func cidrBlocks() throws {
        let v4 = try #require(CIDRBlock("10.1.0.0/16"))
        #expect(v4.contains("10.1.255.3"))
        #expect(!v4.contains("10.2.0.1"))
        #expect(!v4.contains("::ffff:10.1.0.1"))
        let v6 = try #require(CIDRBlock("2001:db8::/33"))
        #expect(v6.contains("2001:db8:7fff::1"))
        #expect(!v6.contains("2001:db8:8000::1"))
        #expect(CIDRBlock("10.0.0.0/33") == nil)
        #expect(CIDRBlock("10.0.0.0/-1") == nil)
        #expect(CIDRBlock("2001:db8::/129") == nil)
        #expect(CIDRBlock("10.0.0") == nil)
        #expect(CIDRBlock("") == nil)
        #expect(try #require(CIDRBlock("0.0.0.0/0")).contains("255.255.255.255"))
    }

    @Test func policiesAreCompiledOnce() throws {
        let p = try CompiledPolicy(#"{"Version":"2012-10-17","Statement":[{"Sid":"S","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":["KMS:Decrypt","kms:Get*"],"Resource":"arn:aws:kms:*:111122223333:key/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"NumericLessThan":{"kms:X":"7"}}}]}"#, kind: .resourceBased)
        let s = try #require(p.statements.first)
        #expect(s.actions.map(\.kind) == [.literal, .prefix])
        #expect(s.actions.map(\.bytes) == [Array("kms:decrypt".utf8), Array("kms:get".utf8)])
        #expect(s.principals == [.account("111122223333")])
        #expect(s.resources.first?.fields?.count == 6)
        #expect(s.conditions.count == 2)
        #expect(s.conditions.contains { $0.values == [.number(7)] })
        #expect(s.conditions.contains { if case .cidr = $0.values.first { return true } else { return false } })
    }

    @Test func defaultKeyPolicyCompiles() throws {
        let text = """
        {
          "Version" : "2012-10-17",
          "Id" : "key-default-1",
          "Statement" : [ {
            "Sid" : "Enable IAM User Permissions",
            "Effect" : "Allow",
            "Principal" : {
              "AWS" : "arn:aws:iam::111122223333:root"
            },
            "Action" : "kms:*",
            "Resource" : "*"
          } ]
        }
        """
        let p = try CompiledPolicy(text, kind: .resourceBased)
        #expect(p.id == "key-default-1")
        #expect(p.version == "2012-10-17")
        let root = AuthorizationContext(principal: .root("111122223333"), action: "kms:PutKeyPolicy", resource: Self.key)
        #expect(PolicyEvaluator(resourcePolicy: p).evaluate(root).isAllowed)
    }

    /// Hostile input never crashes the compiler or the evaluator: truncations and byte
    /// mutations of a policy using every feature either compile and evaluate, or throw.
    @Test func mutatedDocumentsNeverCrash() {
        let base = #"{"Version":"2012-10-17","Id":"x","Statement":[{"Sid":"A","Effect":"Allow","Principal":{"AWS":["111122223333","arn:aws:sts::111122223333:assumed-role/R/s"],"Service":"s3.amazonaws.com"},"Action":["kms:*Crypt?","kms:Get*"],"Resource":"arn:aws:kms:*:${aws:PrincipalAccount}:key/*","Condition":{"ForAnyValue:StringLike":{"aws:TagKeys":["a*b${*}","${aws:username, 'd'}"]},"IpAddressIfExists":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]},"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00+01:00"},"NumericGreaterThan":{"kms:X":-1.5e3},"Bool":{"aws:SecureTransport":true},"BinaryEquals":{"kms:B":"AAEC"},"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/*"},"Null":{"kms:Y":"false"}}},{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/u\u00e9"},"NotAction":"kms:Decrypt","NotResource":"arn:aws:kms:us-east-1:111122223333:alias/*"}]}"#
        let bytes = Array(base.utf8)
        #expect((try? CompiledPolicy(base, kind: .resourceBased)) != nil)
        let c = context(conditions: ["aws:TagKeys": ["axb", "a*b*"], "aws:SourceIp": ["10.1.1.1"], "kms:X": ["0"], "aws:CurrentTime": ["2029-01-01T00:00:00Z"]])
        var rng = SplitMix64(seed: 0x1A4_B0D1)  // fixed seed: a failure reproduces
        let alphabet = Array(#"{}[]":,*?$\ aZ09-/.eE+"#.utf8)
        var compiled = 0
        for i in 0..<3_000 {
            var m = bytes
            if i < bytes.count / 4 {
                m = Array(bytes.prefix(i * 4))
            } else {
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    let at = Int.random(in: 0..<m.count, using: &rng)
                    switch Int.random(in: 0..<3, using: &rng) {
                    case 0: m[at] = alphabet.randomElement(using: &rng) ?? 0x20
                    case 1: m.remove(at: at)
                    default: m.insert(alphabet.randomElement(using: &rng) ?? 0x20, at: at)
                    }
                    if m.isEmpty { break }
                }
            }
            guard let p = try? CompiledPolicy(String(decoding: m, as: UTF8.self), kind: .resourceBased) else { continue }
            compiled += 1
            _ = PolicyEvaluator(resourcePolicy: p).evaluate(c)
        }
        #expect(compiled > 0)
    }

    /// One decision against a key policy of ten statements with conditions plus an identity
    /// policy; prints ns per evaluation (`swift test --filter PolicyEngineTests`).
    @Test func microbenchmark() throws {
        var statements: [String] = []
        for i in 0..<9 {
            statements.append(#"{"Sid":"S\#(i)","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/u\#(i)"},"Action":["kms:Encrypt","kms:Decrypt","kms:GenerateDataKey*"],"Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:Dept":["D\#(i)","Finance"]},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}"#)
        }
        statements.append(#"{"Sid":"Root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*","Condition":{"StringLike":{"kms:EncryptionContext:Dept":"Fin*"},"Bool":{"aws:SecureTransport":"true"}}}"#)
        let keyPolicy = try CompiledPolicy(#"{"Version":"2012-10-17","Statement":[\#(statements.joined(separator: ","))]}"#, kind: .resourceBased)
        let identity = try CompiledPolicy(#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Encrypt","Resource":"arn:aws:kms:*:111122223333:key/*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"blue"}}}]}"#, kind: .identityBased)
        let evaluator = PolicyEvaluator(resourcePolicy: keyPolicy, identityPolicies: [identity])
        let principal = RequestPrincipal.user("arn:aws:iam::111122223333:user/alice", tags: ["team": "blue"])
        let c = AuthorizationContext(principal: principal, action: "kms:Encrypt", resource: Self.key,
                                     conditions: ["kms:EncryptionContext:Dept": ["Finance"], "aws:SourceIp": ["10.1.2.3"], "aws:SecureTransport": ["true"]])
        #expect(evaluator.evaluate(c).isAllowed)
        let n = 20_000
        var allowed = 0
        let start = ContinuousClock.now
        for _ in 0..<n where evaluator.evaluate(c).isAllowed { allowed += 1 }
        let elapsed = ContinuousClock.now - start
        #expect(allowed == n)
        let ns = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
        print("IAMPolicy microbenchmark: \(Int(ns / Double(n))) ns per evaluation (10-statement key policy with conditions + identity policy)")
    }
}

/// A small seeded generator so the mutation test is reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
