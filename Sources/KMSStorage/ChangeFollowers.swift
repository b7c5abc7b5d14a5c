import Foundation
import KMSCore

/// Hands the change feed's objects to the followers on a thread of their own: the feed runs
/// on the store's executor, where a follower's synchronous store read would deadlock, and a
/// slow re-read must not hold up evictions. Changes arriving while a delivery runs are
/// coalesced into the next one; more than `maxPending` distinct objects become one full re-read.
final class ChangeFollowers: @unchecked Sendable {
    private let lock = NSLock()
    private var followers: [any StoreChangeFollower] = []
    private var pending = Set<StoreObject>()
    private var pendingAll = false
    private var scheduled = false
    private let queue = DispatchQueue(label: "kms.changes.followers")
    static let maxPending = 10_000
    /// Runs out while a re-read has failed and no retry has succeeded (fail closed).
    let freshness: StoreFreshness
    /// Backoff of the retries after a failed re-read: doubling from `firstRetry` to `lastRetry`.
    private var failures = 0
    private var retryScheduled = false
    static let firstRetry = 0.25
    static let lastRetry = 5.0

    init(freshness: StoreFreshness = StoreFreshness()) {
        self.freshness = freshness
    }

    func add(_ follower: any StoreChangeFollower) { lock.withLock { followers.append(follower) } }

    var isEmpty: Bool { lock.withLock { followers.isEmpty } }

    func deliver(_ objects: [StoreObject]) {
        let wanted = objects.filter { if case .key = $0 { false } else if case .alias = $0 { false } else { true } }
        guard !wanted.isEmpty else { return }
        lock.withLock {
            pending.formUnion(wanted)
            if pending.count > Self.maxPending { pendingAll = true; pending.removeAll() }
        }
        schedule()
    }

    func deliverAll() {
        lock.withLock { pendingAll = true; pending.removeAll() }
        schedule()
    }

    private func schedule() {
        let start = lock.withLock { () -> Bool in
            if scheduled { return false }
            scheduled = true
            return true
        }
        if start { queue.async { self.drain() } }
    }

    private func drain() {
        while true {
            let (objects, all, targets) = lock.withLock { () -> ([StoreObject], Bool, [any StoreChangeFollower]) in
                let batch = (Array(pending), pendingAll, followers)
                pending.removeAll()
                pendingAll = false
                if batch.0.isEmpty && !batch.1 { scheduled = false }
                return batch
            }
            if objects.isEmpty && !all { return }
            var ok = true
            for f in targets {
                if let f = f as? any FallibleStoreChangeFollower {
                    if !(all ? f.rereadAll() : f.reread(objects)) { ok = false }
                } else if all {
                    f.storeChangedUnknown()
                } else {
                    f.storeChanged(objects)
                }
            }
            if !ok {
                failed()
            } else if all {
                // Everything re-read: nothing missed remains.
                lock.withLock { failures = 0 }
                freshness.followersCaughtUp()
            }
        }
    }

    /// A re-read failed (the store is out of reach): the node is stale from now, and
    /// everything is re-read again after a backoff, until that succeeds.
    private func failed() {
        freshness.followerFailed()
        let delay = lock.withLock { () -> Double? in
            failures += 1
            if retryScheduled { return nil }
            retryScheduled = true
            return min(Self.lastRetry, Self.firstRetry * Double(1 << min(failures - 1, 8)))
        }
        guard let delay else { return }
        queue.asyncAfter(deadline: .now() + delay) { [self] in
            lock.withLock { retryScheduled = false }
            deliverAll()
        }
    }
}
