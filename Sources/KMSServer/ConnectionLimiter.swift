#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import Synchronization

/// A cap on open connections (`--max-connections`): a connection accepted beyond it is
/// closed at once, before it is read, so idle or slow clients cannot take every socket and
/// the memory behind them. Counted across event loops with one atomic.
final class ConnectionLimiter: Sendable {
    let maxConnections: Int
    private let open = Atomic<Int>(0)
    /// Connections closed for being over the cap.
    let refused = Atomic<Int>(0)

    init(maxConnections: Int) {
        self.maxConnections = maxConnections
    }

    var openConnections: Int { open.load(ordering: .relaxed) }

    /// Counts `channel` as open until it closes, or returns false when the cap is reached.
    func admit(_ channel: any Channel) -> Bool {
        let now = open.add(1, ordering: .relaxed).newValue
        guard now <= maxConnections else {
            open.subtract(1, ordering: .relaxed)
            refused.add(1, ordering: .relaxed)
            return false
        }
        channel.closeFuture.whenComplete { _ in self.open.subtract(1, ordering: .relaxed) }
        return true
    }

    /// The only handler of a refused connection: closes it as soon as it is registered
    /// (closing inside the bootstrap's initializer would be reported as an accept error).
    final class Refuse: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer

        func channelActive(context: ChannelHandlerContext) {
            context.close(promise: nil)
        }
    }

    /// Raises the soft limit on open files towards the hard limit, so the cap, not
    /// EMFILE at accept, is what limits connections (the default soft limit is often 1024).
    static func raiseOpenFileLimit(toAtLeast wanted: Int) {
        #if os(Linux)
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        #else
        let resource = RLIMIT_NOFILE
        #endif
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else { return }
        let target = rlim_t(max(0, wanted))
        guard limit.rlim_cur < target else { return }
        limit.rlim_cur = min(target, limit.rlim_max)
        _ = setrlimit(resource, &limit)
    }
}
