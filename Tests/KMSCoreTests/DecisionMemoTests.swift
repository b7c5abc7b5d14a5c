import IAMPolicy
import Testing
@testable import KMSCore

/// Allowed decisions under conditional policies are remembered (DecisionMemo), but only for
/// exactly the same inputs: every change of a policy, a user's policies or groups, a tag,
/// a request value or the second decides afresh.
extension AuthorizationTests {
    /// A ten-statement-style key policy: the account delegates to IAM, with denies on the
    /// source address, an encryption context value, a tag and the time.
    static func memoKeyPolicy(denyAfter: String = "2030-01-01T00:00:00Z") -> String {
        policy(rootAllowsAll,
               #"{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":["127.0.0.0/8"]}}}"#,
               #"{"Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:purpose":"forbidden"}}}"#,
               #"{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/stage":"frozen"}}}"#,
               #"{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"\#(denyAfter)"}}}"#)
    }

    static let memoIdentityPolicy = policy(
        #"{"Effect":"Allow","Action":["kms:Encrypt","kms:DescribeKey"],"Resource":"*","Condition":{"StringEquals":{"kms:EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}}}"#)

    func memoUser(_ name: String = "memo", policies: [String] = [memoIdentityPolicy], sourceIP: String = "127.0.0.1") throws -> Caller {
        let compiled = try policies.map { try CompiledPolicy($0, kind: .identityBased, name: "p") }
        let arn = "arn:aws:iam::\(Self.accountA):user/\(name)"
        return Caller(account: Self.accountA, region: "us-east-1", accessKeyId: "AKIA\(name)", principalArn: arn,
                      sourceIP: sourceIP, principal: .user(arn, userId: "AIDA\(name)"), identityPolicies: compiled)
    }

    func memoEncrypt(_ key: String, as caller: Caller, context: String = "ok") throws(KMSError) {
        try call("Encrypt", JSONObject([("KeyId", .string(key)), ("Plaintext", .string("AAAA")),
                                        ("EncryptionContext", .object(JSONObject([("purpose", .string(context))])))]), as: caller)
    }

    func memoOf(_ key: String) throws -> DecisionMemo {
        service.keyPolicies.entry(for: try service.resolveKey(key, caller: local, allowAlias: false)).memo
    }

    /// The account root calling from the address the policies allow.
    var local: Caller { Caller(account: Self.accountA, region: "us-east-1", accessKeyId: "AKIAROOT", sourceIP: "127.0.0.1") }

    @Test func repeatedAllowedDecisionsAreAnsweredFromTheMemo() throws {
        let key = try createKey([("Policy", .string(Self.memoKeyPolicy()))], as: local)
        let user = try memoUser()
        try memoEncrypt(key, as: user)
        let memo = try memoOf(key)
        #expect(memo.count == 1 && memo.hits == 0)
        for _ in 0..<5 { try memoEncrypt(key, as: user) }
        #expect(memo.hits == 5)
        // A denied value is evaluated, not answered from the remembered allow.
        #expect(deniedMessage { () throws(KMSError) in try memoEncrypt(key, as: user, context: "forbidden") }?
            .hasSuffix("with an explicit deny in a resource-based policy") == true)
        // Another source address (another condition value) is evaluated afresh and denied.
        let outside = try memoUser(sourceIP: "203.0.113.9")
        #expect(deniedMessage { () throws(KMSError) in try memoEncrypt(key, as: outside) } != nil)
        // A policy without conditions (the default policy) does not use the memo.
        let plain = try createKey()
        try memoEncrypt(plain, as: local)
        try memoEncrypt(plain, as: local)
        #expect(try memoOf(plain).count == 0)
    }

    @Test func aChangedKeyPolicyIsNotAnsweredFromTheMemo() throws {
        let key = try createKey([("Policy", .string(Self.memoKeyPolicy()))], as: local)
        let user = try memoUser()
        try memoEncrypt(key, as: user)
        try memoEncrypt(key, as: user)
        #expect(try memoOf(key).hits == 1)
        let denyUser = #"{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/memo"},"Action":"kms:Encrypt","Resource":"*"}"#
        try call("PutKeyPolicy", JSONObject([("KeyId", .string(key)), ("PolicyName", .string("default")),
                                             ("Policy", .string(Self.policy(Self.rootAllowsAll, denyUser)))]), as: local)
        #expect(deniedMessage { () throws(KMSError) in try memoEncrypt(key, as: user) }?
            .hasSuffix("with an explicit deny in a resource-based policy") == true)
    }

    @Test func changedIdentityPoliciesOrGroupsAreNotAnsweredFromTheMemo() throws {
        let key = try createKey([("Policy", .string(Self.memoKeyPolicy()))], as: local)
        try memoEncrypt(key, as: try memoUser())
        try memoEncrypt(key, as: try memoUser())  // newly compiled policies: a miss, remembered again
        let user = try memoUser()
        try memoEncrypt(key, as: user)
        try memoEncrypt(key, as: user)
        #expect(try memoOf(key).hits == 1)
        // The user's policy changed (PutUserPolicy): the resolved caller carries new compiled policies.
        let changed = Caller(account: user.account, region: user.region, accessKeyId: user.accessKeyId,
                             principalArn: user.principalArn, sourceIP: user.sourceIP, principal: user.principal,
                             identityPolicies: [try CompiledPolicy(Self.policy(
                                #"{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionAlgorithm":"RSAES_OAEP_SHA_256"}}}"#),
                                kind: .identityBased, name: "p")])
        #expect(deniedMessage { () throws(KMSError) in try memoEncrypt(key, as: changed) }?
            .hasSuffix("because no identity-based policy allows the kms:Encrypt action") == true)
        // The user joined a group with a Deny: one more identity policy.
        let grouped = Caller(account: user.account, region: user.region, accessKeyId: user.accessKeyId,
                             principalArn: user.principalArn, sourceIP: user.sourceIP, principal: user.principal,
                             identityPolicies: user.identityPolicies + [try CompiledPolicy(Self.policy(
                                #"{"Effect":"Deny","Action":"kms:*","Resource":"*"}"#), kind: .identityBased, name: "group")])
        #expect(deniedMessage { () throws(KMSError) in try memoEncrypt(key, as: grouped) }?
            .hasSuffix("with an explicit deny in an identity-based policy") == true)
        // Left the group again: the same compiled policies as the remembered entry.
        try memoEncrypt(key, as: user)
    }

    @Test func aChangedTagIsNotAnsweredFromTheMemo() throws {
        let key = try createKey([("Policy", .string(Self.memoKeyPolicy()))], as: local)
        let user = try memoUser()
        try memoEncrypt(key, as: user)
        try memoEncrypt(key, as: user)
        #expect(try memoOf(key).hits == 1)
        try call("TagResource", JSONObject([("KeyId", .string(key)), ("Tags", .array([.object(JSONObject([
            ("TagKey", .string("stage")), ("TagValue", .string("frozen"))]))]))]), as: local)
        #expect(deniedMessage { () throws(KMSError) in try memoEncrypt(key, as: user) }?
            .hasSuffix("with an explicit deny in a resource-based policy") == true)
    }

    @Test func anAllowIsNotCarriedIntoTheNextSecond() throws {
        // Deny from one second after the clock's start: the memo must not carry an allow across it.
        let start = clock.now()
        let key = try createKey([("Policy", .string(Self.memoKeyPolicy(denyAfter: PolicyDate.iso8601(start + 1))))], as: local)
        let user = try memoUser()
        try memoEncrypt(key, as: user)
        clock.advance(by: 0.9)  // the same second as the remembered allow (the policy reads whole seconds)
        try memoEncrypt(key, as: user)
        #expect(try memoOf(key).hits == 1)
        clock.advance(by: 1.5)  // past the policy's date
        #expect(deniedMessage { () throws(KMSError) in try memoEncrypt(key, as: user) }?
            .hasSuffix("with an explicit deny in a resource-based policy") == true)
    }
}
