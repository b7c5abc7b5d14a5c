import Foundation
import KMSCore
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SigV4

/// KMS's side of the XKS proxy API: one HTTPS POST per call, SigV4-signed with service
/// "kms-xks-proxy" and the store's credential (XKS specification, Appendix A). Bounded:
/// one deadline covers connect, TLS handshake and answer (AWS: 250 ms), and answers over
/// 64 KiB are refused. Blocking: called off the event loops only.
final class XKSHTTPSTransport: XKSProxyTransport, @unchecked Sendable {
    let sslContext: NIOSSLContext
    static let maxBytes = 64 * 1024
    /// Like curl's --connect-to: the endpoint host NAME is reached at another HOST:PORT,
    /// still verified and addressed as NAME (AWS's XksProxyUriEndpoint takes no port).
    let connectTo: [String: (host: String, port: Int)]

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
        let headers: [(name: String, value: String)] = [("Content-Type", "application/json")]
        let signed: [(name: String, value: String)]
        do { signed = try signer.sign(method: "POST", path: path, host: hostHeader, headers: headers, body: body) } catch {
            throw .unreachable
        }
        let nanos = Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
        let limit = TimeAmount.nanoseconds(max(nanos, 1_000_000))
        let group = MultiThreadedEventLoopGroup.singleton
        let loop = group.next()
        let promise = loop.makePromise(of: (Int, [UInt8]).self)
        let sslContext = self.sslContext
        let serverName = host.first?.isNumber == true || host.contains(":") ? nil : host
        let deadline = loop.scheduleTask(in: limit) { promise.fail(XKSTransportFailure.timedOut) }
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(limit)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let ssl = try NIOSSLClientHandler(context: sslContext, serverHostname: serverName)
                    try channel.pipeline.syncOperations.addHandler(ssl)
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(AnswerCollector(promise: promise, limit: Self.maxBytes))
                }
            }
        bootstrap.connect(host: target.host, port: target.port).whenComplete { result in
            switch result {
            case .failure:
                promise.fail(XKSTransportFailure.unreachable)
            case .success(let channel):
                promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
                var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path)
                head.headers.add(name: "Host", value: hostHeader)
                head.headers.add(name: "Content-Type", value: "application/json")
                head.headers.add(name: "Content-Length", value: String(body.count))
                head.headers.add(name: "Connection", value: "close")
                for (name, value) in signed { head.headers.add(name: name, value: value) }
                channel.write(HTTPClientRequestPart.head(head), promise: nil)
                channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil)
                channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
            }
        }
        defer { deadline.cancel() }
        do {
            let (status, answer) = try promise.futureResult.wait()
            return (status, answer)
        } catch let failure as XKSTransportFailure {
            throw failure
        } catch is NIOSSLError {
            throw .tls
        } catch {
            throw .unreachable
        }
    }

    /// Collects one answer (any status) up to `limit` bytes.
    final class AnswerCollector: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPClientResponsePart
        let promise: EventLoopPromise<(Int, [UInt8])>
        let limit: Int
        var body: [UInt8] = []
        var status = 0

        init(promise: EventLoopPromise<(Int, [UInt8])>, limit: Int) {
            self.promise = promise
            self.limit = limit
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): status = Int(head.status.code)
            case .body(let buffer):
                guard body.count + buffer.readableBytes <= limit else {
                    promise.fail(XKSTransportFailure.unreachable)
                    context.close(promise: nil)
                    return
                }
                body.append(contentsOf: buffer.readableBytesView)
            case .end:
                promise.succeed((status, body))
                context.close(promise: nil)
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: Error) {
            promise.fail(error)
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            promise.fail(XKSTransportFailure.unreachable)
            context.fireChannelInactive()
        }
    }
}
