import Crypto
import Foundation

/// Signs requests with SigV4 (Authorization header form) the way botocore does:
/// every header given is signed except the hop-by-hop ones botocore skips, plus
/// X-Amz-Date and, with temporary credentials, X-Amz-Security-Token.
public struct SigV4Signer: Sendable {
    public var accessKeyId: String
    public var secretAccessKey: String
    public var sessionToken: String?
    public var region: String
    public var service: String
    public let cache: SigningKeyCache

    public init(
        accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil,
        region: String, service: String = "kms", cache: SigningKeyCache = .shared
    ) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.region = region
        self.service = service
        self.cache = cache
    }

    /// Headers botocore never signs (SIGNED_HEADERS_BLACKLIST): proxies and clients may change them.
    static let unsignedHeaderNames: Set<String> = [
        "connection", "expect", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
        "trailer", "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id",
    ]

    /// Headers the signer sets itself; copies in `headers` are dropped.
    static let replacedHeaderNames: Set<String> = ["authorization", "x-amz-date", "x-amz-security-token"]

    /// Signs a request and returns the headers to add to it: X-Amz-Date,
    /// X-Amz-Security-Token (with a session token) and Authorization. They replace any
    /// headers of those names the request had (those are ignored when signing).
    /// - Parameters:
    ///   - path: the path as it will be sent (already percent-encoded), e.g. "/".
    ///   - query: the query string as it will be sent, without '?'.
    ///   - host: the Host header value the HTTP client will send; nil if `headers` has Host.
    ///   - headers: the request's other headers (Content-Type, X-Amz-Target, ...).
    ///     An `X-Amz-Content-SHA256` among them is signed and used as the payload hash.
    /// - Throws: when there is no host to sign.
    ///
    /// `@inlinable` shim over a concrete implementation, like the verifier's.
    @inlinable
    public func sign<Headers: Sequence>(
        method: String, path: String = "/", query: String = "", host: String? = nil,
        headers: Headers, body: some ContiguousBytes, date: Date = Date()
    ) throws(SigV4Error) -> [(name: String, value: String)] where Headers.Element == (name: String, value: String) {
        let list = (headers as? [(name: String, value: String)]) ?? Array(headers)
        let result = body.withUnsafeBytes { bytes in
            signRequest(method: method, path: path, query: query, host: host, headers: list, body: bytes, date: date)
        }
        return try result.get()
    }

    @usableFromInline
    func signRequest(
        method: String, path: String, query: String, host: String?,
        headers: [(name: String, value: String)], body: UnsafeRawBufferPointer, date: Date
    ) -> Result<[(name: String, value: String)], SigV4Error> {
        let timestamp = AmzDate(epochSeconds: Int64(date.timeIntervalSince1970.rounded(.down)))
        let stamp = timestamp.basic
        var added: [(name: String, value: String)] = [("X-Amz-Date", stamp)]
        if let sessionToken { added.append(("X-Amz-Security-Token", sessionToken)) }

        var toSign: [(name: String, value: String)] = []
        for header in headers {
            let name = ASCII.lowercased(header.name)
            if Self.unsignedHeaderNames.contains(name) || Self.replacedHeaderNames.contains(name) { continue }
            if host != nil && name == "host" { continue }
            toSign.append((name, header.value))
        }
        if let host { toSign.append(("host", host)) }
        toSign.append(contentsOf: added.map { (ASCII.lowercased($0.name), $0.value) })

        let signedNames = Array(Set(toSign.map(\.name))).sorted()
        guard signedNames.contains("host") else { return .failure(.hostNotSigned) }
        let signedLine = signedNames.joined(separator: ";")

        var canonical = [UInt8]()
        canonical.reserveCapacity(512)
        CanonicalRequest.appendRequestLine(method: method, path: path, query: query, to: &canonical)
        let declared = CanonicalRequest.appendHeaders(toSign, signed: signedNames, to: &canonical)
        canonical.append(0x0A)
        ASCII.append(signedLine, to: &canonical)
        canonical.append(0x0A)
        if let declared {
            ASCII.append(declared, to: &canonical)
        } else {
            CanonicalRequest.appendSHA256Hex(of: body, to: &canonical)
        }

        let day = String(stamp.prefix(8))
        let stringToSign = CanonicalRequest.stringToSign(
            canonicalRequest: canonical, timestamp: stamp, date: day, region: region, service: service)
        let mac = cache.entry(secretAccessKey: secretAccessKey, date: day, region: region, service: service).mac
        let signature = mac.authenticationCode(for: stringToSign).withUnsafeBytes { ASCII.hex($0) }

        added.append((
            "Authorization",
            "\(SigV4Authorization.algorithm) Credential=\(accessKeyId)/\(day)/\(region)/\(service)/aws4_request, "
                + "SignedHeaders=\(signedLine), Signature=\(signature)"
        ))
        return .success(added)
    }
}
