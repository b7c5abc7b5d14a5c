import Crypto
import Foundation
import IAMPolicy
import Testing
@testable import STS

/// A directory with fixed roles, providers and policies.
struct FakeDirectory: STSDirectory {
    var roles: [String: STSRole] = [:]
    var providers: [String: OIDCProviderConfig] = [:]
    var policies: [String: CompiledPolicy] = [:]

    func role(arn: String) -> STSRole? { roles[arn] }
    func oidcProvider(account: String, issuerHostPath: String) -> OIDCProviderConfig? { providers[account + "/" + issuerHostPath] }
    func managedPolicy(arn: String) -> CompiledPolicy? { policies[arn] }
    func account(ofAccessKey accessKeyId: String) -> String? { nil }
}

@Suite struct AssumeRoleTests {
    static let account = "111122223333"
    static let roleArn = "arn:aws:iam::111122223333:role/app/Deployer"
    static let bob = RequestPrincipal.user("arn:aws:iam::111122223333:user/bob", userId: "AIDABOB")
    static let eve = RequestPrincipal.user("arn:aws:iam::111122223333:user/eve", userId: "AIDAEVE")
    static let now: Double = 1_700_000_000

    static func role(trust: String, max: Int = 3600) throws -> STSRole {
        STSRole(arn: roleArn, name: "Deployer", roleId: "AROAEXAMPLEID", account: account,
                trustPolicy: try CompiledPolicy(trust, kind: .resourceBased), maxSessionDuration: max, tags: ["dept": "ops"])
    }

    static func trust(_ principal: String, action: String = "sts:AssumeRole", condition: String = "") -> String {
        #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"\#(principal)"},"Action":"\#(action)","Resource":"*""#
            + (condition.isEmpty ? "" : #","Condition":\#(condition)"#) + "}]}"
    }

    func service(_ role: STSRole) -> STSService {
        STSService(sealer: SessionTokenSealer(key: SymmetricKey(size: .bits256)), directory: FakeDirectory(roles: [role.arn: role]))
    }

    func refusal(_ s: STSService, _ caller: RequestPrincipal, _ r: AssumeRoleRequest, policies: [CompiledPolicy] = []) -> STSError? {
        do { _ = try s.assumeRole(STSCaller(principal: caller, accessKeyId: "AKIAX", identityPolicies: policies), r, now: Self.now); return nil }
        catch { return error }
    }

    @Test func trustedUserGetsASessionThatVerifies() throws {
        let s = service(try Self.role(trust: Self.trust(Self.bob.arn)))
        let r = try s.assumeRole(STSCaller(principal: Self.bob, accessKeyId: "AKIABOB"),
                                 AssumeRoleRequest(roleArn: Self.roleArn, roleSessionName: "deploy-1", durationSeconds: 900), now: Self.now)
        #expect(r.arn == "arn:aws:sts::111122223333:assumed-role/Deployer/deploy-1")
        #expect(r.assumedRoleId == "AROAEXAMPLEID:deploy-1")
        #expect(r.credentials.accessKeyId.hasPrefix("ASIA"))
        #expect(r.credentials.expiration == Self.now + 900)
        #expect(r.packedPolicySize == nil)
        let session = try s.sealer.verify(r.credentials.sessionToken, accessKeyId: r.credentials.accessKeyId, now: Self.now + 899)
        #expect(session.secretAccessKey == r.credentials.secretAccessKey)
        #expect(session.principal.kind == .assumedRole && session.principal.roleArn == Self.roleArn)
        #expect(session.principal.tags["dept"] == "ops")
        #expect(session.issuedFor == Self.bob.arn)
        #expect(throws: SessionTokenError.expired) {
            try s.sealer.verify(r.credentials.sessionToken, accessKeyId: r.credentials.accessKeyId, now: Self.now + 900)
        }
    }

    @Test func untrustedCallersAreDenied() throws {
        let s = service(try Self.role(trust: Self.trust(Self.bob.arn)))
        let req = AssumeRoleRequest(roleArn: Self.roleArn, roleSessionName: "x1")
        #expect(refusal(s, Self.eve, req) == .notAuthorized(Self.eve.arn, "sts:AssumeRole", Self.roleArn))
        #expect(refusal(s, Self.eve, req)?.httpStatus == 403)
        // A missing role answers the same: its existence is not revealed.
        var missing = req
        missing.roleArn = "arn:aws:iam::111122223333:role/Nope"
        #expect(refusal(s, Self.eve, missing)?.code == "AccessDenied")
        // Another account's root cannot assume a role trusting only bob.
        #expect(refusal(s, .root("444455556666"), req)?.code == "AccessDenied")
    }

    @Test func accountTrustNeedsAnIdentityPolicy() throws {
        let s = service(try Self.role(trust: Self.trust("arn:aws:iam::111122223333:root")))
        let req = AssumeRoleRequest(roleArn: Self.roleArn, roleSessionName: "x1")
        #expect(refusal(s, Self.eve, req)?.code == "AccessDenied")
        let allow = try CompiledPolicy(#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"\#(Self.roleArn)"}]}"#, kind: .identityBased)
        #expect(refusal(s, Self.eve, req, policies: [allow]) == nil)
        // The account root needs no identity policy.
        #expect(refusal(s, .root(Self.account), req) == nil)
    }

    @Test func externalIdIsACondition() throws {
        let s = service(try Self.role(trust: Self.trust(Self.bob.arn, condition: #"{"StringEquals":{"sts:ExternalId":"abc-123"}}"#)))
        var req = AssumeRoleRequest(roleArn: Self.roleArn, roleSessionName: "x1")
        #expect(refusal(s, Self.bob, req)?.code == "AccessDenied")
        req.externalId = "wrong-1"
        #expect(refusal(s, Self.bob, req)?.code == "AccessDenied")
        req.externalId = "abc-123"
        #expect(refusal(s, Self.bob, req) == nil)
    }

    @Test func durationAndNamesAreValidated() throws {
        let s = service(try Self.role(trust: Self.trust(Self.bob.arn), max: 7200))
        func req(_ name: String = "ok-name", _ d: Int? = nil) -> AssumeRoleRequest {
            AssumeRoleRequest(roleArn: Self.roleArn, roleSessionName: name, durationSeconds: d)
        }
        #expect(refusal(s, Self.bob, req("ok", 7200)) == nil)
        #expect(refusal(s, Self.bob, req("ok", 7201))?.message == "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
        #expect(refusal(s, Self.bob, req("ok", 899))?.code == "ValidationError")
        #expect(refusal(s, Self.bob, req("a"))?.code == "ValidationError")
        #expect(refusal(s, Self.bob, req("has space"))?.code == "ValidationError")
        #expect(refusal(s, Self.bob, req(String(repeating: "n", count: 65)))?.code == "ValidationError")
        // Role chaining: at most one hour.
        let chained = RequestPrincipal.assumedRole(roleArn: "arn:aws:iam::111122223333:role/Other", session: "s")
        let s2 = service(try Self.role(trust: Self.trust("arn:aws:iam::111122223333:role/Other"), max: 7200))
        #expect(refusal(s2, chained, req("ok", 3601))?.message == "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
        #expect(refusal(s2, chained, req("ok", 3600)) == nil)
    }

    @Test func sessionPoliciesAndTags() throws {
        let trust = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"\#(Self.bob.arn)"},"Action":["sts:AssumeRole","sts:TagSession"],"Resource":"*"}]}"#
        let s = service(try Self.role(trust: trust))
        var req = AssumeRoleRequest(roleArn: Self.roleArn, roleSessionName: "tagged")
        req.policy = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}]}"#
        req.tags = [("project", "x"), ("dept", "dev")]
        let r = try s.assumeRole(STSCaller(principal: Self.bob, accessKeyId: "AKIABOB"), req, now: Self.now)
        #expect(r.packedPolicySize.map { $0 > 0 && $0 <= 100 } == true)
        let session = try s.sealer.open(r.credentials.sessionToken, accessKeyId: r.credentials.accessKeyId)
        #expect(session.tags == ["project": "x", "dept": "dev"])  // session tags win over the role's
        let compiled = try #require(try s.sessionPolicies(of: session))
        #expect(compiled.count == 1)
        // A malformed session policy is refused with IAM's code.
        req.policy = "{not json"
        #expect(refusal(s, Self.bob, req)?.code == "MalformedPolicyDocument")
        // Tags need sts:TagSession in the trust policy.
        let s2 = service(try Self.role(trust: Self.trust(Self.bob.arn)))
        var tagged = AssumeRoleRequest(roleArn: Self.roleArn, roleSessionName: "tagged")
        tagged.tags = [("project", "x")]
        #expect(refusal(s2, Self.bob, tagged) == .notAuthorized(Self.bob.arn, "sts:TagSession", Self.roleArn))
        tagged.tags = [("a", "1"), ("A", "2")]
        #expect(refusal(s, Self.bob, tagged)?.code == "ValidationError")
    }

    @Test func getSessionTokenAndCallerIdentity() throws {
        let s = service(try Self.role(trust: Self.trust(Self.bob.arn)))
        let caller = STSCaller(principal: Self.bob, accessKeyId: "AKIABOB")
        let c = try s.getSessionToken(caller, durationSeconds: nil, now: Self.now)
        #expect(c.expiration == Self.now + 43_200)
        let session = try s.sealer.open(c.sessionToken, accessKeyId: c.accessKeyId)
        #expect(session.principal.arn == Self.bob.arn && session.principal.kind == .user)
        #expect(s.getCallerIdentity(caller) == ("AIDABOB", Self.account, Self.bob.arn))
        // Session credentials cannot get another session token.
        #expect(throws: STSError.self) {
            try s.getSessionToken(STSCaller(principal: Self.bob, accessKeyId: c.accessKeyId, session: session), durationSeconds: nil, now: Self.now)
        }
        #expect(throws: STSError.self) { try s.getSessionToken(STSCaller(principal: .root(Self.account), accessKeyId: "AKIAROOT"), durationSeconds: 7200, now: Self.now) }
        #expect(s.getAccessKeyInfo(c.accessKeyId) == Self.account)
    }
}
