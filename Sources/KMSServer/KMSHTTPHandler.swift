import KMSCore
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// HTTP/1.1 handler: gathers a request, runs the pipeline, writes the AWS JSON response.
/// Read-only operations run on the event loop (no disk I/O); state changes go to the
/// thread pool because they write to SQLite.
final class KMSHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let pipeline: RequestPipeline
    let threadPool: NIOThreadPool
    let maxBodyBytes: Int

    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    private var tooLarge = false
    /// The peer's address, read once per connection (getpeername is a system call).
    private var sourceIP: String?

    init(pipeline: RequestPipeline, threadPool: NIOThreadPool, maxBodyBytes: Int) {
        self.pipeline = pipeline
        self.threadPool = threadPool
        self.maxBodyBytes = maxBodyBytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body = nil
            tooLarge = false
            if let length = h.headers.first(name: "content-length").flatMap(Int.init), length > maxBodyBytes {
                tooLarge = true
            }
        case .body(var chunk):
            guard !tooLarge else { return }
            if (body?.readableBytes ?? 0) + chunk.readableBytes > maxBodyBytes {
                tooLarge = true
                body = nil
                return
            }
            if var existing = body {
                body = nil  // keep the buffer uniquely referenced so the append does not copy
                existing.writeBuffer(&chunk)
                body = existing
            } else {
                body = chunk
            }
        case .end:
            guard let head else { return }
            self.head = nil
            let keepAlive = head.isKeepAlive
            if tooLarge {
                let error = KMSError(.requestEntityTooLarge, "Request body exceeds the maximum of \(maxBodyBytes) bytes.")
                respond(context: context, RequestPipeline.error(error), keepAlive: false)
                return
            }
            let bytes = body.map { Array($0.readableBytesView) } ?? []
            body = nil
            if self.sourceIP == nil { self.sourceIP = context.remoteAddress?.ipAddress ?? "" }
            let sourceIP = self.sourceIP ?? ""
            switch pipeline.process(head: head, body: bytes, sourceIP: sourceIP) {
            case .respond(let response):
                respond(context: context, response, keepAlive: keepAlive)
            case .offload(let work):
                let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                threadPool.runIfActive(eventLoop: context.eventLoop, work).whenComplete { result in
                    let (handler, context) = loopBound.value
                    switch result {
                    case .success(let response): handler.respond(context: context, response, keepAlive: keepAlive)
                    case .failure: handler.respond(context: context, RequestPipeline.error(.internalError), keepAlive: false)
                    }
                }
            }
        }
    }

    private func respond(context: ChannelHandlerContext, _ response: RequestPipeline.Response, keepAlive: Bool) {
        var headers = HTTPHeaders()
        headers.reserveCapacity(4)
        headers.add(name: "Content-Type", value: "application/x-amz-json-1.1")
        headers.add(name: "Content-Length", value: String(response.body.count))
        headers.add(name: "x-amzn-RequestId", value: RequestID.next())
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let head = HTTPResponseHead(version: .http1_1, status: response.status, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: response.body.count)
        buffer.writeBytes(response.body)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

/// Request IDs in AWS's UUID shape: a random per-process prefix and a counter, so the hot
/// path pays no system call for randomness (IDs must be unique, not secret).
enum RequestID {
    static let prefix: [UInt8] = {
        var g = SystemRandomNumberGenerator()
        let hex = String(g.next(), radix: 16).leftPad(16)
        return Array(hex.utf8)
    }()
    static let counter = Atomic<UInt64>(0)
    static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    static func next() -> String {
        let n = counter.add(1, ordering: .relaxed).newValue
        var out = [UInt8]()
        out.reserveCapacity(36)
        for i in 0..<32 {
            if i == 8 || i == 12 || i == 16 || i == 20 { out.append(UInt8(ascii: "-")) }
            out.append(i < 16 ? prefix[i] : digits[Int((n >> UInt64((31 - i) * 4)) & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
