import Foundation
import KMSCore
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SigV4
import Synchronization

/// KMS's side of the XKS proxy API: HTTPS POSTs SigV4-signed with service "kms-xks-proxy"
/// and the store's credential (XKS specification, Appendix A). Bounded: one deadline covers
/// connect, TLS handshake and answer (AWS: 250 ms), and answers over 64 KiB are refused.
/// Connections are kept alive and reused per proxy address (a new TLS handshake per call
/// would spend most of the budget); a reused connection that turns out closed is replaced
/// once. Blocking: called off the event loops only.
final class XKSHTTPSTransport: XKSProxyTransport, @unchecked Sendable {
    let sslContext: NIOSSLContext
    static let maxBytes = 64 * 1024
    /// Idle connections kept per proxy address.
    static let maxIdlePerProxy = 32
    /// Like curl's --connect-to: the endpoint host NAME is reached at another HOST:PORT,
    /// still verified and addressed as NAME (AWS's XksProxyUriEndpoint takes no port).
    let connectTo: [String: (host: String, port: Int)]
    private let idle = Mutex<[String: [Connection]]>([:])

    struct Connection: Sendable {
        let channel: any Channel
        let collector: AnswerCollector
    }

    /// `caFile`: extra CAs to trust beside the system's (a private proxy; tests).
    /// `clientCertificate`/`clientKey`: presented to proxies that ask for mutual TLS.
    init(caFile: String?, connectTo: [String: (host: String, port: Int)] = [:], clientCertificate: String? = nil,
         clientKey: String? = nil) throws {
        self.connectTo = connectTo
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile { tls.additionalTrustRoots = [.file(caFile)] }
        if let clientCertificate, let clientKey {
            tls.certificateChain = try NIOSSLCertificate.fromPEMFile(clientCertificate).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: clientKey, format: .pem))
        }
        tls.minimumTLSVersion = .tlsv12
        sslContext = try NIOSSLContext(configuration: tls)
    }

    func post(uriEndpoint: String, path: String, body: [UInt8], accessKeyId: String, secretAccessKey: String,
              region: String, timeout: Duration) throws(XKSTransportFailure) -> (status: Int, body: [UInt8]) {
        guard MultiThreadedEventLoopGroup.currentEventLoop == nil else { throw .unreachable }
        guard let url = URL(string: uriEndpoint), url.scheme?.lowercased() == "https", let host = url.host, !host.isEmpty else {
            throw .unreachable
        }
        let target = connectTo[host.lowercased()] ?? (host, url.port ?? 443)
        let hostHeader = url.port.map { "\(host):\($0)" } ?? host
        let signer = SigV4Signer(accessKeyId: accessKeyId, secretAccessKey: secretAccessKey, region: region, service: "kms-xks-proxy")
        let signed: [(name: String, value: String)]
        do {
            signed = try signer.sign(method: "POST", path: path, host: hostHeader, headers: [(name: "Content-Type", value: "application/json")],
                                     body: body)
        } catch {
            throw .unreachable
        }
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path)
        head.headers.add(name: "Host", value: hostHeader)
        head.headers.add(name: "Content-Type", value: "application/json")
        head.headers.add(name: "Content-Length", value: String(body.count))
        for (name, value) in signed { head.headers.add(name: name, value: value) }
        let nanos = Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
        let deadline = NIODeadline.now() + .nanoseconds(max(nanos, 1_000_000))
        let poolKey = "\(host.lowercased())|\(target.host)|\(target.port)"
        if let pooled = takeIdle(poolKey) {
            do { return try exchange(pooled, head: head, body: body, deadline: deadline, poolKey: poolKey) } catch .unreachable {
                // Closed while idle: one new connection, within the same deadline.
            }
        }
        let fresh = try connect(host: target.host, port: target.port, serverName: host, deadline: deadline)
        return try exchange(fresh, head: head, body: body, deadline: deadline, poolKey: poolKey)
    }

    private func takeIdle(_ key: String) -> Connection? {
        idle.withLock { pools in
            while let c = pools[key]?.popLast() {
                if c.channel.isActive { return c }
            }
            return nil
        }
    }

    private func putIdle(_ key: String, _ c: Connection) {
        let kept = idle.withLock { pools -> Bool in
            guard (pools[key]?.count ?? 0) < Self.maxIdlePerProxy else { return false }
            pools[key, default: []].append(c)
            return true
        }
        if !kept { c.channel.close(promise: nil) }
    }

    private func connect(host: String, port: Int, serverName: String, deadline: NIODeadline) throws(XKSTransportFailure) -> Connection {
        let remaining = deadline - .now()
        guard remaining > .zero else { throw .timedOut }
        let sslContext = self.sslContext
        let sni = serverName.first?.isNumber == true || serverName.contains(":") ? nil : serverName
        let collector = AnswerCollector(limit: Self.maxBytes)
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(remaining)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: sslContext, serverHostname: sni))
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(collector)
                }
            }
        do {
            return Connection(channel: try bootstrap.connect(host: host, port: port).wait(), collector: collector)
        } catch let error as ChannelError {
            if case .connectTimeout = error { throw .timedOut }
            throw .unreachable
        } catch {
            throw .unreachable
        }
    }

    /// One request and its answer on `c`; the connection goes back to the pool when the
    /// proxy keeps it alive, and is closed on any failure.
    private func exchange(_ c: Connection, head: HTTPRequestHead, body: [UInt8], deadline: NIODeadline,
                          poolKey: String) throws(XKSTransportFailure) -> (status: Int, body: [UInt8]) {
        let loop = c.channel.eventLoop
        let promise = loop.makePromise(of: (Int, [UInt8], Bool).self)
        let timer = loop.scheduleTask(deadline: deadline) { promise.fail(XKSTransportFailure.timedOut) }
        loop.execute {
            guard c.channel.isActive else { return promise.fail(XKSTransportFailure.unreachable) }
            c.collector.expect(promise)
            c.channel.write(HTTPClientRequestPart.head(head), promise: nil)
            c.channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil)
            c.channel.writeAndFlush(HTTPClientRequestPart.end(nil)).whenFailure { _ in
                promise.fail(XKSTransportFailure.unreachable)
            }
        }
        defer { timer.cancel() }
        do {
            let (status, answer, keepAlive) = try promise.futureResult.wait()
            if keepAlive { putIdle(poolKey, c) } else { c.channel.close(promise: nil) }
            return (status, answer)
        } catch let failure as XKSTransportFailure {
            c.channel.close(promise: nil)
            throw failure
        } catch is NIOSSLError {
            c.channel.close(promise: nil)
            throw .tls
        } catch {
            c.channel.close(promise: nil)
            throw .unreachable
        }
    }

    /// Collects each answer (any status) up to `limit` bytes for the promise of the request in flight.
    final class AnswerCollector: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPClientResponsePart
        let limit: Int
        private var promise: EventLoopPromise<(Int, [UInt8], Bool)>?
        private var body: [UInt8] = []
        private var status = 0
        private var keepAlive = false

        init(limit: Int) { self.limit = limit }

        /// On the channel's event loop, before the request is written.
        func expect(_ promise: EventLoopPromise<(Int, [UInt8], Bool)>) {
            self.promise = promise
            body = []
            status = 0
            keepAlive = false
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                status = Int(head.status.code)
                keepAlive = head.isKeepAlive
            case .body(let buffer):
                guard body.count + buffer.readableBytes <= limit else {
                    promise?.fail(XKSTransportFailure.unreachable)
                    promise = nil
                    context.close(promise: nil)
                    return
                }
                body.append(contentsOf: buffer.readableBytesView)
            case .end:
                promise?.succeed((status, body, keepAlive))
                promise = nil
                body = []
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: Error) {
            promise?.fail(error)
            promise = nil
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            promise?.fail(XKSTransportFailure.unreachable)
            promise = nil
            context.fireChannelInactive()
        }
    }
}
