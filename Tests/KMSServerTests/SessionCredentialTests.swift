import Crypto
import Foundation
import IAMPolicy
import KMSCore
import KMSStorage
import NIOHTTP1
import SigV4
import STS
import Testing
@testable import KMSServer

/// Requests signed with temporary credentials (X-Amz-Security-Token), through the whole
/// pipeline: the token is verified, bound to its key, expired by the server's clock.
@Suite struct SessionCredentialTests {
    struct Roles: STSDirectory {
        func role(arn: String) -> STSRole? { nil }
        func oidcProvider(account: String, issuerHostPath: String) -> OIDCProviderConfig? { nil }
        func managedPolicy(arn: String) -> CompiledPolicy? { nil }
        func account(ofAccessKey accessKeyId: String) -> String? { nil }
    }

    /// The role R's policies: kms:* (KMS now authorizes with the engine, so a session needs them).
    struct RolePolicies: SessionIdentityPolicies {
        func rolePolicies(roleArn: String, roleId: String) -> [CompiledPolicy] {
            [try! CompiledPolicy(#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#,
                                 kind: .identityBased, name: "kms")]
        }
        func userPolicies(userArn: String) -> [CompiledPolicy] { [] }
    }

    let clock = ManualClock(1_700_000_000)
    let pipeline: RequestPipeline
    let sts: STSWiring
    let credentials: STSCredentials

    init() throws {
        let root = try RootKey(bytes: Array(repeating: 7, count: 32))
        sts = STSWiring(rootKey: root, clock: clock, directory: Roles(), identity: RolePolicies())
        var authenticator = Authenticator(credentials: CredentialRegistry([]), dev: false, devAccount: "000000000000")
        authenticator.sessions = sts.sessions
        pipeline = RequestPipeline(service: try KMSService(store: InMemoryKeyStore(), clock: clock), authenticator: authenticator)
        let session = STSSession(kind: .assumedRole, accessKeyId: AccessKeyID.make(prefix: "ASIA", account: "111122223333"),
                                 secretAccessKey: AccessKeyID.newSecret(), account: "111122223333",
                                 arn: "arn:aws:sts::111122223333:assumed-role/R/s1", userId: "AROAR:s1",
                                 roleArn: "arn:aws:iam::111122223333:role/R", roleId: "AROAR", sessionName: "s1",
                                 issuedFor: "arn:aws:iam::111122223333:user/bob", issued: clock.now(), expires: clock.now() + 900)
        credentials = session.credentials(token: try sts.service.sealer.seal(session))
    }

    func call(_ op: String, _ body: String = "{}", accessKey: String? = nil, secret: String? = nil,
              token: String?? = nil) throws -> (Int, JSONObject) {
        var headers = HTTPHeaders([("Host", "localhost:8080"), ("Content-Type", "application/x-amz-json-1.1"),
                                   ("X-Amz-Target", "TrentService.\(op)")])
        let signer = SigV4Signer(accessKeyId: accessKey ?? credentials.accessKeyId,
                                 secretAccessKey: secret ?? credentials.secretAccessKey,
                                 sessionToken: token ?? credentials.sessionToken, region: "us-east-1")
        let bytes = Array(body.utf8)
        for (n, v) in try signer.sign(method: "POST", headers: headers.map { ($0.name, $0.value) }, body: bytes) {
            headers.add(name: n, value: v)
        }
        let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/", headers: headers)
        let response: RequestPipeline.Response
        switch pipeline.process(head: head, body: bytes, sourceIP: "127.0.0.1") {
        case .respond(let r): response = r
        case .offload(let work): response = work()
        }
        return (Int(response.status.code), try JSONParser.parse(response.body).objectValue ?? JSONObject())
    }

    @Test func sessionAuthenticatesUntilItExpires() throws {
        let (s1, created) = try call("CreateKey")
        #expect(s1 == 200)
        #expect(created["KeyMetadata"]?.objectValue?["AWSAccountId"]?.stringValue == "111122223333")
        #expect(sts.sessions.cache.count == 1)
        let (s2, _) = try call("ListKeys")   // from the cache
        #expect(s2 == 200)
        clock.advance(by: 899)
        #expect(try call("ListKeys").0 == 200)
        clock.advance(by: 1)
        let (s3, e3) = try call("ListKeys")  // cached, and still refused: expiry is checked on every use
        #expect(s3 == 400)
        #expect(e3["__type"]?.stringValue == "ExpiredTokenException")
        #expect(e3["message"]?.stringValue == "The security token included in the request is expired")
    }

    @Test func callerIsTheAssumedRole() throws {
        let v = try sts.sessions.verify(token: credentials.sessionToken, accessKeyId: credentials.accessKeyId)
        let caller = sts.sessions.caller(v, region: "us-east-1", accessKeyId: credentials.accessKeyId, sourceIP: "", userAgent: "")
        #expect(caller.principalArn == "arn:aws:sts::111122223333:assumed-role/R/s1")
        #expect(caller.principal.kind == .assumedRole)
        #expect(caller.principal.roleArn == "arn:aws:iam::111122223333:role/R")
        #expect(caller.principal.userId == "AROAR:s1")
        #expect(caller.sessionPolicies == nil)
    }

    @Test func forgedOrMisusedTokensAreRefused() throws {
        var t = Array(credentials.sessionToken.utf8)
        t[t.count / 2] = t[t.count / 2] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        let (s1, e1) = try call("ListKeys", token: .some(String(decoding: t, as: UTF8.self)))
        #expect(s1 == 400 && e1["__type"]?.stringValue == "UnrecognizedClientException")
        #expect(e1["message"]?.stringValue == "The security token included in the request is invalid.")
        // The token under another key ID (with that ID's signature): bound to its own key.
        let other = AccessKeyID.make(prefix: "ASIA", account: "111122223333")
        #expect(try call("ListKeys", accessKey: other).1["__type"]?.stringValue == "UnrecognizedClientException")
        // No token: an ASIA key alone is unknown.
        #expect(try call("ListKeys", token: .some(nil)).1["__type"]?.stringValue == "UnrecognizedClientException")
        // The right token, the wrong secret.
        #expect(try call("ListKeys", secret: "wrong").1["__type"]?.stringValue == "InvalidSignatureException")
        // A token from a server with another root key.
        let elsewhere = STSWiring(rootKey: try RootKey(bytes: Array(repeating: 9, count: 32)), clock: clock, directory: Roles())
        let s = try sts.service.sealer.open(credentials.sessionToken, accessKeyId: credentials.accessKeyId)
        let foreign = try elsewhere.service.sealer.seal(s)
        #expect(try call("ListKeys", token: .some(foreign)).1["__type"]?.stringValue == "UnrecognizedClientException")
    }

    /// The cache is keyed by access key ID: a hit counts only for the very token that was
    /// verified, and a wrong token for a cached key ID neither passes nor evicts the good one.
    @Test func cachedSessionNeedsTheSameToken() throws {
        #expect(try call("ListKeys").0 == 200)  // verified and cached
        #expect(sts.sessions.cache.count == 1)
        var t = Array(credentials.sessionToken.utf8)
        t[t.count - 3] = t[t.count - 3] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        let (s1, e1) = try call("ListKeys", token: .some(String(decoding: t, as: UTF8.self)))
        #expect(s1 == 400 && e1["__type"]?.stringValue == "UnrecognizedClientException")
        // A token one byte shorter or longer is another token too.
        #expect(try call("ListKeys", token: .some(String(credentials.sessionToken.dropLast()))).0 == 400)
        #expect(try call("ListKeys", token: .some(credentials.sessionToken + "A")).0 == 400)
        #expect(try call("ListKeys").0 == 200)
        #expect(sts.sessions.cache.count == 1)
        #expect(SessionCredentialVerifier.constantTimeEquals("abc", "abc"))
        #expect(!SessionCredentialVerifier.constantTimeEquals("abc", "abd"))
        #expect(!SessionCredentialVerifier.constantTimeEquals("abc", "abcd"))
        // The eight-bytes-at-a-time loop and its tail: a difference at any position counts.
        let long = String(repeating: "0123456789abcdefXYZ", count: 3)
        #expect(SessionCredentialVerifier.constantTimeEquals(long, String(long)))
        for i in 0..<long.utf8.count {
            var bytes = Array(long.utf8)
            bytes[i] ^= 0x01
            #expect(!SessionCredentialVerifier.constantTimeEquals(long, String(decoding: bytes, as: UTF8.self)), "byte \(i)")
        }
    }
}
