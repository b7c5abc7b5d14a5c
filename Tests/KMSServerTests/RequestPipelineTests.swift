import Foundation
import NIOCore
import NIOHTTP1
import Testing
import KMSCore
import KMSStorage
import SigV4
@testable import KMSServer

/// The pipeline end to end (SigV4 -> dispatch -> AWS JSON), without sockets.
@Suite struct RequestPipelineTests {
    let credential = StoredCredential(accessKeyId: "AKIAPIPELINETEST0001", secretAccessKey: "pipeline-secret",
                                      account: "111122223333", principalArn: "arn:aws:iam::111122223333:root")
    let pipeline: RequestPipeline

    init() throws {
        let service = try KMSService(store: InMemoryKeyStore())
        pipeline = RequestPipeline(service: service, authenticator: Authenticator(
            credentials: CredentialRegistry([credential]), dev: false, devAccount: "000000000000"))
    }

    func request(_ op: String, _ body: String, secret: String? = nil, accessKey: String? = nil,
                 date: Date = Date(), tamper: Bool = false) throws -> (Int, JSONObject) {
        var headers = HTTPHeaders([("Host", "localhost:8080"), ("Content-Type", "application/x-amz-json-1.1"),
                                   ("X-Amz-Target", "TrentService.\(op)")])
        let signer = SigV4Signer(accessKeyId: accessKey ?? credential.accessKeyId,
                                 secretAccessKey: secret ?? credential.secretAccessKey, region: "us-east-1")
        let bytes = Array(body.utf8)
        for (n, v) in try signer.sign(method: "POST", headers: headers.map { ($0.name, $0.value) }, body: bytes, date: date) {
            headers.add(name: n, value: v)
        }
        let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/", headers: headers)
        let sent = tamper ? bytes + [0x20] : bytes
        let response: RequestPipeline.Response
        switch pipeline.process(head: head, body: sent, sourceIP: "127.0.0.1") {
        case .respond(let r): response = r
        case .offload(let work): response = work()
        }
        let json = try JSONParser.parse(response.body).objectValue ?? JSONObject()
        return (Int(response.status.code), json)
    }

    @Test func signedRequestsRoundTrip() throws {
        let (status, created) = try request("CreateKey", "{}")
        #expect(status == 200)
        let keyId = try #require(created["KeyMetadata"]?.objectValue?["KeyId"]?.stringValue)
        let (s2, enc) = try request("Encrypt", #"{"KeyId":"\#(keyId)","Plaintext":"aGk="}"#)
        #expect(s2 == 200)
        let blob = try #require(enc["CiphertextBlob"]?.stringValue)
        let (s3, dec) = try request("Decrypt", #"{"CiphertextBlob":"\#(blob)"}"#)
        #expect(s3 == 200)
        #expect(dec["Plaintext"]?.stringValue == "aGk=")
    }

    @Test func authenticationFailuresAreAWSShaped() throws {
        let (s1, e1) = try request("ListKeys", "{}", accessKey: "AKIAUNKNOWN000000000")
        #expect(s1 == 400 && e1["__type"]?.stringValue == "UnrecognizedClientException")
        let (s2, e2) = try request("ListKeys", "{}", secret: "wrong")
        #expect(s2 == 400 && e2["__type"]?.stringValue == "InvalidSignatureException")
        let (_, e3) = try request("ListKeys", "{}", tamper: true)
        #expect(e3["__type"]?.stringValue == "InvalidSignatureException")
        let (_, e4) = try request("ListKeys", "{}", date: Date().addingTimeInterval(-600))
        #expect(e4["message"]?.stringValue?.hasPrefix("Signature expired: ") == true)
    }

    @Test func badInputIsAWSShaped() throws {
        let (s1, e1) = try request("Nope", "{}")
        #expect(s1 == 400 && e1["__type"]?.stringValue == "UnknownOperationException")
        let (_, e2) = try request("ListKeys", "{not json")
        #expect(e2["__type"]?.stringValue == "SerializationException")
        let (_, e3) = try request("DescribeKey", "{}")
        #expect(e3["__type"]?.stringValue == "ValidationException")
        let (_, e4) = try request("DescribeKey", #"{"KeyId":"alias/missing"}"#)
        #expect(e4["__type"]?.stringValue == "NotFoundException")
    }
}

@Suite struct ResponseEncodingTests {
    @Test func writesStatusLineHeadersAndBody() {
        var buffer = ByteBufferAllocator().buffer(capacity: 256)
        ResponseEncoding.write(status: .ok, body: Array(#"{"a":1}"#.utf8), requestID: "", keepAlive: true, into: &buffer)
        let text = String(buffer: buffer)
        #expect(text.hasPrefix("HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 7\r\nx-amzn-RequestId: "))
        #expect(text.hasSuffix("\r\n\r\n{\"a\":1}"))
        #expect(!text.contains("Connection: close"))
    }

    @Test func errorsCloseWhenAsked() {
        var buffer = ByteBufferAllocator().buffer(capacity: 256)
        ResponseEncoding.write(status: .init(statusCode: 413), body: [], requestID: "", keepAlive: false, into: &buffer)
        let text = String(buffer: buffer)
        #expect(text.hasPrefix("HTTP/1.1 413 Payload Too Large\r\n"))
        #expect(text.contains("\r\nConnection: close\r\n\r\n"))
    }

    @Test func requestIDsAreUUIDShapedAndUnique() {
        let a = RequestID.next(), b = RequestID.next()
        #expect(a != b)
        #expect(a.count == 36 && a.split(separator: "-").map(\.count) == [8, 4, 4, 4, 12])
    }
}
