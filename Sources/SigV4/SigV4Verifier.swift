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
    /// When set, the credential scope's region must equal it; nil accepts any well-formed
    /// region name (a self-hosted server usually answers whatever region the client uses).
    public var region: String?
    /// When set, the credential scope's region must be one of these (a configured region list).
    public var regions: Set<String>?
    /// Whether `x-amz-content-sha256: UNSIGNED-PAYLOAD` (body not covered by the
    /// signature) is accepted. Refused by default: a KMS request's body is always bound to
    /// its signature.
    public var allowUnsignedPayload: Bool
    /// Whether a signed header may come more than once (SigV4 joins the values with ',').
    /// Refused by default: no AWS SDK sends one, and which copy a proxy or the service reads
    /// would be open to interpretation.
    public var allowRepeatedHeaders: Bool = false
    public let cache: SigningKeyCache

    public init(
        allowedClockSkew: TimeInterval = 300, service: String = "kms", region: String? = nil,
        regions: Set<String>? = nil, allowUnsignedPayload: Bool = false, cache: SigningKeyCache = .shared
    ) {
        self.allowedClockSkew = allowedClockSkew
        self.service = service
        self.region = region
        self.regions = regions
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

    /// Full verification: signed host, clock skew, credential scope, what must be signed is,
    /// payload hash, signature.
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

    /// The canonical request the client must have signed, as bytes. Before any of it is
    /// built, `locateSignedHeaders` refuses what the signature would not cover and bounds its size.
    func canonicalRequest(
        method: String, path: Substring, query: Substring, headers: [(name: String, value: String)],
        body: UnsafeRawBufferPointer, authorization auth: SigV4Authorization
    ) -> Result<[UInt8], SigV4Error> {
        let signedCount = auth.signedHeaders.count
        // Which request header each signed name maps to; on the stack (at most 128 slots).
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: max(signedCount, 1)) { storage in
            let slots = UnsafeMutableBufferPointer(rebasing: storage[0..<signedCount])
            slots.initialize(repeating: -1)
            let fixedBytes = method.utf8.count + 3 * (path.utf8.count + query.utf8.count)
                + 2 * auth.signedHeadersLine.utf8.count + 2 * signedCount + 72
            var declared: String?
            var repeated = false
            var bound = fixedBytes
            if let failure = locateSignedHeaders(headers, authorization: auth, fixedBytes: fixedBytes,
                                                 slots: slots, contentSHA256: &declared, repeated: &repeated, size: &bound) {
                return .failure(failure)
            }
            var canonical = [UInt8]()
            // The bound just computed: a request with a session token (~400 more bytes) is
            // built without growing (and copying) the buffer halfway.
            canonical.reserveCapacity(max(512, bound))
            CanonicalRequest.appendRequestLine(method: method, path: path, query: query, to: &canonical)
            if repeated {  // only with allowRepeatedHeaders: values joined, as SigV4 defines
                _ = CanonicalRequest.appendHeaders(headers, signed: auth.signedHeaders, to: &canonical)
            } else {
                for (slot, name) in auth.signedHeaders.enumerated() {
                    ASCII.append(name, to: &canonical)
                    canonical.append(0x3A)
                    let index = slots[slot]
                    if index >= 0 { ASCII.appendTrimmed(headers[index].value, to: &canonical) }
                    canonical.append(0x0A)
                }
            }
            canonical.append(0x0A)
            ASCII.append(auth.signedHeadersLine, to: &canonical)
            canonical.append(0x0A)
            if let failure = appendPayloadHash(body: body, declared: declared, to: &canonical) {
                return .failure(failure)
            }
            return .success(canonical)
        }
    }

    /// Upper bound on a canonical request; a 16 KiB request head yields far less. Without it
    /// the bytes hashed per request would grow with whatever SignedHeaders and headers say.
    public static let maxCanonicalRequestBytes = 64 * 1024

    /// One pass over the request headers, before any canonicalization: maps each signed
    /// name to the single header carrying it (a signed header or Authorization sent twice is
    /// refused), refuses an unsigned host, content-type or x-amz-* header, refuses
    /// UNSIGNED-PAYLOAD unless allowed, and bounds the canonical request's size.
    /// Lookups rely on SignedHeaders being sorted and unique (the parser insists).
    func locateSignedHeaders(
        _ headers: [(name: String, value: String)], authorization auth: SigV4Authorization, fixedBytes: Int,
        slots: UnsafeMutableBufferPointer<Int>, contentSHA256: inout String?, repeated: inout Bool, size: inout Int
    ) -> SigV4Error? {
        size = fixedBytes
        var sawAuthorization = false
        for index in headers.indices {
            let name = headers[index].name
            let slot = Self.slot(of: name, in: auth.signedHeaders)
            if slot >= 0 {
                if slots[slot] >= 0 {
                    guard allowRepeatedHeaders else { return .repeatedHeader(auth.signedHeaders[slot]) }
                    repeated = true
                } else {
                    slots[slot] = index
                }
                let value = headers[index].value
                size += value.utf8.count + 1
                if contentSHA256 == nil, name.utf8.count == 20,
                   ASCII.equalsIgnoringCase(name, lowercased: "x-amz-content-sha256") {
                    if !allowUnsignedPayload, value == CanonicalRequest.unsignedPayload { return .unsignedPayloadRefused }
                    contentSHA256 = value
                }
                continue
            }
            switch name.utf8.count {
            case 4 where ASCII.equalsIgnoringCase(name, lowercased: "host"),
                 12 where ASCII.equalsIgnoringCase(name, lowercased: "content-type"):
                return .headerNotSigned(ASCII.lowercased(name))
            case 13 where ASCII.equalsIgnoringCase(name, lowercased: "authorization"):
                if sawAuthorization { return .repeatedHeader("authorization") }
                sawAuthorization = true
            default:
                if ASCII.hasPrefixIgnoringCase(name, lowercased: "x-amz-") {
                    return .headerNotSigned(ASCII.lowercased(name.utf8.count > 128 ? String(name.prefix(128)) : name))
                }
            }
        }
        return size > Self.maxCanonicalRequestBytes ? .canonicalRequestTooLarge : nil
    }

    /// The index of `name` (any case) in the sorted lower-case `signed`, or -1. Short lists
    /// (every SDK request) are scanned comparing lengths first, a few integer compares per
    /// name; long ones are binary-searched, so 100 headers against 128 names stay cheap.
    static func slot(of name: String, in signed: [String]) -> Int {
        let length = name.utf8.count
        if signed.count <= 16 {
            for (k, candidate) in signed.enumerated()
            where candidate.utf8.count == length && ASCII.equalsIgnoringCase(name, lowercased: candidate) {
                return k
            }
            return -1
        }
        var low = 0
        var high = signed.count - 1
        while low <= high {
            let mid = (low + high) / 2
            let order = ASCII.compareIgnoringCase(name, lowercased: signed[mid])
            if order == 0 { return signed[mid].utf8.count == length ? mid : -1 }
            if order < 0 { high = mid - 1 } else { low = mid + 1 }
        }
        return -1
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

    /// A well-formed AWS region name (`RegionName`), and one of `region` / `regions` when set.
    public func isServed(region name: String) -> Bool {
        RegionName.isValid(name) && (region == nil || name == region) && (regions?.contains(name) ?? true)
    }

    /// The region check alone, for callers that skip signature verification (dev mode):
    /// the region still lands in every ARN.
    public func checkRegion(_ auth: SigV4Authorization) throws(SigV4Error) {
        guard isServed(region: auth.region) else { throw .invalidRegion(auth.region) }
    }

    /// AWS reports every scope problem at once, each sentence followed by a space.
    func checkScope(_ auth: SigV4Authorization) -> SigV4Error? {
        var problems = ""  // stays empty, and unallocated, on the good path
        if !isServed(region: auth.region) {
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
