import Foundation
import Testing
@testable import SigV4

/// What the signature must cover, and the refusals that come before any canonicalization:
/// unsigned host / content-type / x-amz-* headers, UNSIGNED-PAYLOAD, malformed SignedHeaders
/// lists, repeated headers, oversized canonical requests, and credential scopes for regions
/// that do not exist.
@Suite struct SignatureCoverageTests {
    static let date = "20261123T101010Z"
    static let body = Array(#"{"KeyId":"alias/k"}"#.utf8)
    static let signer = SigV4Signer(
        accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret", region: "us-east-1", cache: SigningKeyCache())
    let verifier = SigV4Verifier(cache: SigningKeyCache())

    static let baseHeaders: [(name: String, value: String)] = [
        ("Host", "localhost:8443"), ("X-Amz-Target", "TrentService.DescribeKey"),
        ("Content-Type", "application/x-amz-json-1.1"),
    ]

    /// Headers signed as botocore would sign `signed`, with `unsigned` added afterwards.
    static func request(
        signed: [(name: String, value: String)] = baseHeaders, unsigned: [(name: String, value: String)] = [],
        signer: SigV4Signer = signer
    ) throws -> [(name: String, value: String)] {
        let added = try signer.sign(method: "POST", headers: signed, body: body, date: Date(amz: date))
        return signed + added + unsigned
    }

    func verify(_ headers: [(name: String, value: String)], verifier v: SigV4Verifier? = nil,
                body: [UInt8] = SignatureCoverageTests.body) throws(SigV4Error) {
        let v = v ?? verifier
        let auth = try v.parseAuthorization(headers: headers)
        try v.verify(method: "POST", path: "/", query: "", headers: headers, body: body,
                     authorization: auth, secretAccessKey: "secret", now: Date(amz: Self.date))
    }

    /// The Authorization header with its SignedHeaders list replaced (signature left as is).
    static func withSignedHeaders(_ list: String, in headers: [(name: String, value: String)]) -> [(name: String, value: String)] {
        headers.changing("authorization") { auth in
            let start = auth.range(of: "SignedHeaders=")!.upperBound
            let end = auth[start...].firstIndex(of: ",")!
            return auth.replacingCharacters(in: start..<end, with: list)
        }
    }

    @Test func signedRequestPasses() throws {
        try verify(try Self.request())
        // Unsigned headers outside host/content-type/x-amz-* are fine, even repeated.
        try verify(try Self.request(unsigned: [("User-Agent", "a"), ("user-agent", "b"), ("X-Amzn-Trace-Id", "Root=1")]))
    }

    // MARK: - Headers that must be signed

    @Test func unsignedAmzHeaderRefused() throws {
        let headers = try Self.request(unsigned: [("X-Amz-Meta-Extra", "injected")])
        #expect(throws: SigV4Error(code: "InvalidSignatureException",
                                   message: "'x-amz-meta-extra' must be a 'SignedHeader' in the AWS Authorization.")) {
            try verify(headers)
        }
    }

    @Test func unsignedSecurityTokenRefused() throws {
        let headers = try Self.request(unsigned: [("X-Amz-Security-Token", "token")])
        #expect(throws: SigV4Error.headerNotSigned("x-amz-security-token")) { try verify(headers) }
        // Signed (as the signer does for temporary credentials), it passes.
        var withToken = Self.signer
        withToken.sessionToken = "token"
        try verify(try Self.request(signer: withToken))
    }

    @Test func unsignedContentTypeRefused() throws {
        let signed = Self.baseHeaders.filter { $0.name != "Content-Type" }
        let headers = try Self.request(signed: signed, unsigned: [("Content-Type", "application/x-amz-json-1.1")])
        #expect(throws: SigV4Error(code: "InvalidSignatureException",
                                   message: "'content-type' must be a 'SignedHeader' in the AWS Authorization.")) {
            try verify(headers)
        }
    }

    @Test func unsignedTargetRefused() throws {
        let signed = Self.baseHeaders.filter { $0.name != "X-Amz-Target" }
        let headers = try Self.request(signed: signed, unsigned: [("x-amz-TARGET", "TrentService.ScheduleKeyDeletion")])
        #expect(throws: SigV4Error.headerNotSigned("x-amz-target")) { try verify(headers) }
    }

    @Test func unsignedPayloadRefusedByDefault() throws {
        let headers = try Self.request(signed: Self.baseHeaders + [("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD")])
        #expect(throws: SigV4Error(
            code: "InvalidSignatureException",
            message: "The provided 'x-amz-content-sha256' header must be the payload's SHA-256; UNSIGNED-PAYLOAD is not accepted.")) {
            try verify(headers)
        }
        var lenient = verifier
        lenient.allowUnsignedPayload = true
        try verify(headers, verifier: lenient, body: Array("anything".utf8))
    }

    // MARK: - SignedHeaders list and repeated headers, refused before canonicalization

    @Test func duplicateSignedHeaderNamesRefused() throws {
        let headers = try Self.request()
        for list in ["content-type;host;host;x-amz-date;x-amz-target", "content-type;host;HOST;x-amz-date;x-amz-target"] {
            #expect(throws: SigV4Error(
                code: "IncompleteSignatureException",
                message: "The SignedHeaders list must name each header once, in lower case, sorted by name.")) {
                try verifier.parseAuthorization(headers: Self.withSignedHeaders(list, in: headers))
            }
        }
    }

    @Test func unsortedSignedHeadersRefused() throws {
        let headers = Self.withSignedHeaders("host;content-type;x-amz-date;x-amz-target", in: try Self.request())
        #expect(throws: SigV4Error.signedHeadersNotSorted) { try verifier.parseAuthorization(headers: headers) }
    }

    /// The blow-up of issue 7: one large header signed thousands of times would make the
    /// canonical request thousands of copies of it. Refused by the parser's single scan,
    /// before any canonical byte is written; the refusal names the cause.
    @Test func hugeRepeatedSignedHeadersListRefusedByParser() throws {
        let list = "content-type;host;" + Array(repeating: "x-big", count: 8000).joined(separator: ";")
        let headers = Self.withSignedHeaders(list, in: try Self.request(signed: Self.baseHeaders + [("X-Big", String(repeating: "v", count: 4000))]))
        #expect(throws: SigV4Error.signedHeadersNotSorted) { try verifier.parseAuthorization(headers: headers) }
    }

    @Test func tooManySignedHeadersRefused() throws {
        let names = (0..<(SigV4Authorization.maxSignedHeaders + 1)).map { "x-h\(1000 + $0)" }
        #expect(names == names.sorted())
        let headers = Self.withSignedHeaders("content-type;host;" + names.joined(separator: ";"), in: try Self.request())
        #expect(throws: SigV4Error(
            code: "IncompleteSignatureException",
            message: "The SignedHeaders list names more than 128 headers.")) {
            try verifier.parseAuthorization(headers: headers)
        }
        // At the limit it parses.
        let atLimit = Self.withSignedHeaders(names.prefix(SigV4Authorization.maxSignedHeaders).joined(separator: ";"), in: headers)
        #expect(try verifier.parseAuthorization(headers: atLimit).signedHeaders.count == SigV4Authorization.maxSignedHeaders)
    }

    @Test func repeatedSignedHeaderRefused() throws {
        let headers = try Self.request(unsigned: [("X-Amz-Target", "TrentService.ScheduleKeyDeletion")])
        #expect(throws: SigV4Error(code: "InvalidSignatureException",
                                   message: "The request has more than one 'x-amz-target' header.")) {
            try verify(headers)
        }
        let twoHosts = try Self.request(unsigned: [("host", "elsewhere")])
        #expect(throws: SigV4Error.repeatedHeader("host")) { try verify(twoHosts) }
    }

    /// Past 16 signed names the verifier binary-searches SignedHeaders: the same answers.
    @Test func longSignedHeaderListsUseTheSameRules() throws {
        let extra = (0..<40).map { (name: "X-Custom-\(100 + $0)", value: "value \($0)") }
        let headers = try Self.request(signed: Self.baseHeaders + extra)
        #expect(try verifier.parseAuthorization(headers: headers).signedHeaders.count > 16)
        try verify(headers)
        #expect(throws: SigV4Error.repeatedHeader("x-custom-120")) {
            try verify(headers + [("x-CUSTOM-120", "again")])
        }
        #expect(throws: SigV4Error.headerNotSigned("x-amz-extra")) { try verify(headers + [("X-Amz-Extra", "1")]) }
        #expect(throws: SigV4Error.signatureMismatch) {
            try verify(headers.changing("x-custom-139") { $0 + "!" })
        }
    }

    @Test func repeatedAuthorizationRefused() throws {
        let headers = try Self.request()
        let again = headers + [("authorization", headers.first { $0.name == "Authorization" }!.value)]
        #expect(throws: SigV4Error.repeatedHeader("authorization")) { try verify(again) }
    }

    @Test func canonicalRequestIsBounded() throws {
        // No 16 KiB head gets near the bound; the verifier keeps it regardless of its caller.
        let big = String(repeating: "v", count: SigV4Verifier.maxCanonicalRequestBytes)
        let headers = try Self.request(signed: Self.baseHeaders + [("X-Amz-Big", big)])
        #expect(throws: SigV4Error(code: "InvalidSignatureException",
                                   message: "The canonical request would exceed 65536 bytes.")) {
            try verify(headers)
        }
        let fits = try Self.request(signed: Self.baseHeaders + [("X-Amz-Big", String(big.prefix(60_000)))])
        try verify(fits)
    }

    // MARK: - Region names

    @Test func bogusRegionRefused() throws {
        for region in ["us:222222222222", "", "us-east", "US-EAST-1", "mars-north-1", "us-east-1.evil",
                       "xx-east-1", "us-gov-west-", "eu-isoe-west-x", "us--1", "us-east_x-1"] {
            var s = Self.signer
            s.region = region
            let headers = try Self.request(signer: s)
            #expect(throws: SigV4Error(code: "InvalidSignatureException",
                                       message: "Credential should be scoped to a valid region, not '\(region)'. "),
                    "region \(region)") {
                try verify(headers)
            }
        }
    }

    @Test func realRegionsAccepted() throws {
        let regions = [
            "us-east-1", "us-west-2", "eu-west-1", "eu-central-2", "ap-southeast-7", "ap-east-2", "sa-east-1",
            "ca-west-1", "me-central-1", "af-south-1", "il-central-1", "mx-central-1", "cn-north-1",
            "cn-northwest-1", "us-gov-west-1", "us-gov-east-1", "us-iso-east-1", "us-isob-east-1",
            "us-isof-south-1", "eu-isoe-west-1", "eusc-de-east-1",
        ]
        for region in regions {
            #expect(RegionName.isValid(region), "\(region)")
            var s = Self.signer
            s.region = region
            try verify(try Self.request(signer: s))
        }
    }

    @Test func configuredRegionList() throws {
        var v = verifier
        v.regions = ["eu-west-1", "us-east-1"]
        try verify(try Self.request(), verifier: v)
        var s = Self.signer
        s.region = "us-west-2"
        #expect(throws: SigV4Error.invalidRegion("us-west-2")) { try verify(try Self.request(signer: s), verifier: v) }
        // checkRegion: the same test alone, for dev mode.
        let auth = try v.parseAuthorization(headers: try Self.request(signer: s))
        #expect(throws: SigV4Error.invalidRegion("us-west-2")) { try v.checkRegion(auth) }
    }
}
