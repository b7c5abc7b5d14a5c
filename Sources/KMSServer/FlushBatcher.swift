import NIOCore

/// Defers flushing responses to the end of the event loop's current tick, so one tick's
/// answers reach the kernel together after all of its requests were processed.
///
/// Why: each flush is a write(2) that wakes the client; on a machine shared with the
/// clients, that wakeup preempted the event loop mid-batch (about 0.6 involuntary context
/// switches per request under load), and every switch costs the caches. Writes still go
/// out in order per connection and within the same loop iteration, so latency grows by
/// at most one batch of processing.
///
/// Confined to one event loop: `add` is only called on it, and the flush task runs on it.
final class FlushBatcher: @unchecked Sendable {
    private let eventLoop: any EventLoop
    private var pending: [ChannelHandlerContext] = []
    private var scheduled = false
    /// With auditing, responses are held here until their tick's events are written.
    let audit: AuditLog?

    /// A held answer: a response, already encoded (with or without an event; its request
    /// ID rebuilds it as an internal error if the tick's events cannot be written), or a
    /// close after the others. Encoded when held, as an unaudited answer is, while its body
    /// is still in the cache; only a buffer waits, not the whole Response.
    private enum Held {
        case response(ChannelHandlerContext, ByteBuffer, requestID: String, keepAlive: Bool, audited: Bool)
        case close(ChannelHandlerContext)
    }
    private var held: [Held] = []
    /// The tick's held answers are swapped in here to be sent: both arrays keep their
    /// storage (copying `held` and emptying it allocated a new buffer every tick).
    private var sending: [Held] = []
    private var flushing: [ChannelHandlerContext] = []
    /// This tick's events, back to back, with their ends and index entries: one buffer per
    /// loop, reused every tick.
    private var events: [UInt8] = []
    private var ends: [Int] = []
    private var entries: [AuditIndexEntry] = []

    init(eventLoop: any EventLoop, audit: AuditLog? = nil) {
        self.eventLoop = eventLoop
        self.audit = audit
        events.reserveCapacity(64 * 1024)
    }

    /// Holds `response` (and its event) until the end of the tick: the tick's events are
    /// chained and written with one writev(2) first, then the responses go out. If the
    /// write fails, each audited response is replaced by KMSInternalException.
    /// `response` is consumed: its index entry is moved into the tick's entries, not copied
    /// (a copy retained each of its strings, and dropping the Response released them).
    func hold(_ context: ChannelHandlerContext, _ response: consuming RequestPipeline.Response, keepAlive: Bool) {
        eventLoop.assertInEventLoop()
        let audited = response.eventInBatch || !response.event.isEmpty
        if audited, !response.eventInBatch {
            events.append(contentsOf: response.event)
            ends.append(events.count)
            if let entry = response.entry.take() { entries.append(entry) }
        }
        var buffer = context.channel.allocator.buffer(capacity: response.body.count + 160)
        ResponseEncoding.write(status: response.status, body: response.body, requestID: response.requestID,
                               keepAlive: keepAlive, into: &buffer, contentType: response.contentType)
        held.append(.response(context, buffer, requestID: response.requestID, keepAlive: keepAlive, audited: audited))
        schedule()
    }

    /// Builds an event straight into this tick's buffer: `build` appends the record and
    /// returns its index entry. No array per event and no copy in `hold`; the response is
    /// then held with `eventInBatch`. The event is written at the end of the tick even if
    /// its response is not held (a connection closing meanwhile): the call was carried out.
    func appendEvent(_ build: (inout [UInt8]) -> AuditIndexEntry) {
        eventLoop.assertInEventLoop()
        let entry = build(&events)
        ends.append(events.count)
        entries.append(entry)
        schedule()
    }

    /// Closes the connection once what was held for it before has gone out.
    func holdClose(_ context: ChannelHandlerContext) {
        eventLoop.assertInEventLoop()
        held.append(.close(context))
        schedule()
    }

    private func schedule() {
        guard !scheduled else { return }
        scheduled = true
        eventLoop.execute { self.flushAll() }
    }

    /// Flushes `context` at the end of this tick. A connection that answered several
    /// pipelined requests in one tick is listed several times; the later flushes find
    /// nothing to write.
    func add(_ context: ChannelHandlerContext) {
        eventLoop.assertInEventLoop()
        pending.append(context)
        guard !scheduled else { return }
        scheduled = true
        eventLoop.execute { self.flushAll() }
    }

    private func flushAll() {
        scheduled = false
        if !held.isEmpty || !ends.isEmpty { releaseHeld() }
        swap(&pending, &flushing)
        for context in flushing { context.flush() }
        flushing.removeAll(keepingCapacity: true)
    }

    private func releaseHeld() {
        var written = true
        if !ends.isEmpty, let audit {
            written = audit.append(events, ends: ends, entries: &entries)
            events.removeAll(keepingCapacity: true)
            ends.removeAll(keepingCapacity: true)
            entries.removeAll(keepingCapacity: true)
        }
        // Anything held while these go out (a re-entrant answer) lands in the emptied `held`.
        swap(&held, &sending)
        defer { sending.removeAll(keepingCapacity: true) }
        for item in sending {
            switch item {
            case .response(let context, var buffer, let requestID, let keepAlive, let audited):
                if audited, !written {
                    // The event was not kept: the call is answered as not carried out.
                    let response = RequestPipeline.error(.internalError, requestID: requestID)
                    buffer = context.channel.allocator.buffer(capacity: response.body.count + 160)
                    ResponseEncoding.write(status: response.status, body: response.body, requestID: response.requestID,
                                           keepAlive: keepAlive, into: &buffer, contentType: response.contentType)
                }
                if keepAlive {
                    context.write(NIOAny(buffer), promise: nil)
                    pending.append(context)
                } else {
                    let channel = context.channel
                    context.writeAndFlush(NIOAny(buffer)).whenComplete { _ in channel.close(promise: nil) }
                }
            case .close(let context):
                let channel = context.channel
                context.writeAndFlush(NIOAny(channel.allocator.buffer(capacity: 0))).whenComplete { _ in
                    channel.close(promise: nil)
                }
            }
        }
    }

    /// One batcher per event loop of `group`, looked up by the loop's identity.
    static func perLoop(of group: any EventLoopGroup, audit: AuditLog? = nil) -> [ObjectIdentifier: FlushBatcher] {
        var table: [ObjectIdentifier: FlushBatcher] = [:]
        for loop in group.makeIterator() { table[ObjectIdentifier(loop)] = FlushBatcher(eventLoop: loop, audit: audit) }
        return table
    }
}
