import Foundation
import Testing
@testable import SigV4

@Suite struct SignerTests {
    /// Cases where botocore put the time in X-Amz-Date (the signer always does).
    static var xAmzDateCases: [FixtureCase] {
        Fixtures.cases.filter { !$0.headers.contains { $0.name.lowercased() == "date" } }
    }

    /// The headers botocore had when it signed: the signed ones it did not add itself,
    /// plus User-Agent, which both must leave unsigned.
    func inputHeaders(_ c: FixtureCase) throws -> [(name: String, value: String)] {
        let signed = try SigV4Verifier().parseAuthorization(headers: c.headers).signedHeaders
        return c.headers.filter { header in
            let name = header.name.lowercased()
            if ["x-amz-date", "x-amz-security-token", "authorization"].contains(name) { return false }
            return signed.contains(name) || name == "user-agent"
        }
    }

    @Test(arguments: xAmzDateCases)
    func reproducesBotocoreByteForByte(_ c: FixtureCase) throws {
        let signer = SigV4Signer(
            accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken,
            region: c.region, service: c.service, cache: SigningKeyCache())
        let added = try signer.sign(
            method: c.method, path: c.path, query: c.query, headers: inputHeaders(c), body: c.body, date: c.now)
        let expectedNames = ["X-Amz-Date"] + (c.sessionToken == nil ? [] : ["X-Amz-Security-Token"]) + ["Authorization"]
        #expect(added.map(\.name) == expectedNames)
        #expect(added.first { $0.name == "Authorization" }?.value == c.authorization)
        #expect(added.first { $0.name == "X-Amz-Date" }?.value == c.time)
        #expect(added.first { $0.name == "X-Amz-Security-Token" }?.value == c.sessionToken)
    }

    @Test func hostCanBeGivenSeparately() throws {
        let c = try #require(Fixtures.named("client-encrypt"))
        let signer = SigV4Signer(
            accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, region: c.region)
        let headers = try inputHeaders(c).removing("host")
        let added = try signer.sign(
            method: "POST", host: "kms.us-east-1.amazonaws.com", headers: headers, body: c.body, date: c.now)
        #expect(added.last?.value == c.authorization)
    }

    @Test func refusesToSignWithoutHost() {
        let signer = SigV4Signer(accessKeyId: "AKID", secretAccessKey: "s", region: "us-east-1")
        #expect(throws: SigV4Error.hostNotSigned) {
            try signer.sign(method: "POST", headers: [("X-Amz-Target", "TrentService.ListKeys")], body: [UInt8]())
        }
    }

    @Test func replacesStaleAuthHeaders() throws {
        let c = try #require(Fixtures.named("client-encrypt"))
        let signer = SigV4Signer(
            accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, region: c.region, cache: SigningKeyCache())
        let stale = try inputHeaders(c) + [
            ("Authorization", "AWS4-HMAC-SHA256 old"), ("X-Amz-Date", "20000101T000000Z"),
        ]
        let added = try signer.sign(method: "POST", headers: stale, body: c.body, date: c.now)
        #expect(added.last?.value == c.authorization)
    }

    @Test func signedRequestVerifiesAtAnotherTime() throws {
        let signer = SigV4Signer(
            accessKeyId: "AKID", secretAccessKey: "secret", sessionToken: "tok", region: "ap-south-1", cache: SigningKeyCache())
        let body = Array(#"{"KeyId":"k","Plaintext":"aGk="}"#.utf8)
        let now = Date(timeIntervalSince1970: 1_790_000_000.75)
        var headers: [(name: String, value: String)] = [
            ("Host", "127.0.0.1:9000"), ("X-Amz-Target", "TrentService.Encrypt"),
            ("Content-Type", "application/x-amz-json-1.1"),
        ]
        headers += try signer.sign(method: "POST", headers: headers, body: body, date: now)
        let verifier = SigV4Verifier(cache: SigningKeyCache())
        let auth = try verifier.parseAuthorization(headers: headers)
        #expect(auth.securityToken == "tok")
        #expect(auth.signedHeaders == ["content-type", "host", "x-amz-date", "x-amz-security-token", "x-amz-target"])
        try verifier.verify(
            method: "POST", path: "/", query: "", headers: headers, body: body,
            authorization: auth, secretAccessKey: "secret", now: now.addingTimeInterval(299))
    }
}
