import Foundation
import Testing
@testable import SigV4

/// The verifier against requests botocore signed (Fixtures/botocore_sigv4.json).
@Suite struct BotocoreFixtureTests {
    /// Each case's own service and region, no region pinning. The two fixtures that use what
    /// the server refuses by default (a repeated signed header, UNSIGNED-PAYLOAD) get a verifier
    /// that allows it, so their canonical form is still checked against botocore's;
    /// `defaultRefusals` checks the default verifier refuses them.
    func verifier(for c: FixtureCase) -> SigV4Verifier {
        var v = SigV4Verifier(service: c.service, cache: SigningKeyCache())
        v.allowRepeatedHeaders = c.name == "raw-mixed-case-extra-headers"
        v.allowUnsignedPayload = c.name == "raw-unsigned-payload"
        return v
    }

    @Test func defaultRefusals() throws {
        let repeated = try #require(Fixtures.named("raw-mixed-case-extra-headers"))
        #expect(throws: SigV4Error.repeatedHeader("x-repeated")) {
            try verify(repeated, verifier: SigV4Verifier(service: repeated.service, cache: SigningKeyCache()))
        }
        let unsigned = try #require(Fixtures.named("raw-unsigned-payload"))
        #expect(throws: SigV4Error.unsignedPayloadRefused) {
            try verify(unsigned, verifier: SigV4Verifier(service: unsigned.service, cache: SigningKeyCache()))
        }
    }

    func verify(
        _ c: FixtureCase, method: String? = nil, path: String? = nil, query: String? = nil,
        headers: [(name: String, value: String)]? = nil, body: [UInt8]? = nil,
        secret: String? = nil, now: Date? = nil, verifier: SigV4Verifier? = nil
    ) throws(SigV4Error) {
        let v = verifier ?? self.verifier(for: c)
        let hs = headers ?? c.headers
        let auth = try v.parseAuthorization(headers: hs)
        try v.verify(
            method: method ?? c.method, path: path ?? c.path, query: query ?? c.query, headers: hs,
            body: body ?? c.body, authorization: auth, secretAccessKey: secret ?? c.secretAccessKey,
            now: now ?? c.now)
    }

    @Test func fixturesLoad() throws {
        let file = try Fixtures.load()
        #expect(file.cases.count == 14)
        #expect(file.signingKeys.count == 3)
        #expect(Set(file.cases.map(\.name)).count == file.cases.count)
    }

    @Test(arguments: Fixtures.cases)
    func acceptsBotocoreSignature(_ c: FixtureCase) throws {
        try verify(c)
    }

    @Test(arguments: Fixtures.cases)
    func canonicalRequestMatchesBotocore(_ c: FixtureCase) throws {
        let v = verifier(for: c)
        let auth = try v.parseAuthorization(headers: c.headers)
        let canonical = try c.body.withUnsafeBytes {
            v.canonicalRequest(
                method: c.method, path: c.path[...], query: c.query[...], headers: c.headers, body: $0, authorization: auth)
        }.get()
        #expect(String(decoding: canonical, as: UTF8.self) == c.canonicalRequest)
        let sts = CanonicalRequest.stringToSign(
            canonicalRequest: canonical, timestamp: auth.requestDate, date: auth.date, region: auth.region,
            service: auth.service, terminator: auth.terminator)
        #expect(String(decoding: sts, as: UTF8.self) == c.stringToSign)
    }

    @Test(arguments: Fixtures.cases)
    func parsesAuthorization(_ c: FixtureCase) throws {
        let auth = try SigV4Verifier().parseAuthorization(headers: c.headers)
        #expect(auth.accessKeyId == c.accessKeyId)
        #expect(auth.region == c.region)
        #expect(auth.service == c.service)
        #expect(auth.terminator == "aws4_request")
        #expect(auth.date == String(c.time.prefix(8)))
        #expect(auth.requestDate == c.time)
        #expect(auth.signature == c.signature)
        #expect(auth.signedHeaders.contains("host"))
        #expect(auth.securityToken == c.sessionToken)
    }

    // MARK: - Tampering must fail

    @Test(arguments: Fixtures.cases)
    func rejectsTamperedBody(_ c: FixtureCase) throws {
        var body = c.body
        if body.isEmpty { body = [0x20] } else { body[body.count / 2] ^= 0x01 }
        let declared = c.headers.first { $0.name.lowercased() == "x-amz-content-sha256" }?.value
        if declared == "UNSIGNED-PAYLOAD" {
            // The client chose not to sign the body: any body passes, unless refused outright.
            try verify(c, body: body)
            var strict = verifier(for: c)
            strict.allowUnsignedPayload = false
            #expect(throws: SigV4Error.unsignedPayloadRefused) { try verify(c, verifier: strict) }
        } else if declared != nil {
            #expect(throws: SigV4Error.contentSHA256Mismatch) { try verify(c, body: body) }
        } else {
            #expect(throws: SigV4Error.signatureMismatch) { try verify(c, body: body) }
        }
    }

    @Test(arguments: Fixtures.cases)
    func rejectsChangedSignedHeader(_ c: FixtureCase) throws {
        let auth = try SigV4Verifier().parseAuthorization(headers: c.headers)
        // Every signed header but the date ones (changing those trips the clock/scope checks first).
        for name in auth.signedHeaders where !["x-amz-date", "date"].contains(name) {
            let changed = c.headers.changing(name) { $0 + "x" }
            // A changed x-amz-content-sha256 no longer matches the body: caught before the signature.
            let expected = name == "x-amz-content-sha256" ? SigV4Error.contentSHA256Mismatch : .signatureMismatch
            #expect(throws: expected, "changed \(name)") { try verify(c, headers: changed) }
        }
    }

    @Test(arguments: Fixtures.cases)
    func rejectsRemovedOrDuplicatedSignedHeader(_ c: FixtureCase) throws {
        let auth = try SigV4Verifier().parseAuthorization(headers: c.headers)
        let name = try #require(auth.signedHeaders.first { !["x-amz-date", "date", "x-amz-content-sha256"].contains($0) })
        #expect(throws: SigV4Error.signatureMismatch) { try verify(c, headers: c.headers.removing(name)) }
        let extra = c.headers + [(name.uppercased(), "again")]
        var strict = verifier(for: c)
        strict.allowRepeatedHeaders = false
        // The first repeat met is reported: the fixture's own repeated header, if it has one.
        let first = c.name == "raw-mixed-case-extra-headers" ? "x-repeated" : name
        #expect(throws: SigV4Error.repeatedHeader(first)) { try verify(c, headers: extra, verifier: strict) }
        strict.allowRepeatedHeaders = true
        #expect(throws: SigV4Error.signatureMismatch) { try verify(c, headers: extra, verifier: strict) }
    }

    @Test(arguments: Fixtures.cases)
    func ignoresUnsignedHeaders(_ c: FixtureCase) throws {
        let headers = c.headers.changing("user-agent") { $0 + " proxy/1.0" }
            + [("X-Forwarded-For", "10.0.0.1"), ("Content-Length", "999")]
        try verify(c, headers: headers)
    }

    @Test(arguments: Fixtures.cases)
    func rejectsWrongSecret(_ c: FixtureCase) {
        #expect(throws: SigV4Error.signatureMismatch) { try verify(c, secret: c.secretAccessKey + "x") }
        #expect(throws: SigV4Error.signatureMismatch) { try verify(c, secret: String(c.secretAccessKey.dropLast())) }
    }

    @Test(arguments: Fixtures.cases)
    func rejectsChangedRequestLine(_ c: FixtureCase) {
        #expect(throws: SigV4Error.signatureMismatch) { try verify(c, method: c.method == "POST" ? "PUT" : "POST") }
        #expect(throws: SigV4Error.signatureMismatch) { try verify(c, path: "/other") }
        #expect(throws: SigV4Error.signatureMismatch) { try verify(c, query: c.query + "&extra=1") }
    }

    @Test(arguments: Fixtures.cases)
    func rejectsAlteredSignature(_ c: FixtureCase) throws {
        for index in [0, 31, 63] {
            var sig = Array(c.signature.utf8)
            sig[index] = sig[index] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
            let forged = String(decoding: sig, as: UTF8.self)
            let headers = c.headers.changing("authorization") { $0.replacingOccurrences(of: c.signature, with: forged) }
            #expect(throws: SigV4Error.signatureMismatch) { try verify(c, headers: headers) }
        }
        let truncated = c.headers.changing("authorization") { String($0.dropLast()) }
        #expect(throws: SigV4Error.signatureMismatch) { try verify(c, headers: truncated) }
    }

    @Test func uppercaseSignatureHexIsAccepted() throws {
        let c = try #require(Fixtures.named("client-encrypt"))
        let headers = c.headers.changing("authorization") {
            $0.replacingOccurrences(of: c.signature, with: c.signature.uppercased())
        }
        try verify(c, headers: headers)
    }

    @Test func verifyWithUnsplitURI() throws {
        let c = try #require(Fixtures.named("raw-get-path-query"))
        let v = verifier(for: c)
        let auth = try v.parseAuthorization(headers: c.headers)
        try v.verify(
            method: c.method, uri: c.path + "?" + c.query, headers: c.headers, body: c.body,
            authorization: auth, secretAccessKey: c.secretAccessKey, now: c.now)
        #expect(throws: SigV4Error.signatureMismatch) {
            try v.verify(
                method: c.method, uri: c.path, headers: c.headers, body: c.body,
                authorization: auth, secretAccessKey: c.secretAccessKey, now: c.now)
        }
    }

    @Test func bodyAsDataAndRawBuffer() throws {
        let c = try #require(Fixtures.named("client-decrypt-local-endpoint"))
        let v = verifier(for: c)
        let auth = try v.parseAuthorization(headers: c.headers)
        try v.verify(
            method: c.method, path: c.path, query: c.query, headers: c.headers, body: Data(c.body),
            authorization: auth, secretAccessKey: c.secretAccessKey, now: c.now)
        // Untyped `throws` here: a typed-throws closure passed to this rethrows function
        // crashes the Swift 6.3.1 compiler (IRGen, reabstraction thunk).
        try c.body.withUnsafeBytes { raw in
            try v.verify(
                method: c.method, path: c.path, query: c.query, headers: c.headers, body: raw,
                authorization: auth, secretAccessKey: c.secretAccessKey, now: c.now)
        }
    }
}
