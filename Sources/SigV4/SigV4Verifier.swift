import Crypto
import Foundation

/// Verifies SigV4-signed requests (Authorization header form) as an AWS JSON service does.
///
/// Server flow: `parseAuthorization(headers:)` -> look the secret up by `accessKeyId`
/// (unknown key: answer UnrecognizedClientException yourself) -> `verify(...)`.
/// Every refusal is a `SigV4Error` carrying AWS's code and message.
///
/// The generic entry points are `@inlinable` shims that hand concrete values to the
/// implementation: called unspecialized from another module, generic code pays for
/// runtime metadata lookups on every header.
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
    @inlinable
    public func parseAuthorization<Headers: Sequence>(headers: Headers) throws(SigV4Error) -> SigV4Authorization
    where Headers.Element == (name: String, value: String) {
        try SigV4Authorization.parse(headerList: headerList(headers))
    }

    /// Full verification: signed host, clock skew, credential scope, payload hash, signature.
    /// - Parameters:
    ///   - path: the request path as received (still percent-encoded), e.g. "/".
    ///   - query: the raw query string without '?', "" when none.
    ///   - headers: all request headers as received (the same ones given to parse).
    ///   - body: the request body bytes ([UInt8], Data, UnsafeRawBufferPointer...).
    @inlinable
    public func verify<Headers: Sequence>(
        method: String, path: String, query: String, headers: Headers, body: some ContiguousBytes,
        authorization: SigV4Authorization, secretAccessKey: String, now: Date = Date()
    ) throws(SigV4Error) where Headers.Element == (name: String, value: String) {
        let list = headerList(headers)
        let failure = body.withUnsafeBytes { bytes in
            verifyRequest(
                method: method, path: path[...], query: query[...], headers: list, body: bytes,
                authorization: authorization, secretAccessKey: secretAccessKey, now: now)
        }
        if let failure { throw failure }
    }

    /// Same as `verify(method:path:query:...)`, with the request target ("/path?query") unsplit,
    /// as NIO's `HTTPRequestHead.uri` gives it.
    @inlinable
    public func verify<Headers: Sequence>(
        method: String, uri: String, headers: Headers, body: some ContiguousBytes,
        authorization: SigV4Authorization, secretAccessKey: String, now: Date = Date()
    ) throws(SigV4Error) where Headers.Element == (name: String, value: String) {
        let list = headerList(headers)
        let (path, query) = Self.split(uri: uri)
        let failure = body.withUnsafeBytes { bytes in
            verifyRequest(
                method: method, path: path, query: query, headers: list, body: bytes,
                authorization: authorization, secretAccessKey: secretAccessKey, now: now)
        }
        if let failure { throw failure }
    }

    @inlinable
    func headerList<Headers: Sequence>(_ headers: Headers) -> [(name: String, value: String)]
    where Headers.Element == (name: String, value: String) {
        // Folded at compile time once specialized: an array is used as is.
        (headers as? [(name: String, value: String)]) ?? Array(headers)
    }

    @usableFromInline
    static func split(uri: String) -> (path: Substring, query: Substring) {
        guard let mark = uri.utf8.firstIndex(of: UInt8(ascii: "?")) else { return (uri[...], "") }
        return (uri[..<mark], uri[uri.index(after: mark)...])
    }

    /// The implementation; returns the refusal rather than throwing, as it runs inside
    /// `withUnsafeBytes` (typed throws through a rethrows closure crashes the 6.3 compiler).
    @usableFromInline
    func verifyRequest(
        method: String, path: Substring, query: Substring, headers: [(name: String, value: String)],
        body: UnsafeRawBufferPointer, authorization auth: SigV4Authorization, secretAccessKey: String, now: Date
    ) -> SigV4Error? {
        guard auth.signedHeaders.contains("host") else { return .hostNotSigned }
        if let failure = checkClock(auth.timestamp, now: now) { return failure }
        if let failure = checkScope(auth) { return failure }
        let canonical: [UInt8]
        switch canonicalRequest(method: method, path: path, query: query, headers: headers, body: body, authorization: auth) {
        case .success(let bytes): canonical = bytes
        case .failure(let failure): return failure
        }
        let stringToSign = CanonicalRequest.stringToSign(
            canonicalRequest: canonical, timestamp: auth.requestDate, date: auth.date, region: auth.region,
            service: auth.service, terminator: auth.terminator)
        let mac = cache.entry(secretAccessKey: secretAccessKey, date: auth.date, region: auth.region, service: auth.service).mac
        let matches = mac.authenticationCode(for: stringToSign).withUnsafeBytes {
            ASCII.constantTimeHexEquals($0, auth.signature)
        }
        return matches ? nil : .signatureMismatch
    }

    // MARK: - Steps

    /// The canonical request the client must have signed, as bytes.
    func canonicalRequest(
        method: String, path: Substring, query: Substring, headers: [(name: String, value: String)],
        body: UnsafeRawBufferPointer, authorization auth: SigV4Authorization
    ) -> Result<[UInt8], SigV4Error> {
        var canonical = [UInt8]()
        canonical.reserveCapacity(512)
        CanonicalRequest.appendRequestLine(method: method, path: path, query: query, to: &canonical)
        let contentSHA256 = CanonicalRequest.appendHeaders(headers, signed: auth.signedHeaders, to: &canonical)
        canonical.append(0x0A)
        ASCII.append(auth.signedHeadersLine, to: &canonical)
        canonical.append(0x0A)
        if let failure = appendPayloadHash(body: body, declared: contentSHA256, to: &canonical) {
            return .failure(failure)
        }
        return .success(canonical)
    }

    func checkClock(_ timestamp: AmzDate, now: Date) -> SigV4Error? {
        let nowSeconds = Int64(now.timeIntervalSince1970.rounded(.down))
        let skew = Int64(allowedClockSkew.rounded(.down))
        // Messages are formatted only on failure: three timestamps cost allocations.
        if timestamp.epochSeconds < nowSeconds - skew {
            let earliest = AmzDate(epochSeconds: nowSeconds - skew).basic
            let nowText = AmzDate(epochSeconds: nowSeconds).basic
            return .invalid(
                "Signature expired: \(timestamp.basic) is now earlier than \(earliest) (\(nowText) - \(Self.describe(skew)).)")
        }
        if timestamp.epochSeconds > nowSeconds + skew {
            let latest = AmzDate(epochSeconds: nowSeconds + skew).basic
            let nowText = AmzDate(epochSeconds: nowSeconds).basic
            return .invalid(
                "Signature not yet current: \(timestamp.basic) is still later than \(latest) (\(nowText) + \(Self.describe(skew)).)")
        }
        return nil
    }

    /// AWS reports every scope problem at once, each sentence followed by a space.
    func checkScope(_ auth: SigV4Authorization) -> SigV4Error? {
        var problems = ""  // stays empty, and unallocated, on the good path
        if auth.region.isEmpty || (region != nil && auth.region != region) {
            problems += "Credential should be scoped to a valid region, not '\(auth.region)'. "
        }
        if auth.service != service {
            problems += "Credential should be scoped to correct service: '\(service)'. "
        }
        if auth.terminator != "aws4_request" {
            problems += "Credential should be scoped with a valid terminator: 'aws4_request', not '\(auth.terminator)'. "
        }
        if !auth.date.utf8.elementsEqual(auth.requestDate.utf8.prefix(8)) {
            problems += "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                + "'\(auth.date)' != '\(auth.requestDate.prefix(8))', from '\(auth.requestDate)'. "
        }
        return problems.isEmpty ? nil : .invalid(problems)
    }

    /// The payload line: the body's SHA-256, unless the client declared one in
    /// x-amz-content-sha256, which must then match (or be UNSIGNED-PAYLOAD).
    func appendPayloadHash(body: UnsafeRawBufferPointer, declared: String?, to out: inout [UInt8]) -> SigV4Error? {
        guard let declared else {
            CanonicalRequest.appendSHA256Hex(of: body, to: &out)
            return nil
        }
        if declared == CanonicalRequest.unsignedPayload {
            guard allowUnsignedPayload else { return .unsignedPayloadRefused }
            ASCII.append(declared, to: &out)
            return nil
        }
        let start = out.count
        CanonicalRequest.appendSHA256Hex(of: body, to: &out)
        return out[start...].elementsEqual(declared.utf8) ? nil : .contentSHA256Mismatch
    }

    static func describe(_ seconds: Int64) -> String {
        seconds % 60 == 0 ? "\(seconds / 60) min" : "\(seconds) sec"
    }
}
