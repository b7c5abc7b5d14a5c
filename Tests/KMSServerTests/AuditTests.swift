import Foundation
import NIOHTTP1
import Testing
import KMSCore
import KMSStorage
import SigV4
@testable import KMSServer

/// The audit stage without sockets: one event per request with the request ID of the
/// response, no secret in it, and a chain that verifies until it is edited.
@Suite struct AuditTests {
    let credential = StoredCredential(accessKeyId: "AKIAAUDITTEST0000001", secretAccessKey: "audit-secret",
                                      account: "111122223333", principalArn: "arn:aws:iam::111122223333:root")

    func directory() throws -> String {
        let path = NSTemporaryDirectory() + "kms-audit-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func process(_ pipeline: RequestPipeline, _ op: String, _ body: String, secret: String? = nil) throws -> RequestPipeline.Response {
        var headers = HTTPHeaders([("Host", "localhost:8080"), ("Content-Type", "application/x-amz-json-1.1"),
                                   ("X-Amz-Target", "TrentService.\(op)"), ("User-Agent", "audit-test")])
        let signer = SigV4Signer(accessKeyId: credential.accessKeyId, secretAccessKey: secret ?? credential.secretAccessKey,
                                 region: "us-east-1")
        for (n, v) in try signer.sign(method: "POST", headers: headers.map { ($0.name, $0.value) }, body: Array(body.utf8)) {
            headers.add(name: n, value: v)
        }
        let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/", headers: headers)
        switch pipeline.process(head: head, body: Array(body.utf8), sourceIP: "10.0.0.7") {
        case .respond(let r): return r
        case .offload(let work): return work()
        }
    }

    @Test func eventsAreChainedAndVerify() throws {
        let dir = try directory()
        let audit = try AuditLog(dataDirectory: dir, policy: .interval, fallbackAccount: "000000000000")
        let pipeline = RequestPipeline(service: try KMSService(store: InMemoryKeyStore()), authenticator: Authenticator(
            credentials: CredentialRegistry([credential]), dev: false, devAccount: "000000000000"), audit: audit)
        let created = try process(pipeline, "CreateKey", "{}")
        let keyId = try JSONParser.parse(created.body).objectValue?["KeyMetadata"]?.objectValue?["KeyId"]?.stringValue ?? ""
        let plaintext = Base64.encode(Array("top secret plaintext!".utf8))
        let encrypted = try process(pipeline, "Encrypt", #"{"KeyId":"\#(keyId)","Plaintext":"\#(plaintext)"}"#)
        let denied = try process(pipeline, "Encrypt", #"{"KeyId":"\#(keyId)","Plaintext":"\#(plaintext)"}"#, secret: "wrong")
        #expect(encrypted.status == .ok && denied.status.code == 400)
        var all: [UInt8] = [], ends: [Int] = [], entries: [AuditIndexEntry] = []
        for r in [created, encrypted, denied] {
            #expect(!r.requestID.isEmpty && !r.event.isEmpty)
            all += r.event
            ends.append(all.count)
            entries.append(try #require(r.entry))
        }
        #expect(audit.append(all, ends: ends, entries: &entries))
        audit.sync()
        let text = try String(contentsOfFile: dir + "/audit/audit-00000001.jsonl", encoding: .utf8)
        #expect(!text.contains(plaintext) && !text.contains("top secret") && !text.contains("audit-secret"))
        let lines = text.split(separator: "\n").map { try? JSONParser.parse(String($0)).objectValue }
        #expect(lines.count == 3)
        #expect(lines[0]?["previousEventHash"]?.stringValue == AuditLog.genesisHash)
        #expect(lines[1]?["requestID"]?.stringValue == encrypted.requestID)
        #expect(lines[1]?["requestParameters"]?.objectValue?["keyId"]?.stringValue == keyId)
        #expect(lines[1]?["requestParameters"]?.objectValue?["plaintext"] == nil)
        #expect(lines[2]?["errorCode"]?.stringValue == "InvalidSignatureException")
        #expect(lines[2]?["userIdentity"]?.objectValue?["type"]?.stringValue == "Unknown")
        #expect(AuditVerifier.verify(dataDirectory: dir).intact)

        // One byte changed in the first record breaks the second record's link.
        var bytes = Array(text.utf8)
        bytes[40] ^= 1
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/audit/audit-00000001.jsonl"))
        let report = AuditVerifier.verify(dataDirectory: dir)
        #expect(!report.intact && report.message.contains("record 2"))
    }

    @Test func timesRoundTrip() {
        for t in [0.0, 951_782_400, 1_796_040_000, 4_102_444_799] {
            #expect(ISO8601Time.parse(ISO8601Time.format(t)) == t)
        }
        #expect(ISO8601Time.format(951_782_400) == "2000-02-29T00:00:00Z")
    }

    @Test func allowListsNeverNameSecretMembers() {
        let secret: Set<String> = ["Plaintext", "CiphertextBlob", "Signature", "Mac", "Message", "PublicKey",
                                   "GrantTokens", "PrivateKeyPlaintext", "SharedSecret", "Recipient"]
        for (_, members) in AuditFields.request { #expect(secret.isDisjoint(with: members)) }
        for (_, members) in AuditFields.response { #expect(secret.isDisjoint(with: members)) }
    }
}
