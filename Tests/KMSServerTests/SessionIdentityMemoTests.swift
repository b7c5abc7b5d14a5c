import AWSQuery
import Foundation
import IAMPolicy
import KMSCore
import KMSStorage
import STS
import Testing
@testable import KMSServer

/// A verified session keeps its role's identity policies between requests, and reads them
/// again as soon as IAM changes: a policy edited or removed applies to the very next
/// request of a session already issued (as in AWS), with no per-request lookup otherwise.
@Suite struct SessionIdentityMemoTests {
    static let account = "111122223333"
    static let allowAll = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#
    static let denyDecrypt = #"{"Version":"2012-10-17","Statement":[{"Sid":"NoDecrypt","Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}]}"#

    let identities: IdentityRegistry
    let sts: STSWiring
    let credentials: STSCredentials

    init() throws {
        identities = try IdentityRegistry(store: InMemoryIdentityStore())
        try identities.write(account: Self.account) { (a: inout AccountIdentities) throws(QueryError) in
            a.roles["R"] = IAMRole(name: "R", path: "/", roleId: "AROAR", arn: "arn:aws:iam::\(Self.account):role/R",
                                   createDate: 0, assumeRolePolicyDocument: #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"\#(Self.account)"},"Action":"sts:AssumeRole"}]}"#,
                                   maxSessionDuration: 3600, inlinePolicies: ["kms": Self.allowAll])
        }
        let directory = IAMSTSDirectory(registry: identities, credentials: CredentialRegistry([]), jwksFiles: [:])
        sts = STSWiring(rootKey: try RootKey(bytes: Array(repeating: 7, count: 32)), clock: SystemClock(),
                        directory: directory, identity: directory)
        let now = Date().timeIntervalSince1970
        let session = STSSession(kind: .assumedRole, accessKeyId: AccessKeyID.make(prefix: "ASIA", account: Self.account),
                                 secretAccessKey: AccessKeyID.newSecret(), account: Self.account,
                                 arn: "arn:aws:sts::\(Self.account):assumed-role/R/s1", userId: "AROAR:s1",
                                 roleArn: "arn:aws:iam::\(Self.account):role/R", roleId: "AROAR", sessionName: "s1",
                                 issuedFor: "arn:aws:iam::\(Self.account):root", issued: now, expires: now + 900)
        credentials = session.credentials(token: try sts.service.sealer.seal(session))
    }

    func policies() throws -> [CompiledPolicy] {
        let v = try sts.sessions.verify(token: credentials.sessionToken, accessKeyId: credentials.accessKeyId)
        return sts.sessions.caller(v, region: "us-east-1", accessKeyId: credentials.accessKeyId, sourceIP: "", userAgent: "").identityPolicies
    }

    func decision(_ action: String) throws -> AuthorizationResult.Decision {
        let v = try sts.sessions.verify(token: credentials.sessionToken, accessKeyId: credentials.accessKeyId)
        let caller = sts.sessions.caller(v, region: "us-east-1", accessKeyId: credentials.accessKeyId, sourceIP: "", userAgent: "")
        let keyPolicy = try CompiledPolicy(#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::\#(Self.account):root"},"Action":"kms:*","Resource":"*"}]}"#,
                                           kind: .resourceBased)
        let context = AuthorizationContext(principal: caller.principal, action: action,
                                           resource: "arn:aws:kms:us-east-1:\(Self.account):key/k")
        return PolicyEvaluator(resourcePolicy: keyPolicy, identityPolicies: caller.identityPolicies,
                               sessionPolicies: caller.sessionPolicies).evaluate(context, reportMatches: false).decision
    }

    @Test func policiesAreRememberedWhileIAMIsUnchanged() throws {
        #expect(try policies().count == 1)
        let v = try sts.sessions.verify(token: credentials.sessionToken, accessKeyId: credentials.accessKeyId)
        #expect(v.identityPolicies.withLock { $0?.generation } == identities.currentGeneration)
        // The memo answers: the same compiled statements, not a second compilation.
        let first = try policies(), second = try policies()
        #expect(first.count == 1 && second.count == 1)
        #expect(first[0].statements[0] === second[0].statements[0])
    }

    @Test func aChangedRolePolicyAppliesToTheNextRequest() throws {
        #expect(try decision("kms:Decrypt") == .allowed)
        try identities.write(account: Self.account) { (a: inout AccountIdentities) throws(QueryError) in
            a.roles["R"]?.inlinePolicies["deny"] = Self.denyDecrypt
        }
        #expect(try decision("kms:Decrypt") == .explicitDeny)
        #expect(try decision("kms:Encrypt") == .allowed)
        try identities.write(account: Self.account) { (a: inout AccountIdentities) throws(QueryError) in
            a.roles["R"]?.inlinePolicies = [:]
        }
        #expect(try policies().isEmpty)
        #expect(try decision("kms:Encrypt") == .implicitDeny)
    }

    @Test func aDeletedOrRecreatedRoleLosesItsPolicies() throws {
        #expect(try policies().count == 1)
        try identities.write(account: Self.account) { (a: inout AccountIdentities) throws(QueryError) in
            a.roles["R"]?.roleId = "AROAOTHER"  // deleted and created again: another role ID
        }
        #expect(try policies().isEmpty)
        try identities.write(account: Self.account) { (a: inout AccountIdentities) throws(QueryError) in
            a.roles["R"] = nil
        }
        #expect(try policies().isEmpty)
    }
}
