import AWSQuery
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import KMSCore
import KMSStorage
import SigV4
@testable import KMSServer

/// Read-your-writes for IAM across two nodes (issue 8 §2, issue 9 §4), without sockets:
/// two pipelines on one identity store and one key store, as two cluster nodes whose
/// change feed has not delivered anything yet. Node B reads an access key, a policy or a
/// grant it does not hold from the store: on an "event loop" it asks to be moved
/// (`storeReadNeeded` -> offload), and the re-run on the "blocking pool" reads it.
@Suite struct IdentityReadThroughTests {
    let root = StoredCredential(accessKeyId: "AKIAREADTHROUGH00001", secretAccessKey: "root-secret",
                                account: "111122223333", principalArn: "arn:aws:iam::111122223333:root")
    let a: RequestPipeline
    let b: RequestPipeline
    let bIdentities: IdentityRegistry
    /// Whether B's current thread "is an event loop": the first call of each request is,
    /// its re-run (the offloaded work) is not.
    let onLoop = LoopFlag()

    final class LoopFlag: @unchecked Sendable {
        private let lock = NSLock()
        private var value = true
        func withLock<T>(_ body: (inout Bool) -> T) -> T { lock.withLock { body(&value) } }
    }

    static func node(_ identities: IdentityRegistry, grants: GrantRegistry, keyStore: SQLiteKeyStore,
                     root: StoredCredential) throws -> RequestPipeline {
        var query = QueryServices()
        query.register(IAMService(registry: identities).queryService())
        let service = try KMSService(store: keyStore, grants: grants, principalDirectory: identities)
        return RequestPipeline(service: service, authenticator: Authenticator(
            credentials: CredentialRegistry([root]), dev: false, devAccount: "000000000000", identities: identities),
            queryServices: query)
    }

    init() throws {
        // One SQLite store shared by both "nodes" (keys, grants and identities; no change feed).
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ryw-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let keyStore = try SQLiteKeyStore(path: dir + "/kms.sqlite", rootKey: try RootKey(bytes: Array(repeating: 7, count: 32)))
        let identityStore = keyStore
        let root = self.root
        let tokenKey = [UInt8](repeating: 7, count: 32)
        let aIdentities = try IdentityRegistry(store: identityStore)
        a = try Self.node(aIdentities, grants: try GrantRegistry(store: keyStore, tokenKey: tokenKey), keyStore: keyStore, root: root)
        let bIds = try IdentityRegistry(store: identityStore)
        bIdentities = bIds
        let bGrants = try GrantRegistry(store: keyStore, tokenKey: tokenKey)
        b = try Self.node(bIds, grants: bGrants, keyStore: keyStore, root: root)
        let flag = onLoop
        let mayBlock: @Sendable () -> Bool = { !flag.withLock { $0 } }
        bIds.readThrough.enable(mayBlock: mayBlock)
        bGrants.readThrough.enable(mayBlock: mayBlock)
    }

    /// (status, body, whether the request was moved off the "event loop").
    func run(_ p: RequestPipeline, _ head: HTTPRequestHead, _ body: [UInt8]) -> (Int, String, Bool) {
        onLoop.withLock { $0 = true }
        defer { onLoop.withLock { $0 = true } }
        switch p.process(head: head, body: body, sourceIP: "127.0.0.1") {
        case .respond(let r): return (Int(r.status.code), String(decoding: r.body, as: UTF8.self), false)
        case .offload(let work):
            onLoop.withLock { $0 = false }
            let r = work()
            return (Int(r.status.code), String(decoding: r.body, as: UTF8.self), true)
        }
    }

    func iam(_ p: RequestPipeline, _ params: [(String, String)]) throws -> (Int, String) {
        let body = Array(FormBody.encode([("Version", "2010-05-08")] + params).utf8)
        let (s, text, _) = run(p, try signed(body, "application/x-www-form-urlencoded; charset=utf-8", nil,
                                              key: root.accessKeyId, secret: root.secretAccessKey, service: "iam"), body)
        return (s, text)
    }

    func kms(_ p: RequestPipeline, _ op: String, _ json: String, key: String, secret: String) throws -> (Int, String, Bool) {
        let body = Array(json.utf8)
        return run(p, try signed(body, "application/x-amz-json-1.1", "TrentService.\(op)", key: key, secret: secret, service: "kms"), body)
    }

    func signed(_ body: [UInt8], _ type: String, _ target: String?, key: String, secret: String, service: String) throws -> HTTPRequestHead {
        var headers = HTTPHeaders([("Host", "localhost:8080"), ("Content-Type", type)])
        if let target { headers.add(name: "X-Amz-Target", value: target) }
        let signer = SigV4Signer(accessKeyId: key, secretAccessKey: secret, region: "us-east-1", service: service)
        for (n, v) in try signer.sign(method: "POST", headers: headers.map { ($0.name, $0.value) }, body: body, date: Date()) {
            headers.add(name: n, value: v)
        }
        return HTTPRequestHead(version: .http1_1, method: .POST, uri: "/", headers: headers)
    }

    @Test func anAccessKeyPolicyAndGrantMadeOnAWorkOnBAtOnce() throws {
        #expect(try iam(a, [("Action", "CreateUser"), ("UserName", "alice")]).0 == 200)
        let (_, keyXML) = try iam(a, [("Action", "CreateAccessKey"), ("UserName", "alice")])
        let id = try #require(IAMPipelineTests.element("AccessKeyId", in: keyXML))
        let secret = try #require(IAMPipelineTests.element("SecretAccessKey", in: keyXML))
        #expect(bIdentities.credential(accessKeyId: id) == nil)  // B's memory has not heard of it

        // Unknown on B: moved off the loop, read from the store, authenticated (denied: no policy yet).
        let (s1, body1, moved1) = try kms(b, "ListKeys", "{}", key: id, secret: secret)
        #expect(moved1 && s1 == 400 && body1.contains("AccessDeniedException"))
        #expect(bIdentities.credential(accessKeyId: id) != nil)
        // Now cached on B: the hot path stays on the loop.
        let (_, _, moved2) = try kms(b, "ListKeys", "{}", key: id, secret: secret)
        #expect(moved2)  // still denied, so the denial re-reads (below it is allowed)

        // A policy put through A: B's denial re-reads the user's policies and allows.
        _ = try iam(a, [("Action", "PutUserPolicy"), ("UserName", "alice"), ("PolicyName", "p"),
                        ("PolicyDocument", #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:ListKeys","Resource":"*"}]}"#)])
        let (s3, _, _) = try kms(b, "ListKeys", "{}", key: id, secret: secret)
        #expect(s3 == 200)

        // An unknown access key ID: moved, read, and refused as AWS does.
        let (s4, body4, moved4) = try kms(b, "ListKeys", "{}", key: "AKIANOSUCHKEY0000000", secret: "x")
        #expect(moved4 && s4 == 400 && body4.contains("UnrecognizedClientException"))

        // A grant made through A (no token): B's denied Encrypt re-reads the key's grants.
        let (_, created, _) = try kms(a, "CreateKey", "{}", key: root.accessKeyId, secret: root.secretAccessKey)
        let keyId = try #require(try JSONParser.parse(Array(created.utf8)).objectValue?["KeyMetadata"]?.objectValue?["KeyId"]?.stringValue)
        let encrypt = #"{"KeyId":"\#(keyId)","Plaintext":"aGVsbG8="}"#
        #expect(try kms(b, "Encrypt", encrypt, key: id, secret: secret).1.contains("AccessDeniedException"))
        let grant = #"{"KeyId":"\#(keyId)","GranteePrincipal":"arn:aws:iam::111122223333:user/alice","Operations":["Encrypt"]}"#
        #expect(try kms(a, "CreateGrant", grant, key: root.accessKeyId, secret: root.secretAccessKey).0 == 200)
        let (s5, body5, moved5) = try kms(b, "Encrypt", encrypt, key: id, secret: secret)
        #expect(s5 == 200 && moved5, "\(body5)")
        // Allowed now from B's memory: no move.
        let (s6, _, moved6) = try kms(b, "Encrypt", encrypt, key: id, secret: secret)
        #expect(s6 == 200 && !moved6)
    }
}
