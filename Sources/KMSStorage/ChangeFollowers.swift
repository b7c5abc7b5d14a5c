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
    /// A poll's confirmation held back until what it delivered has been re-read (the
    /// instant the poll began; the latest one wins).
    private var confirmationWaiting: UInt64?
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

    /// A poll of the change log that began at `polledAt` succeeded, and everything it found
    /// was handed to `deliver`: the node counts as current only once the followers have
    /// re-read it. Confirming at once would let a request be judged, for the length of the
    /// re-read, on a grant or access key the log already shows revoked.
    func confirmOnceDelivered(polledAt: UInt64) {
        let now = lock.withLock { () -> Bool in
            guard scheduled else { return true }
            confirmationWaiting = max(confirmationWaiting ?? 0, polledAt)
            return false
        }
        if now { freshness.confirmed(at: polledAt) }
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
            // A confirmation waiting now covers deliveries in this batch or in ones already
            // re-read: it is released once this batch is re-read (or at once when idle).
            let (objects, all, targets, confirmation) = lock.withLock { () -> ([StoreObject], Bool, [any StoreChangeFollower], UInt64?) in
                let batch = (Array(pending), pendingAll, followers, confirmationWaiting)
                pending.removeAll()
                pendingAll = false
                confirmationWaiting = nil
                if batch.0.isEmpty && !batch.1 { scheduled = false }
                return batch
            }
            if objects.isEmpty && !all {
                if let confirmation { freshness.confirmed(at: confirmation) }
                return
            }
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
                // Behind from now: the confirmation is dropped (it would be ignored anyway).
                failed()
                continue
            }
            if all {
                // Everything re-read: nothing missed remains.
                lock.withLock { failures = 0 }
                freshness.followersCaughtUp()
            }
            if let confirmation { freshness.confirmed(at: confirmation) }
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
