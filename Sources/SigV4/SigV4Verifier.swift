import Crypto
import Foundation

/// Verifies SigV4-signed requests (Authorization header form) as an AWS JSON service does.
///
/// Server flow: `parseAuthorization(headers:)` -> look the secret up by `accessKeyId`
/// (unknown key: answer UnrecognizedClientException yourself) -> `verify(...)`.
/// Every refusal is a `SigV4Error` carrying AWS's code and message.
public struct SigV4Verifier: Sendable {
    /// How far the request time may be from the server's clock (AWS: 5 minutes).
    public var allowedClockSkew: TimeInterval
    /// The credential scope's service must equal this (`kms` for KMS).
    public var service: String
    /// When set, the credential scope's region must equal it; nil accepts any region
    /// (a self-hosted server usually answers whatever region the client is configured with).
    public var region: String?
    /// Whether `x-amz-content-sha256: UNSIGNED-PAYLOAD` (body not covered by the
    /// signature) is accepted. AWS accepts it; a server may want to refuse it.
    public var allowUnsignedPayload: Bool
    public let cache: SigningKeyCache

    public init(
        allowedClockSkew: TimeInterval = 300, service: String = "kms", region: String? = nil,
        allowUnsignedPayload: Bool = true, cache: SigningKeyCache = .shared
    ) {
        self.allowedClockSkew = allowedClockSkew
        self.service = service
        self.region = region
        self.allowUnsignedPayload = allowUnsignedPayload
        self.cache = cache
    }

    /// Parses Authorization, X-Amz-Date / Date and X-Amz-Security-Token; needs no secret.
    /// Throws MissingAuthenticationTokenException or IncompleteSignatureException.
    public func parseAuthorization<Headers: Sequence>(headers: Headers) throws(SigV4Error) -> SigV4Authorization
    where Headers.Element == (name: String, value: String) {
        try SigV4Authorization.parse(headers: headers)
    }

    /// Full verification: signed host, clock skew, credential scope, payload hash, signature.
    /// - Parameters:
    ///   - path: the request path as received (still percent-encoded), e.g. "/".
    ///   - query: the raw query string without '?', "" when none.
    ///   - headers: all request headers as received (the same ones given to parse).
    ///   - body: the request body bytes.
    public func verify<Headers: Sequence>(
        method: some StringProtocol, path: some StringProtocol, query: some StringProtocol,
        headers: Headers, body: some ContiguousBytes,
        authorization auth: SigV4Authorization, secretAccessKey: String, now: Date = Date()
    ) throws(SigV4Error) where Headers.Element == (name: String, value: String) {
        guard auth.signedHeaders.contains("host") else { throw .hostNotSigned }
        try checkClock(auth.timestamp, now: now)
        try checkScope(auth)
        let canonical = try canonicalRequest(
            method: method, path: path, query: query, headers: headers, body: body, authorization: auth)
        let stringToSign = CanonicalRequest.stringToSign(
            canonicalRequest: canonical, timestamp: auth.timestamp, scope: auth.credentialScope)
        var mac = cache.entry(
            secretAccessKey: secretAccessKey, date: auth.date, region: auth.region, service: auth.service
        ).keyedMAC
        mac.update(data: stringToSign)
        guard ASCII.constantTimeHexEquals(mac.finalize(), auth.signature) else { throw .signatureMismatch }
    }

    /// Same as `verify(method:path:query:...)`, with the request target ("/path?query") unsplit.
    public func verify<Headers: Sequence>(
        method: some StringProtocol, uri: String, headers: Headers, body: some ContiguousBytes,
        authorization: SigV4Authorization, secretAccessKey: String, now: Date = Date()
    ) throws(SigV4Error) where Headers.Element == (name: String, value: String) {
        let mark = uri.utf8.firstIndex(of: UInt8(ascii: "?"))
        let path = mark.map { uri[..<$0] } ?? uri[...]
        let query = mark.map { uri[uri.index(after: $0)...] } ?? uri[uri.endIndex...]
        try verify(
            method: method, path: path, query: query, headers: headers, body: body,
            authorization: authorization, secretAccessKey: secretAccessKey, now: now)
    }

    // MARK: - Steps

    /// The canonical request the client must have signed, as bytes.
    func canonicalRequest<Headers: Sequence>(
        method: some StringProtocol, path: some StringProtocol, query: some StringProtocol,
        headers: Headers, body: some ContiguousBytes, authorization auth: SigV4Authorization
    ) throws(SigV4Error) -> [UInt8] where Headers.Element == (name: String, value: String) {
        var canonical = [UInt8]()
        canonical.reserveCapacity(512)
        CanonicalRequest.appendRequestLine(method: method, path: path, query: query, to: &canonical)
        let contentSHA256 = CanonicalRequest.appendHeaders(headers, signed: auth.signedHeaders, to: &canonical)
        canonical.append(0x0A)
        canonical.append(contentsOf: auth.signedHeadersLine.utf8)
        canonical.append(0x0A)
        try appendPayloadHash(body: body, declared: contentSHA256, to: &canonical)
        return canonical
    }

    func checkClock(_ timestamp: AmzDate, now: Date) throws(SigV4Error) {
        let nowSeconds = Int64(now.timeIntervalSince1970.rounded(.down))
        let skew = Int64(allowedClockSkew.rounded(.down))
        let earliest = AmzDate(epochSeconds: nowSeconds - skew)
        let latest = AmzDate(epochSeconds: nowSeconds + skew)
        let nowText = AmzDate(epochSeconds: nowSeconds).basic
        if timestamp.epochSeconds < earliest.epochSeconds {
            throw .invalid(
                "Signature expired: \(timestamp.basic) is now earlier than \(earliest.basic) (\(nowText) - \(Self.describe(skew)).)")
        }
        if timestamp.epochSeconds > latest.epochSeconds {
            throw .invalid(
                "Signature not yet current: \(timestamp.basic) is still later than \(latest.basic) (\(nowText) + \(Self.describe(skew)).)")
        }
    }

    /// AWS reports every scope problem at once, each sentence followed by a space.
    func checkScope(_ auth: SigV4Authorization) throws(SigV4Error) {
        var problems = ""
        if auth.region.isEmpty || (region != nil && auth.region != region) {
            problems += "Credential should be scoped to a valid region, not '\(auth.region)'. "
        }
        if auth.service != service {
            problems += "Credential should be scoped to correct service: '\(service)'. "
        }
        if auth.terminator != "aws4_request" {
            problems += "Credential should be scoped with a valid terminator: 'aws4_request', not '\(auth.terminator)'. "
        }
        let requestDay = auth.timestamp.day
        if auth.date != requestDay {
            problems += "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                + "'\(auth.date)' != '\(requestDay)', from '\(auth.requestDate)'. "
        }
        if !problems.isEmpty { throw .invalid(problems) }
    }

    /// The payload line: the body's SHA-256, unless the client declared one in
    /// x-amz-content-sha256, which must then match (or be UNSIGNED-PAYLOAD).
    func appendPayloadHash(body: some ContiguousBytes, declared: String?, to out: inout [UInt8]) throws(SigV4Error) {
        guard let declared else {
            CanonicalRequest.appendSHA256Hex(of: body, to: &out)
            return
        }
        if declared == CanonicalRequest.unsignedPayload {
            guard allowUnsignedPayload else { throw .unsignedPayloadRefused }
            out.append(contentsOf: declared.utf8)
            return
        }
        let start = out.count
        CanonicalRequest.appendSHA256Hex(of: body, to: &out)
        guard out[start...].elementsEqual(declared.utf8) else { throw .contentSHA256Mismatch }
    }

    static func describe(_ seconds: Int64) -> String {
        seconds % 60 == 0 ? "\(seconds / 60) min" : "\(seconds) sec"
    }
}
