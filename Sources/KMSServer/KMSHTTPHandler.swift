import KMSCore
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// HTTP/1.1 handler: takes whole requests from `HTTPRequestFramer`, runs the pipeline,
/// writes the AWS JSON response.
///
/// Responses are encoded here as one buffer and one write, instead of NIO's response
/// encoder, pipelining and error handlers: the server has one route with fixed headers, and
/// those three handler passes were a tenth of the Encrypt path's CPU. Ordering of pipelined
/// requests is kept by queueing requests that arrive while a blocking one runs on the
/// thread pool. Read-only operations run on the event loop (no disk I/O).
///
/// Backpressure: a client that pipelines requests and does not read its answers makes the
/// channel unwritable once its unsent responses pass the write buffer's high watermark;
/// from then on this handler holds back `read`, so the server stops taking its bytes (the
/// kernel's buffers, then the client, fill up) until the responses drain below the low mark.
final class KMSHTTPHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestMessage
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// A client that pipelines more than this while a blocking request runs is cut off.
    static let maxQueuedRequests = 128

    let pipeline: RequestPipeline
    let blockingQueue: BlockingWorkQueue
    let maxBodyBytes: Int
    /// This connection's event loop's batcher; nil flushes every response at once.
    let flusher: FlushBatcher?

    /// The peer's address, read once per connection (getpeername is a system call).
    private var sourceIP: String?
    /// True while a blocking request of this connection runs on the thread pool.
    private var busy = false
    private var queued: [HTTPRequestMessage] = []
    private var closing = false
    /// The client shut down its sending side: answer what it sent, then close.
    private var inputClosed = false
    /// The channel's writability as last reported; a `read` asked for while unwritable waits.
    private var writable = true
    private var readPending = false
    /// The negotiated TLS version for the audit's tlsDetails, read once per connection;
    /// "" over plain HTTP.
    private var tlsVersion: String?
    /// The temporary credential this connection last authenticated with (ConnectionSession):
    /// a client signs all its requests on a connection with the same one.
    private let session = ConnectionSession()

    /// What this connection's previous audit events rendered (its caller, its key), reused
    /// by the next; nil without auditing.
    private let auditCache: AuditEventCache?

    init(pipeline: RequestPipeline, blockingQueue: BlockingWorkQueue, maxBodyBytes: Int, flusher: FlushBatcher? = nil) {
        auditCache = pipeline.audit == nil ? nil : AuditEventCache()
        self.pipeline = pipeline
        self.blockingQueue = blockingQueue
        self.maxBodyBytes = maxBodyBytes
        self.flusher = flusher
        if let flusher, flusher.audit != nil { auditCache?.sink = flusher }
    }

    func read(context: ChannelHandlerContext) {
        if writable {
            context.read()
        } else {
            readPending = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        writable = context.channel.isWritable
        if writable {
            if readPending {
                readPending = false
                context.read()
            }
        } else {
            context.flush()  // what is buffered should at least be on its way
        }
        context.fireChannelWritabilityChanged()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let request = unwrapInboundIn(data)
        if busy {
            guard queued.count < Self.maxQueuedRequests else { context.close(promise: nil); return }
            queued.append(request)
        } else {
            handle(request, context: context)
        }
    }

    private func handle(_ request: HTTPRequestMessage, context: ChannelHandlerContext) {
        guard !closing else { return }
        let keepAlive = request.keepAlive
        if sourceIP == nil { sourceIP = context.remoteAddress?.ipAddress ?? "" }
        let tls = auditTLS(request, context: context)
        if request.tooLarge {
            let error = KMSError(.requestEntityTooLarge, "Request body exceeds the maximum of \(maxBodyBytes) bytes.")
            respond(context: context, pipeline.rejected(request, sourceIP: sourceIP ?? "", tls: tls, error), keepAlive: false)
            return
        }
        switch pipeline.process(request, sourceIP: sourceIP ?? "", tls: tls, connection: session, auditCache: auditCache) {
        case .respond(let response):
            respond(context: context, response, keepAlive: keepAlive)
            closeIfFinished(context: context)
        case .offload(let work):
            busy = true
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            blockingQueue.submit(work.lane, account: work.account, on: context.eventLoop, work.run, refuse: work.refuse)
                .whenComplete { result in
                let (handler, context) = loopBound.value
                switch result {
                case .success(let response): handler.respond(context: context, response, keepAlive: keepAlive)
                case .failure: handler.respond(context: context, work.refuse(.internalError), keepAlive: false)
                }
                handler.busy = false
                handler.drain(context: context)
            }
        }
    }

    /// Answers requests that arrived while a blocking one ran, in order.
    private func drain(context: ChannelHandlerContext) {
        while !busy, !closing, !queued.isEmpty {
            handle(queued.removeFirst(), context: context)
        }
        closeIfFinished(context: context)
    }

    /// A client that half-closes (sends its requests, then shuts down writing) still gets
    /// every answer: the channel allows remote half-closure, and closes here once the
    /// last response is flushed (responses wait for the tick's batched flush otherwise).
    /// A connection idle for the configured timeout (IdleStateHandler) is closed here.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if (event as? ChannelEvent) == .inputClosed || event is DrainRequest {
            inputClosed = true
            closeIfFinished(context: context)
        } else if let event = event as? IdleStateHandler.IdleStateEvent, event == .read {
            // Idle: nothing arrived for the timeout. A request still being answered keeps
            // the connection (slow key-pair generation is not the client's idleness).
            if !busy, queued.isEmpty, !closing { context.close(promise: nil) }
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    private func closeIfFinished(context: ChannelHandlerContext) {
        guard inputClosed, !busy, queued.isEmpty, !closing else { return }
        closing = true
        if let flusher, flusher.audit != nil {
            flusher.holdClose(context)  // after the held responses
            return
        }
        let channel = context.channel
        // An empty write with a promise completes once everything before it is flushed.
        context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(capacity: 0))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    /// `response` is consumed, so that the batcher can move its index entry (see `hold`).
    private func respond(context: ChannelHandlerContext, _ response: consuming RequestPipeline.Response, keepAlive: Bool) {
        guard !closing else { return }
        if let flusher, flusher.audit != nil {
            // The audit stage's durability point: the response waits for its event's write.
            if !keepAlive { closing = true }
            flusher.hold(context, consume response, keepAlive: keepAlive)
            return
        }
        var response = response
        if !response.event.isEmpty, let audit = pipeline.audit {
            // No batcher (tests): write the event alone, still before the response.
            var entries = response.entry.map { [$0] } ?? []
            if !audit.append(response.event, ends: [response.event.count], entries: &entries) {
                response = RequestPipeline.error(.internalError, requestID: response.requestID)
            }
        }
        var buffer = context.channel.allocator.buffer(capacity: response.body.count + 160)
        ResponseEncoding.write(status: response.status, body: response.body, requestID: response.requestID,
                               keepAlive: keepAlive, into: &buffer, contentType: response.contentType)
        guard !keepAlive else {
            // No promise: allocating a future per response only to drop it cost ~2% of CPU.
            guard let flusher else {
                context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
                return
            }
            context.write(wrapOutboundOut(buffer), promise: nil)
            flusher.add(context)
            return
        }
        closing = true
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in channel.close(promise: nil) }
    }

    /// tlsDetails for the audit: the version NIOSSL negotiated (read once per connection)
    /// and the Host header the client sent; nil over plain HTTP.
    private func auditTLS(_ request: HTTPRequestMessage, context: ChannelHandlerContext) -> AuditTLS? {
        guard pipeline.audit != nil else { return nil }
        if tlsVersion == nil {
            let handler = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)
            tlsVersion = handler.map { Self.name($0.tlsVersion) } ?? ""
        }
        guard let version = tlsVersion, !version.isEmpty else { return nil }
        return AuditTLS(version: version, host: request.header("host") ?? "")
    }

    static func name(_ version: TLSVersion?) -> String {
        switch version {
        case .tlsv13: return "TLSv1.3"
        case .tlsv12: return "TLSv1.2"
        case .tlsv11: return "TLSv1.1"
        case .tlsv1: return "TLSv1"
        default: return "TLS"
        }
    }

    /// Malformed HTTP (the framer's errors): answer 400 and close.
    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if error is HTTPRequestFramingError, !closing {
            let response = RequestPipeline.error(KMSError(.serialization, "The request is not valid HTTP/1.1."))
            respond(context: context, response, keepAlive: false)
        } else {
            context.close(promise: nil)
        }
    }
}

/// The HTTP/1.1 response bytes: status line, the fixed headers AWS JSON clients read, body.
enum ResponseEncoding {
    static func write(status: HTTPResponseStatus, body: [UInt8], requestID: String, keepAlive: Bool, into buffer: inout ByteBuffer,
                      contentType: String? = nil) {
        if status == .ok {
            buffer.writeStaticString("HTTP/1.1 200 OK\r\n")
        } else {
            buffer.writeString("HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\n")
        }
        if let contentType {
            buffer.writeString("Content-Type: \(contentType)\r\nContent-Length: ")
        } else if body.first == UInt8(ascii: "<") {
            // The query protocol's XML (IAM, STS); JSON bodies never start with '<'.
            buffer.writeStaticString("Content-Type: text/xml\r\nContent-Length: ")
        } else {
            buffer.writeStaticString("Content-Type: application/x-amz-json-1.1\r\nContent-Length: ")
        }
        buffer.writeString(String(body.count))
        buffer.writeStaticString("\r\nx-amzn-RequestId: ")
        buffer.writeString(requestID.isEmpty ? RequestID.next() : requestID)
        if keepAlive { buffer.writeStaticString("\r\n\r\n") } else { buffer.writeStaticString("\r\nConnection: close\r\n\r\n") }
        buffer.writeBytes(body)
    }
}

/// Request IDs in AWS's UUID shape: a random per-process prefix and a counter, so the hot
/// path pays no system call for randomness (IDs must be unique, not secret).
enum RequestID {
    static let prefix: [UInt8] = Array(KeyIdentifier.newMaterialId().utf8.prefix(16))
    static let counter = Atomic<UInt64>(0)
    static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    static func next() -> String {
        text(counter.add(1, ordering: .relaxed).newValue)
    }

    /// The prefix's 16 hex digits as the ID's first 64 bits (AuditID's `high`).
    static let high: UInt64 = prefix.reduce(0) { v, c in
        v << 4 | UInt64(c <= UInt8(ascii: "9") ? c &- UInt8(ascii: "0") : (c | 0x20) &- UInt8(ascii: "a") &+ 10)
    }

    /// The next ID, with its 128 bits for the audit index: the counter is the low half, so
    /// the index takes it as is instead of parsing the text back (AuditID(text) is equal).
    static func nextWithAuditID() -> (String, AuditID) {
        let n = counter.add(1, ordering: .relaxed).newValue
        return (text(n), .uuid(high, n))
    }

    private static func text(_ n: UInt64) -> String {
        var out = [UInt8]()
        out.reserveCapacity(36)
        for i in 0..<32 {
            if i == 8 || i == 12 || i == 16 || i == 20 { out.append(UInt8(ascii: "-")) }
            out.append(i < 16 ? prefix[i] : digits[Int((n >> UInt64((31 - i) * 4)) & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
