import Foundation
import Testing
@testable import SigV4

/// Refusals carry AWS's exact codes and messages.
@Suite struct ErrorMessageTests {
    let verifier = SigV4Verifier(cache: SigningKeyCache())
    static let credential = "AKIDEXAMPLE/20261123/us-east-1/kms/aws4_request"
    static let goodAuth = "AWS4-HMAC-SHA256 Credential=\(credential), SignedHeaders=host;x-amz-date, Signature=abc"

    func parse(_ headers: [(name: String, value: String)]) throws(SigV4Error) -> SigV4Authorization {
        try verifier.parseAuthorization(headers: headers)
    }

    func headers(auth: String?, date: String? = "20261123T120000Z") -> [(name: String, value: String)] {
        var out: [(name: String, value: String)] = [("Host", "kms.us-east-1.amazonaws.com")]
        if let date { out.append(("X-Amz-Date", date)) }
        if let auth { out.append(("Authorization", auth)) }
        return out
    }

    // MARK: - MissingAuthenticationTokenException

    @Test func missingAuthorization() {
        #expect(throws: SigV4Error(code: "MissingAuthenticationTokenException", message: "Missing Authentication Token")) {
            try parse(headers(auth: nil))
        }
        #expect(throws: SigV4Error(code: "MissingAuthenticationTokenException", message: "Missing Authentication Token")) {
            try parse([])
        }
    }

    // MARK: - IncompleteSignatureException

    @Test func missingEveryParameterAndDate() {
        let message = "Authorization header requires 'Credential' parameter. "
            + "Authorization header requires 'Signature' parameter. "
            + "Authorization header requires 'SignedHeaders' parameter. "
            + "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
            + "Authorization=Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc"
        #expect(throws: SigV4Error(code: "IncompleteSignatureException", message: message)) {
            try parse(headers(auth: "Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc", date: nil))
        }
    }

    @Test func missingSomeParameters() {
        let auth = "AWS4-HMAC-SHA256 Credential=\(Self.credential)"
        let message = "Authorization header requires 'Signature' parameter. "
            + "Authorization header requires 'SignedHeaders' parameter. Authorization=\(auth)"
        #expect(throws: SigV4Error(code: "IncompleteSignatureException", message: message)) {
            try parse(headers(auth: auth))
        }
        let auth2 = "AWS4-HMAC-SHA256 Signature=abc, SignedHeaders=host"
        #expect(throws: SigV4Error(
            code: "IncompleteSignatureException",
            message: "Authorization header requires 'Credential' parameter. Authorization=\(auth2)")) {
            try parse(headers(auth: auth2))
        }
    }

    @Test func missingDate() {
        let message = "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
            + "Authorization=\(Self.goodAuth)"
        #expect(throws: SigV4Error(code: "IncompleteSignatureException", message: message)) {
            try parse(headers(auth: Self.goodAuth, date: nil))
        }
    }

    @Test func unsupportedAlgorithm() {
        let auth = Self.goodAuth.replacingOccurrences(of: "SHA256", with: "SHA512")
        #expect(throws: SigV4Error(
            code: "IncompleteSignatureException", message: "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'.")) {
            try parse(headers(auth: auth))
        }
    }

    @Test func oldSignatureVersionReadsAsMissingParameters() throws {
        let error = try #require(throws: SigV4Error.self) {
            try parse(headers(auth: "AWS AKIDEXAMPLE:qaNdqGsI6bq4Hi+9Gzovwyjbh0E="))
        }
        #expect(error.code == "IncompleteSignatureException")
        #expect(error.message.hasPrefix("Authorization header requires 'Credential' parameter."))
        #expect(error.message.hasSuffix(" Authorization=AWS AKIDEXAMPLE:qaNdqGsI6bq4Hi+9Gzovwyjbh0E="))
    }

    @Test func parameterWithoutEqualSign() {
        let auth = "AWS4-HMAC-SHA256 Credential= \(Self.credential), SignedHeaders=host;x-amz-date, Signature=abc"
        let message = "'\(Self.credential)' not a valid key=value pair (missing equal-sign) in Authorization header: '\(auth)'."
        #expect(throws: SigV4Error(code: "IncompleteSignatureException", message: message)) {
            try parse(headers(auth: auth))
        }
    }

    @Test func credentialWithoutFiveParts() {
        let auth = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-east-1/kms, SignedHeaders=host;x-amz-date, Signature=abc"
        let message = "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
            + "got 'AKIDEXAMPLE/20261123/us-east-1/kms'"
        #expect(throws: SigV4Error(code: "IncompleteSignatureException", message: message)) {
            try parse(headers(auth: auth))
        }
    }

    @Test(arguments: ["2026-11-23T12:00:00Z", "20261123T120000", "20261323T120000Z", "20261123T250000Z", ""])
    func dateNotInBasicFormat(_ date: String) {
        let message = "Date must be in ISO-8601 'basic format'. Got '\(date)'. See http://en.wikipedia.org/wiki/ISO_8601"
        #expect(throws: SigV4Error(code: "IncompleteSignatureException", message: message)) {
            try parse(headers(auth: Self.goodAuth, date: date))
        }
    }

    @Test func parsesWellFormedHeaderWithoutSecret() throws {
        let auth = try parse(headers(auth: Self.goodAuth) + [("x-amz-security-token", "TOKEN")])
        #expect(auth.accessKeyId == "AKIDEXAMPLE")
        #expect(auth.date == "20261123")
        #expect(auth.region == "us-east-1")
        #expect(auth.service == "kms")
        #expect(auth.signedHeaders == ["host", "x-amz-date"])
        #expect(auth.signature == "abc")
        #expect(auth.requestDate == "20261123T120000Z")
        #expect(auth.securityToken == "TOKEN")
    }

    @Test func headerNamesAreCaseInsensitive() throws {
        let auth = try parse([
            ("AUTHORIZATION", Self.goodAuth), ("x-AMZ-date", "20261123T120000Z"), ("HOST", "h"),
        ])
        #expect(auth.requestDate == "20261123T120000Z")
    }

    @Test func dateHeaderIsUsedWithoutXAmzDate() throws {
        var hs = headers(auth: Self.goodAuth, date: nil)
        hs.append(("Date", "Mon, 23 Nov 2026 12:00:00 GMT"))
        #expect(try parse(hs).requestDate == "20261123T120000Z")
        hs.append(("X-Amz-Date", "20261123T130000Z"))  // X-Amz-Date wins, as on AWS
        #expect(try parse(hs).requestDate == "20261123T130000Z")
    }

    // MARK: - InvalidSignatureException: clock

    /// client-encrypt was signed at 20261123T120000Z.
    func verifyEncrypt(now: String, skew: TimeInterval = 300) throws {
        let c = try #require(Fixtures.named("client-encrypt"))
        let v = SigV4Verifier(allowedClockSkew: skew, cache: SigningKeyCache())
        let auth = try v.parseAuthorization(headers: c.headers)
        try v.verify(
            method: c.method, path: c.path, query: c.query, headers: c.headers, body: c.body,
            authorization: auth, secretAccessKey: c.secretAccessKey, now: Date(amz: now))
    }

    @Test func signatureExpired() {
        #expect(throws: SigV4Error(
            code: "InvalidSignatureException",
            message: "Signature expired: 20261123T120000Z is now earlier than 20261123T120500Z (20261123T121000Z - 5 min.)")) {
            try verifyEncrypt(now: "20261123T121000Z")
        }
        #expect(throws: SigV4Error(
            code: "InvalidSignatureException",
            message: "Signature expired: 20261123T120000Z is now earlier than 20261123T120001Z (20261123T120501Z - 5 min.)")) {
            try verifyEncrypt(now: "20261123T120501Z")
        }
    }

    @Test func signatureNotYetCurrent() {
        #expect(throws: SigV4Error(
            code: "InvalidSignatureException",
            message: "Signature not yet current: 20261123T120000Z is still later than 20261123T115500Z (20261123T115000Z + 5 min.)")) {
            try verifyEncrypt(now: "20261123T115000Z")
        }
        #expect(throws: SigV4Error(
            code: "InvalidSignatureException",
            message: "Signature not yet current: 20261123T120000Z is still later than 20261123T115930Z (20261123T115800Z + 90 sec.)")) {
            try verifyEncrypt(now: "20261123T115800Z", skew: 90)
        }
    }

    @Test func clockSkewBoundsAreInclusive() throws {
        try verifyEncrypt(now: "20261123T120500Z")
        try verifyEncrypt(now: "20261123T115500Z")
        try verifyEncrypt(now: "20261123T121459Z", skew: 900)
    }

    // MARK: - InvalidSignatureException: scope, host, payload

    /// Signs with `signer`, then verifies with `verifier` at the signing time.
    func signAndVerify(
        signer: SigV4Signer, verifier v: SigV4Verifier, amzDate: String = "20261123T101010Z",
        editAuthorization: (String) -> String = { $0 }
    ) throws {
        let body = Array(#"{"KeyId":"alias/k"}"#.utf8)
        var hs: [(name: String, value: String)] = [
            ("Host", "localhost:8443"), ("X-Amz-Target", "TrentService.DescribeKey"),
            ("Content-Type", "application/x-amz-json-1.1"),
        ]
        let added = try signer.sign(method: "POST", headers: hs, body: body, date: Date(amz: amzDate))
        hs += added.map { $0.name == "Authorization" ? ($0.name, editAuthorization($0.value)) : $0 }
        let auth = try v.parseAuthorization(headers: hs)
        try v.verify(
            method: "POST", path: "/", query: "", headers: hs, body: body,
            authorization: auth, secretAccessKey: signer.secretAccessKey, now: Date(amz: amzDate))
    }

    static let signer = SigV4Signer(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret", region: "us-east-1")

    @Test func signerOutputVerifies() throws {
        try signAndVerify(signer: Self.signer, verifier: verifier)
        try signAndVerify(signer: Self.signer, verifier: SigV4Verifier(region: "us-east-1"))
    }

    @Test func wrongService() {
        var s3 = Self.signer
        s3.service = "s3"
        #expect(throws: SigV4Error(
            code: "InvalidSignatureException", message: "Credential should be scoped to correct service: 'kms'. ")) {
            try signAndVerify(signer: s3, verifier: verifier)
        }
    }

    @Test func wrongRegionWhenPinned() {
        #expect(throws: SigV4Error(
            code: "InvalidSignatureException", message: "Credential should be scoped to a valid region, not 'us-east-1'. ")) {
            try signAndVerify(signer: Self.signer, verifier: SigV4Verifier(region: "eu-west-1"))
        }
    }

    @Test func scopeDateDiffersFromRequestDate() {
        let message = "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            + "'20261122' != '20261123', from '20261123T101010Z'. "
        #expect(throws: SigV4Error(code: "InvalidSignatureException", message: message)) {
            try signAndVerify(signer: Self.signer, verifier: verifier) {
                $0.replacingOccurrences(of: "/20261123/", with: "/20261122/")
            }
        }
    }

    @Test func everyScopeProblemAtOnce() {
        let message = "Credential should be scoped to a valid region, not 'eu-west-1'. "
            + "Credential should be scoped to correct service: 'kms'. "
            + "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. "
            + "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            + "'20261122' != '20261123', from '20261123T101010Z'. "
        #expect(throws: SigV4Error(code: "InvalidSignatureException", message: message)) {
            try signAndVerify(signer: Self.signer, verifier: SigV4Verifier(region: "us-east-1")) {
                $0.replacingOccurrences(of: "/20261123/us-east-1/kms/aws4_request", with: "/20261122/eu-west-1/s3/aws5_request")
            }
        }
    }

    @Test func hostMustBeSigned() {
        #expect(throws: SigV4Error(
            code: "InvalidSignatureException",
            message: "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")) {
            try signAndVerify(signer: Self.signer, verifier: verifier) {
                $0.replacingOccurrences(of: "SignedHeaders=content-type;host;", with: "SignedHeaders=content-type;")
            }
        }
    }

    @Test func signatureMismatchMessage() {
        #expect(throws: SigV4Error(
            code: "InvalidSignatureException",
            message: "The request signature we calculated does not match the signature you provided. "
                + "Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")) {
            try signAndVerify(signer: Self.signer, verifier: verifier) { $0 + "0" }
        }
    }

    @Test func contentSHA256MustMatchBody() throws {
        let c = try #require(Fixtures.named("raw-content-sha256"))
        let v = SigV4Verifier(cache: SigningKeyCache())
        let auth = try v.parseAuthorization(headers: c.headers)
        #expect(throws: SigV4Error(
            code: "InvalidSignatureException",
            message: "The provided 'x-amz-content-sha256' header does not match what was computed.")) {
            try v.verify(
                method: c.method, path: c.path, query: c.query, headers: c.headers, body: Array("{ }".utf8),
                authorization: auth, secretAccessKey: c.secretAccessKey, now: c.now)
        }
    }

    @Test func errorsAreHTTP400() {
        #expect(SigV4Error.missingAuthenticationToken.httpStatus == 400)
        #expect(SigV4Error.signatureMismatch.httpStatus == 400)
        #expect(SigV4Error.signatureMismatch.description.hasPrefix("InvalidSignatureException: The request signature"))
    }
}
