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

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
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
        let contexts = pending
        pending.removeAll(keepingCapacity: true)
        for context in contexts { context.flush() }
    }

    /// One batcher per event loop of `group`, looked up by the loop's identity.
    static func perLoop(of group: any EventLoopGroup) -> [ObjectIdentifier: FlushBatcher] {
        var table: [ObjectIdentifier: FlushBatcher] = [:]
        for loop in group.makeIterator() { table[ObjectIdentifier(loop)] = FlushBatcher(eventLoop: loop) }
        return table
    }
}
