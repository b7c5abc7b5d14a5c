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
            for f in targets {
                if all { f.storeChangedUnknown() } else { f.storeChanged(objects) }
            }
        }
    }
}
