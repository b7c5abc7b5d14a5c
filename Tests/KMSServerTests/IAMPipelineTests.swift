import AWSQuery
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import KMSCore
import KMSStorage
import SigV4
@testable import KMSServer

/// IAM through the pipeline (query protocol, SigV4 `iam`), and an IAM user's access key
/// authenticating to KMS, without sockets.
@Suite struct IAMPipelineTests {
    let root = StoredCredential(accessKeyId: "AKIAIAMPIPELINE00001", secretAccessKey: "root-secret",
                                account: "111122223333", principalArn: "arn:aws:iam::111122223333:root")
    let pipeline: RequestPipeline
    let identities: IdentityRegistry

    init() throws {
        identities = try IdentityRegistry(store: InMemoryIdentityStore())
        var query = QueryServices()
        query.register(IAMService(registry: identities).queryService())
        pipeline = RequestPipeline(service: try KMSService(store: InMemoryKeyStore()), authenticator: Authenticator(
            credentials: CredentialRegistry([root]), dev: false, devAccount: "000000000000", identities: identities),
            queryServices: query)
    }

    func run(_ head: HTTPRequestHead, _ body: [UInt8]) -> RequestPipeline.Response {
        switch pipeline.process(head: head, body: body, sourceIP: "127.0.0.1") {
        case .respond(let r): return r
        case .offload(let work): return work()
        }
    }

    func iam(_ params: [(String, String)], key: String? = nil, secret: String? = nil, region: String = "us-east-1") throws -> (Int, String) {
        let body = Array(FormBody.encode([("Version", "2010-05-08")] + params).utf8)
        var headers = HTTPHeaders([("Host", "localhost:8080"), ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")])
        let signer = SigV4Signer(accessKeyId: key ?? root.accessKeyId, secretAccessKey: secret ?? root.secretAccessKey,
                                 region: region, service: "iam")
        for (n, v) in try signer.sign(method: "POST", headers: headers.map { ($0.name, $0.value) }, body: body, date: Date()) {
            headers.add(name: n, value: v)
        }
        let r = run(HTTPRequestHead(version: .http1_1, method: .POST, uri: "/", headers: headers), body)
        return (Int(r.status.code), String(decoding: r.body, as: UTF8.self))
    }

    func kms(_ op: String, key: String, secret: String) throws -> (Int, String) {
        var headers = HTTPHeaders([("Host", "localhost:8080"), ("Content-Type", "application/x-amz-json-1.1"),
                                   ("X-Amz-Target", "TrentService.\(op)")])
        let signer = SigV4Signer(accessKeyId: key, secretAccessKey: secret, region: "us-east-1")
        let body = Array("{}".utf8)
        for (n, v) in try signer.sign(method: "POST", headers: headers.map { ($0.name, $0.value) }, body: body, date: Date()) {
            headers.add(name: n, value: v)
        }
        let r = run(HTTPRequestHead(version: .http1_1, method: .POST, uri: "/", headers: headers), body)
        return (Int(r.status.code), String(decoding: r.body, as: UTF8.self))
    }

    static func element(_ name: String, in xml: String) -> String? {
        guard let start = xml.range(of: "<\(name)>"), let end = xml.range(of: "</\(name)>", range: start.upperBound..<xml.endIndex) else { return nil }
        return String(xml[start.upperBound..<end.lowerBound])
    }

    @Test func userAccessKeyAuthenticatesAsTheUser() throws {
        let (s1, created) = try iam([("Action", "CreateUser"), ("UserName", "alice")])
        #expect(s1 == 200)
        #expect(created.hasPrefix(#"<CreateUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><CreateUserResult><User>"#))
        let userId = try #require(Self.element("UserId", in: created))
        #expect(userId.hasPrefix("AIDA") && userId.count == 21)
        let (s2, keyXML) = try iam([("Action", "CreateAccessKey"), ("UserName", "alice")])
        #expect(s2 == 200)
        let id = try #require(Self.element("AccessKeyId", in: keyXML)), secret = try #require(Self.element("SecretAccessKey", in: keyXML))

        // Authenticated as the user: the Caller carries the principal and its policies.
        let caller = try #require(identities.credential(accessKeyId: id))
        #expect(caller.principal.arn == "arn:aws:iam::111122223333:user/alice")
        #expect(caller.principal.userId == userId && caller.identityPolicies.isEmpty)
        // Authenticated (not UnrecognizedClient), but no identity policy allows kms:ListKeys.
        let (listStatus, listBody) = try kms("ListKeys", key: id, secret: secret)
        #expect(listStatus == 400 && listBody.contains("AccessDeniedException") && listBody.contains("user/alice"))
        // Not root, and no policy allows IAM: refused, naming the user.
        let (s3, denied) = try iam([("Action", "ListUsers")], key: id, secret: secret)
        #expect(s3 == 403 && denied.contains("<Code>AccessDenied</Code>"))
        #expect(denied.contains("User: arn:aws:iam::111122223333:user/alice is not authorized to perform: iam:ListUsers"))
        // A policy compiled into the cache once the write invalidated it.
        _ = try iam([("Action", "PutUserPolicy"), ("UserName", "alice"), ("PolicyName", "p"),
                     ("PolicyDocument", #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:List*","Resource":"*"}]}"#)])
        #expect(identities.credential(accessKeyId: id)?.identityPolicies.count == 1)
        #expect(try iam([("Action", "ListUsers")], key: id, secret: secret).0 == 200)

        // Inactive, then deleted: refused.
        _ = try iam([("Action", "UpdateAccessKey"), ("UserName", "alice"), ("AccessKeyId", id), ("Status", "Inactive")])
        let (s4, refused) = try kms("ListKeys", key: id, secret: secret)
        #expect(s4 == 400 && refused.contains("UnrecognizedClientException"))
        let (s5, iamRefused) = try iam([("Action", "ListUsers")], key: id, secret: secret)
        #expect(s5 == 403 && iamRefused.contains("<Code>InvalidClientTokenId</Code>"))
        _ = try iam([("Action", "DeleteAccessKey"), ("UserName", "alice"), ("AccessKeyId", id)])
        #expect(identities.credential(accessKeyId: id) == nil)
    }

    @Test func errorsAreXMLAndRequestsAreValidated() throws {
        let (s1, e1) = try iam([("Action", "GetUser"), ("UserName", "nobody")])
        #expect(s1 == 404)
        #expect(e1.hasPrefix("<ErrorResponse><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>The user with name nobody cannot be found.</Message></Error><RequestId>"))
        let (s2, e2) = try iam([("Action", "CreateUser"), ("UserName", "bad name")])
        #expect(s2 == 400 && e2.contains("<Code>ValidationError</Code>"))
        let (_, e3) = try iam([("Action", "NoSuchAction")])
        #expect(e3.contains("<Code>InvalidAction</Code>"))
        // IAM is signed for us-east-1 only.
        let (s4, e4) = try iam([("Action", "ListUsers")], region: "eu-west-1")
        #expect(s4 == 403 && e4.contains("SignatureDoesNotMatch"))
        let (s5, _) = try iam([("Action", "ListUsers")], secret: "wrong")
        #expect(s5 == 403)
    }

    @Test func writesPersistThroughTheStoreDiff() throws {
        let a = AccountIdentities()
        var b = a
        b.users["u"] = IAMUser(name: "u", path: "/", userId: "AIDAX", arn: "arn:aws:iam::1:user/u", createDate: 0)
        b.accessKeys["AKIAX"] = IAMAccessKey(accessKeyId: "AKIAX", userName: "u", status: "Active", createDate: 0)
        b.secrets["AKIAX"] = "s3cret"
        let changes = try IdentityRegistry.diff(account: "1", before: a, after: b)
        #expect(changes.count == 2)
        let key = try #require(changes.first { $0.record.kind == .accessKey }?.record)
        #expect(key.secret == Array("s3cret".utf8) && !key.document.contains("s3cret"))
        // A rename removes the old row before putting the new one.
        var c = b
        c.versions = ["user|u": 1, "access-key|AKIAX": 1]
        var d = c
        d.users["v"] = d.users["u"]; d.users["u"] = nil
        let rename = try IdentityRegistry.diff(account: "1", before: c, after: d)
        if case .remove(let r) = rename.first { #expect(r.name == "u" && r.storeVersion == 1) } else { Issue.record("remove first") }
        #expect(rename.count == 2)
    }
}

/// Two registries on one store, as two nodes: a write on one is seen by the other after
/// `reload()` (the cluster's hook), and a write based on a stale copy is re-run on the
/// fresh state, never applied over it.
@Suite struct IdentityRegistryNodesTests {
    @Test func staleWritersRetryOnFreshStateAndReloadSeesOtherNodes() throws {
        let dir = NSTemporaryDirectory() + "kms-iam-nodes-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rootKey = try RootKey(bytes: Array(repeating: 7, count: 32))
        let a = try IdentityRegistry(store: try SQLiteKeyStore(path: dir + "/kms.sqlite", rootKey: rootKey))
        let b = try IdentityRegistry(store: try SQLiteKeyStore(path: dir + "/kms.sqlite", rootKey: rootKey))
        func addUser(_ r: IdentityRegistry, _ name: String) throws {
            try r.write(account: "111122223333") { (acct: inout AccountIdentities) throws(QueryError) in
                acct.users[name] = IAMUser(name: name, path: "/", userId: IAMNames.uniqueId("AIDA"),
                                           arn: "arn:aws:iam::111122223333:user/\(name)", createDate: 0)
            }
        }
        try addUser(a, "one")
        #expect(b.account("111122223333").users.isEmpty)  // not yet seen
        try b.reload()
        #expect(b.account("111122223333").users.keys.sorted() == ["one"])
        // a changes "one" again; b still holds version 1 of it and writes it: conflict, reload, re-run.
        try a.write(account: "111122223333") { (acct: inout AccountIdentities) throws(QueryError) in
            acct.users["one"]?.tags = [IAMTag(key: "by", value: "a")]
        }
        try b.write(account: "111122223333") { (acct: inout AccountIdentities) throws(QueryError) in
            acct.users["one"]?.path = "/b/"
        }
        try a.reload()
        let one = try #require(a.account("111122223333").users["one"])
        #expect(one.tags == [IAMTag(key: "by", value: "a")] && one.path == "/b/")
    }
}
