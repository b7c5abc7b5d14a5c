import Foundation
import Synchronization

/// Fail closed on a store outage (issue 9 §4, issue 8 §2). A cluster node holds grants,
/// identities and root credentials whole in memory and learns of other nodes' changes
/// from the change feed. While the feed cannot confirm that memory is current (its poll
/// of the change log fails, or a follower's re-read failed and its retries have not yet
/// succeeded), the memory may be answering with a revoked grant or a deactivated key; past
/// `bound` of that, requests are refused (KMSInternalException) rather than judged on it.
///
/// The hot path reads one atomic: "fresh until" this instant (uptime nanoseconds). Each
/// successful poll moves it to now + bound, unless a follower is behind.
public final class StoreFreshness: Sendable {
    /// How long a node may go without confirming its memory before it refuses requests.
    public static let defaultBound: Duration = .seconds(5)
    public let bound: Duration
    private let freshUntil: Atomic<UInt64>
    private let followersBehind = Mutex<Bool>(false)

    public init(bound: Duration = StoreFreshness.defaultBound) {
        self.bound = bound
        freshUntil = Atomic(Self.now() &+ Self.nanoseconds(bound))
    }

    public static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    static func nanoseconds(_ d: Duration) -> UInt64 {
        let (s, atto) = d.components
        return UInt64(max(0, s)) &* 1_000_000_000 &+ UInt64(max(0, atto / 1_000_000_000))
    }

    /// Whether memory is confirmed current within the bound (the hot path: one load).
    public var isFresh: Bool { Self.now() < freshUntil.load(ordering: .relaxed) }

    /// Refuses, as AWS words an internal error, when memory may be stale beyond the bound.
    public func check() throws(KMSError) {
        guard isFresh else { throw KMSError.staleState }
    }

    /// The change log was read: every change committed before it is known here.
    public func confirmed() { confirmed(at: Self.now()) }

    /// The change log was read at `instant` (uptime nanoseconds, `StoreFreshness.now()`) and
    /// every change it held has been applied since: fresh until `instant` + bound. Never
    /// moves "fresh until" back (a confirmation that arrives late is an older one).
    public func confirmed(at instant: UInt64) {
        let behind = followersBehind.withLock { $0 }
        guard !behind else { return }
        let until = instant &+ Self.nanoseconds(bound)
        var current = freshUntil.load(ordering: .relaxed)
        while current < until {
            let (exchanged, original) = freshUntil.compareExchange(expected: current, desired: until, ordering: .relaxed)
            if exchanged { break }
            current = original
        }
    }

    /// A follower could not re-read what changed: stale from now; the bound still runs.
    public func followerFailed() {
        followersBehind.withLock { $0 = true }
        let limit = Self.now() &+ Self.nanoseconds(bound)
        var current = freshUntil.load(ordering: .relaxed)
        while current > limit {
            let (exchanged, original) = freshUntil.compareExchange(expected: current, desired: limit, ordering: .relaxed)
            if exchanged { break }
            current = original
        }
    }

    /// Every follower re-read everything successfully.
    public func followersCaughtUp() {
        followersBehind.withLock { $0 = false }
        freshUntil.store(Self.now() &+ Self.nanoseconds(bound), ordering: .relaxed)
    }

    public var isBehind: Bool { followersBehind.withLock { $0 } }
}

extension KMSError {
    /// A cluster node that cannot confirm its grants and identities are current (store outage).
    public static let staleState = KMSError(.kmsInternal, "An internal error occurred. Try again later. (store unreachable)")
}
