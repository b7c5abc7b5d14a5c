import Foundation
import NIOCore
import NIOHTTP1
import Testing
import KMSCore
import KMSStorage
import SigV4
@testable import KMSServer

/// kms:ViaService through the pipeline (issue 10 §4): a trusted service forwards the user's
/// signed request with its countersignature; the request is authorized as the user with
/// kms:ViaService, and every malformed, untrusted, forged or moved countersignature fails closed.
@Suite struct ViaServiceTests {
    let user = StoredCredential(accessKeyId: "AKIAVIAUSERTEST00001", secretAccessKey: "user-secret",
                                account: "111122223333", principalArn: "arn:aws:iam::111122223333:root")
    /// The service's identity: another account's root credential, trusted as secretsmanager and ebs.
    let service = StoredCredential(accessKeyId: "AKIAVIASERVICETEST01", secretAccessKey: "service-secret",
                                   account: "999988887777", principalArn: "arn:aws:iam::999988887777:root")
    /// Known but trusted as nothing.
    let stranger = StoredCredential(accessKeyId: "AKIAVIASTRANGERTEST1", secretAccessKey: "stranger-secret",
                                    account: "555566667777", principalArn: "arn:aws:iam::555566667777:root")
    let pipeline: RequestPipeline

    init() throws {
        var authenticator = Authenticator(credentials: CredentialRegistry([user, service, stranger]), dev: false,
                                          devAccount: "000000000000")
        try authenticator.trustedServices.add("secretsmanager=\(service.accessKeyId)")
        try authenticator.trustedServices.add("ebs=arn:aws:iam::999988887777:root")
        pipeline = RequestPipeline(service: try KMSService(store: InMemoryKeyStore()), authenticator: authenticator)
    }

    enum Via {
        case none
        /// Countersigned by `by` as `name` (`over`: sign another body's request instead).
        case signed(name: String, by: StoredCredential, over: String? = nil)
        case headers([(String, String)])
    }

    func signedHeaders(_ op: String, _ body: String) throws -> HTTPHeaders {
        var headers = HTTPHeaders([("Host", "localhost:8080"), ("Content-Type", "application/x-amz-json-1.1"),
                                   ("X-Amz-Target", "TrentService.\(op)")])
        let signer = SigV4Signer(accessKeyId: user.accessKeyId, secretAccessKey: user.secretAccessKey, region: "us-east-1")
        for (n, v) in try signer.sign(method: "POST", headers: headers.map { ($0.name, $0.value) }, body: Array(body.utf8)) {
            headers.add(name: n, value: v)
        }
        return headers
    }

    func call(_ op: String, _ body: String, via: Via = .none) throws -> (String?, JSONObject) {
        var headers = try signedHeaders(op, body)
        switch via {
        case .none: break
        case .signed(let name, let by, let other):
            let source = try other.map { try signedHeaders(op, $0) } ?? headers
            let auth = try SigV4Authorization.parse(headers: source.map { ($0.name, $0.value) })
            headers.add(name: "X-Kms-Via-Service", value: name)
            headers.add(name: "X-Kms-Via-Service-Authorization", value: ViaServiceSignature.sign(
                serviceName: name, user: auth, accessKeyId: by.accessKeyId, secretAccessKey: by.secretAccessKey))
        case .headers(let extra):
            for (n, v) in extra { headers.add(name: n, value: v) }
        }
        let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/", headers: headers)
        let response: RequestPipeline.Response
        switch pipeline.process(head: head, body: Array(body.utf8), sourceIP: "127.0.0.1") {
        case .respond(let r): response = r
        case .offload(let work): response = work()
        }
        let json = try JSONParser.parse(response.body).objectValue ?? JSONObject()
        return (response.status.code == 200 ? nil : json["__type"]?.stringValue, json)
    }

    /// A key whose policy lets the account do everything except Encrypt other than through
    /// Secrets Manager in us-east-1.
    func key() throws -> String {
        let policy = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},{"Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*","Condition":{"StringNotEquals":{"kms:ViaService":"secretsmanager.us-east-1.amazonaws.com"}}}]}"#
        let body = "{\"Policy\":\(JSONWriter.string(.string(policy)))}"
        let (error, created) = try call("CreateKey", body)
        #expect(error == nil)
        return try #require(created["KeyMetadata"]?.objectValue?["KeyId"]?.stringValue)
    }

    @Test func theKeyPolicySeesTheServiceOnlyThroughAVerifiedCountersignature() throws {
        let id = try key()
        let encrypt = #"{"KeyId":"\#(id)","Plaintext":"aGk="}"#
        #expect(try call("Encrypt", encrypt).0 == "AccessDeniedException")  // direct: no kms:ViaService
        #expect(try call("Encrypt", encrypt, via: .signed(name: "secretsmanager", by: service)).0 == nil)
        // The same identity as another service it is trusted for: that service's value.
        #expect(try call("Encrypt", encrypt, via: .signed(name: "ebs", by: service)).0 == "AccessDeniedException")
        // Operations the policy does not restrict work either way.
        #expect(try call("DescribeKey", #"{"KeyId":"\#(id)"}"#, via: .signed(name: "ebs", by: service)).0 == nil)
    }

    @Test func untrustedForgedAndMovedCountersignaturesAreRefused() throws {
        let id = try key()
        let encrypt = #"{"KeyId":"\#(id)","Plaintext":"aGk="}"#
        // A known identity not trusted as the service, a service nobody is trusted for.
        #expect(try call("Encrypt", encrypt, via: .signed(name: "secretsmanager", by: stranger)).0 == "AccessDeniedException")
        #expect(try call("Encrypt", encrypt, via: .signed(name: "lambda", by: service)).0 == "AccessDeniedException")
        // The right key ID with the wrong secret.
        let forged = StoredCredential(accessKeyId: service.accessKeyId, secretAccessKey: "guess", account: service.account,
                                      principalArn: service.principalArn)
        #expect(try call("Encrypt", encrypt, via: .signed(name: "secretsmanager", by: forged)).0 == "AccessDeniedException")
        // A genuine countersignature taken from another request.
        let moved = Via.signed(name: "secretsmanager", by: service, over: #"{"KeyId":"\#(id)","Plaintext":"b3RoZXI="}"#)
        #expect(try call("Encrypt", encrypt, via: moved).0 == "AccessDeniedException")
        // An unknown access key.
        let unknown = StoredCredential(accessKeyId: "AKIAVIAUNKNOWN000001", secretAccessKey: "x", account: "1", principalArn: "x")
        #expect(try call("Encrypt", encrypt, via: .signed(name: "secretsmanager", by: unknown)).0 == "AccessDeniedException")
    }

    @Test func malformedViaHeadersAreIncompleteSignatures() throws {
        let body = "{}"
        let good = "KMS-VIA-SERVICE-HMAC-SHA256 Credential=\(service.accessKeyId)/20261129/us-east-1/kms/aws4_request, Signature=" + String(repeating: "0", count: 64)
        for extra: [(String, String)] in [
            [("X-Kms-Via-Service", "secretsmanager")],                                  // no countersignature
            [("X-Kms-Via-Service-Authorization", good)],                                // no service name
            [("X-Kms-Via-Service", "Secrets Manager"), ("X-Kms-Via-Service-Authorization", good)],
            [("X-Kms-Via-Service", "secretsmanager"), ("X-Kms-Via-Service-Authorization", "AWS4-HMAC-SHA256 Credential=x")],
            [("X-Kms-Via-Service", "secretsmanager"), ("X-Kms-Via-Service", "ebs"), ("X-Kms-Via-Service-Authorization", good)],
            [("X-Kms-Via-Service-Extra", "1")],
        ] {
            #expect(try call("ListKeys", body, via: .headers(extra)).0 == "IncompleteSignatureException", "\(extra)")
        }
        // Well formed but scoped to another day than the request.
        let otherDay = "KMS-VIA-SERVICE-HMAC-SHA256 Credential=\(service.accessKeyId)/20000101/us-east-1/kms/aws4_request, Signature=" + String(repeating: "0", count: 64)
        #expect(try call("ListKeys", body, via: .headers([("X-Kms-Via-Service", "secretsmanager"),
                                                          ("X-Kms-Via-Service-Authorization", otherDay)])).0 == "IncompleteSignatureException")
    }

    @Test func theCallerCarriesTheServiceForConditionsAndAudit() throws {
        let caller = Caller(account: "111122223333", region: "eu-west-1", accessKeyId: "AKIAX").acting(through: "secretsmanager")
        #expect(caller.viaService == "secretsmanager.eu-west-1.amazonaws.com")
        #expect(caller.invokedBy == "secretsmanager.amazonaws.com")
        #expect(caller.overTransport(secure: true).viaService == caller.viaService)
        var event: [UInt8] = []
        _ = AuditRecord.apiCall(into: &event, context: AuditRequestContext(requestID: "r", time: 0, sourceIP: "10.0.0.1", userAgent: "boto3", tls: nil),
                                source: .kms, eventName: "Encrypt", caller: caller, fallbackAccount: "000000000000",
                                region: "eu-west-1", request: nil, response: nil, error: nil)
        let json = try #require(try JSONParser.parse(event + [UInt8(ascii: "}")]).objectValue)  // the chain adds the brace
        #expect(json["userIdentity"]?.objectValue?["invokedBy"]?.stringValue == "secretsmanager.amazonaws.com")
        #expect(json["userIdentity"]?.objectValue?["arn"]?.stringValue == "arn:aws:iam::111122223333:root")
        #expect(json["sourceIPAddress"]?.stringValue == "secretsmanager.amazonaws.com")
        #expect(json["userAgent"]?.stringValue == "secretsmanager.amazonaws.com")
    }

    @Test func settingsAreValidated() throws {
        for bad in ["secretsmanager", "Secrets=AKIAVIASERVICETEST01", "x=arn:aws:iam::999988887777:role/R", "x=short",
                    "=AKIAVIASERVICETEST01", "x=arn:aws:iam::99998888777:user/u"] {
            var t = TrustedServices()
            #expect(throws: TrustedServiceSettingError.self, "\(bad)") { try t.add(bad) }
        }
        var t = TrustedServices()
        try t.add("rds=arn:aws:iam::999988887777:user/svc/rds")
        try t.add("rds=AKIAVIASERVICETEST01")
        #expect(t.trusts("rds", accessKeyId: "AKIAANY", principalArn: "arn:aws:iam::999988887777:user/svc/rds"))
        #expect(t.trusts("rds", accessKeyId: "AKIAVIASERVICETEST01", principalArn: "arn:aws:iam::1:user/other"))
        #expect(!t.trusts("ebs", accessKeyId: "AKIAANY", principalArn: "arn:aws:iam::999988887777:user/svc/rds"))
    }
}
