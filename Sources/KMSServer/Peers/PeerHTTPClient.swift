import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// POSTs one message to a peer and returns its answer: HTTP, or HTTPS verified against
/// the system's CAs plus `--peer-ca-file` (TLS 1.2 or later, hostname checked). Bounded:
/// a connect and answer timeout, a size limit on the answer, no redirects. Blocking:
/// call off the event loops.
struct PeerHTTPClient: Sendable {
    let tls: TLSConfiguration
    let timeout: TimeAmount
    static let maxAnswerBytes = 64 * 1024

    init(caFile: String? = nil, timeout: TimeAmount = .seconds(10)) {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile { tls.additionalTrustRoots = [.file(caFile)] }
        tls.minimumTLSVersion = .tlsv12
        self.tls = tls
        self.timeout = timeout
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    /// `baseURL` + `path`; the answer's status code and body (any status).
    func post(baseURL: String, path: String, body: [UInt8]) throws -> (status: UInt, body: [UInt8]) {
        guard let url = URL(string: baseURL), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty else {
            throw Failure("peer URL \(baseURL) is not http(s)://host[:port]")
        }
        let secure = scheme == "https"
        let port = url.port ?? (secure ? 443 : 80)
        var prefix = url.path
        while prefix.hasSuffix("/") { prefix.removeLast() }
        let sslContext = secure ? try NIOSSLContext(configuration: tls) : nil
        let group = MultiThreadedEventLoopGroup.singleton
        let promise = group.next().makePromise(of: (UInt, [UInt8]).self)
        let serverName = host.first?.isNumber == true || host.contains(":") ? nil : host
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: sslContext, serverHostname: serverName))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(AnswerCollector(promise: promise, limit: Self.maxAnswerBytes))
                }
            }
        let channel: any Channel
        do {
            channel = try bootstrap.connect(host: host, port: port).wait()
        } catch {
            promise.fail(error)  // never leave a promise unfulfilled (NIO traps on it in debug builds)
            throw Failure("cannot connect to \(host):\(port): \(error)")
        }
        let deadline = channel.eventLoop.scheduleTask(in: timeout) {
            promise.fail(Failure("no answer within \(timeout.nanoseconds / 1_000_000_000) s"))
            channel.close(promise: nil)
        }
        defer {
            deadline.cancel()
            channel.close(promise: nil)
        }
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: prefix + path)
        head.headers.add(name: "Host", value: url.port.map { "\(host):\($0)" } ?? host)
        head.headers.add(name: "Content-Type", value: "application/json")
        head.headers.add(name: "Content-Length", value: String(body.count))
        head.headers.add(name: "Connection", value: "close")
        head.headers.add(name: "User-Agent", value: "swift-kms-peer")
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        let (status, answer) = try promise.futureResult.wait()
        return (status, answer)
    }

    /// Collects a response (any status) up to `limit` bytes.
    final class AnswerCollector: ChannelInboundHandler, @unchecked Sendable {  // used on its channel's loop only
        typealias InboundIn = HTTPClientResponsePart
        let promise: EventLoopPromise<(UInt, [UInt8])>
        let limit: Int
        var body: [UInt8] = []
        var status: UInt = 0

        init(promise: EventLoopPromise<(UInt, [UInt8])>, limit: Int) {
            self.promise = promise
            self.limit = limit
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): status = head.status.code
            case .body(let buffer):
                guard body.count + buffer.readableBytes <= limit else {
                    promise.fail(Failure("answer too large"))
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
            promise.fail(Failure("connection closed before the answer"))
            context.fireChannelInactive()
        }
    }
}
