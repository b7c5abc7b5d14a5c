import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// The JWKS of an OIDC issuer that has no JWKS file (issue 9 §2): fetched over HTTPS from
/// `<issuer>/.well-known/openid-configuration`, then its `jwks_uri`, as AWS STS does.
/// Bounded work: a timeout per request, a size limit per document, HTTPS only, no
/// redirects. Kept for `ttl` once fetched; a failure is remembered for `failureTTL`, so an
/// unreachable issuer costs one attempt per interval, not one per request. Unreachable or
/// unusable: nil, which AssumeRoleWithWebIdentity refuses with InvalidIdentityToken
/// ("Couldn't retrieve verification key from your identity provider"), as AWS words it.
final class OIDCDiscovery: @unchecked Sendable {
    let tls: TLSConfiguration
    let timeout: TimeAmount
    let ttl: Double
    let failureTTL: Double
    /// Larger documents are refused (real discovery documents and JWKS are a few KiB).
    static let maxBytes = 1 << 20
    private let lock = NSLock()
    private var cache: [String: (jwks: String?, expires: Double)] = [:]
    static let cacheLimit = 1_000

    /// `caFile`: a PEM file of extra CAs to trust (a private issuer; tests), beside the system's.
    init(caFile: String? = nil, timeout: TimeAmount = .seconds(5), ttl: Double = 3600, failureTTL: Double = 10) {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile { tls.additionalTrustRoots = [.file(caFile)] }
        tls.minimumTLSVersion = .tlsv12
        self.tls = tls
        self.timeout = timeout
        self.ttl = ttl
        self.failureTTL = failureTTL
    }

    /// The issuer's JWKS text, from the cache or fetched now (blocking: call off the event loops).
    func jwks(issuerURL: String, now: Double = Date().timeIntervalSince1970) -> String? {
        let issuer = Self.issuer(issuerURL)
        if let hit = lock.withLock({ cache[issuer] }), hit.expires > now { return hit.jwks }
        // Never wait on an event loop (a fetch needs one).
        guard MultiThreadedEventLoopGroup.currentEventLoop == nil else { return nil }
        let fetched = try? fetchJWKS(issuer: issuer)
        lock.withLock {
            if cache.count >= Self.cacheLimit { cache.removeAll() }
            cache[issuer] = (fetched, now + (fetched == nil ? failureTTL : ttl))
        }
        return fetched
    }

    /// "https://host/path" whatever form IAM stored (IAM keeps the URL without its scheme).
    static func issuer(_ url: String) -> String {
        var s = Substring(url)
        if s.lowercased().hasPrefix("https://") { s = s.dropFirst(8) }
        while s.hasSuffix("/") { s = s.dropLast() }
        return "https://" + s
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    func fetchJWKS(issuer: String) throws -> String {
        let configuration = try fetch(issuer + "/.well-known/openid-configuration")
        guard let object = try JSONSerialization.jsonObject(with: Data(configuration)) as? [String: Any],
              let jwksURI = object["jwks_uri"] as? String else { throw Failure("no jwks_uri") }
        let jwks = try fetch(jwksURI)
        guard let keys = try JSONSerialization.jsonObject(with: Data(jwks)) as? [String: Any], keys["keys"] is [Any] else {
            throw Failure("not a JWKS")
        }
        return String(decoding: jwks, as: UTF8.self)
    }

    /// GET over HTTPS; the body of a 200 answer of at most `maxBytes`.
    func fetch(_ url: String) throws -> [UInt8] {
        guard let parsed = URL(string: url), parsed.scheme?.lowercased() == "https", let host = parsed.host, !host.isEmpty else {
            throw Failure("not an https URL")
        }
        let port = parsed.port ?? 443
        var path = parsed.path.isEmpty ? "/" : parsed.path
        if let query = parsed.query { path += "?" + query }
        let sslContext = try NIOSSLContext(configuration: tls)
        let group = MultiThreadedEventLoopGroup.singleton
        let promise = group.next().makePromise(of: [UInt8].self)
        let timeout = self.timeout
        let serverName = host.first?.isNumber == true || host.contains(":") ? nil : host
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let ssl = try NIOSSLClientHandler(context: sslContext, serverHostname: serverName)
                    try channel.pipeline.syncOperations.addHandler(ssl)
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(BodyCollector(promise: promise, limit: Self.maxBytes))
                }
            }
        let channel: any Channel
        do {
            channel = try bootstrap.connect(host: host, port: port).wait()
        } catch {
            // A promise must never be dropped unfulfilled: NIO traps on it in debug builds
            // (an unreachable issuer crashed the server before this).
            promise.fail(error)
            throw error
        }
        let deadline = channel.eventLoop.scheduleTask(in: timeout) {
            promise.fail(Failure("timed out"))
            channel.close(promise: nil)
        }
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
        head.headers.add(name: "Host", value: parsed.port.map { "\(host):\($0)" } ?? host)
        head.headers.add(name: "Accept", value: "application/json")
        head.headers.add(name: "Connection", value: "close")
        head.headers.add(name: "User-Agent", value: "swift-kms")
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        defer {
            deadline.cancel()
            channel.close(promise: nil)
        }
        return try promise.futureResult.wait()
    }

    /// Collects a 200 response's body up to `limit` bytes; anything else fails the promise.
    final class BodyCollector: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPClientResponsePart
        let promise: EventLoopPromise<[UInt8]>
        let limit: Int
        var body: [UInt8] = []
        var status: UInt = 0

        init(promise: EventLoopPromise<[UInt8]>, limit: Int) {
            self.promise = promise
            self.limit = limit
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                status = head.status.code
                if status != 200 { fail(context, Failure("HTTP \(status)")) }
            case .body(let buffer):
                guard body.count + buffer.readableBytes <= limit else { return fail(context, Failure("too large")) }
                body.append(contentsOf: buffer.readableBytesView)
            case .end:
                if status == 200 { promise.succeed(body) }
                context.close(promise: nil)
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: Error) { fail(context, error) }

        func channelInactive(context: ChannelHandlerContext) {
            promise.fail(Failure("connection closed"))
            context.fireChannelInactive()
        }

        private func fail(_ context: ChannelHandlerContext, _ error: Error) {
            promise.fail(error)
            context.close(promise: nil)
        }
    }
}
