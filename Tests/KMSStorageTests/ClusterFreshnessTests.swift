import Foundation
import Testing
import KMSCore
@testable import KMSStorage

/// Fail closed on a store outage (issue 9 §4): a follower whose re-read fails is retried
/// with backoff, and the node's StoreFreshness runs out meanwhile; read-through lookups of
/// access keys on both backends.
@Suite struct ClusterFreshnessTests {
    /// Fails its first `failures` re-reads (an unreachable store), then succeeds.
    final class FlakyFollower: FallibleStoreChangeFollower, @unchecked Sendable {
        let lock = NSLock()
        var failuresLeft: Int
        var calls = 0
        var fullRereads = 0
        init(failures: Int) { failuresLeft = failures }
        func storeChanged(_ objects: [StoreObject]) { _ = reread(objects) }
        func storeChangedUnknown() { _ = rereadAll() }
        func reread(_ objects: [StoreObject]) -> Bool { attempt(full: false) }
        func rereadAll() -> Bool { attempt(full: true) }
        func attempt(full: Bool) -> Bool {
            lock.withLock {
                calls += 1
                if full { fullRereads += 1 }
                if failuresLeft > 0 { failuresLeft -= 1; return false }
                return true
            }
        }
        var snapshot: (calls: Int, fullRereads: Int, failuresLeft: Int) { lock.withLock { (calls, fullRereads, failuresLeft) } }
    }

    func waitFor(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return condition()
    }

    @Test func freshnessRunsOutWithoutConfirmationAndComesBack() {
        let f = StoreFreshness(bound: .milliseconds(150))
        #expect(f.isFresh)
        f.confirmed()
        #expect(f.isFresh)
        Thread.sleep(forTimeInterval: 0.25)
        // No poll confirmed anything for longer than the bound: refuse.
        #expect(!f.isFresh)
        #expect(throws: KMSError.self) { try f.check() }
        f.confirmed()
        #expect(f.isFresh)
        // A failed follower: confirmations no longer extend it, until the followers catch up.
        f.followerFailed()
        #expect(f.isBehind)
        Thread.sleep(forTimeInterval: 0.25)
        f.confirmed()
        #expect(!f.isFresh)
        f.followersCaughtUp()
        #expect(f.isFresh && !f.isBehind)
    }

    @Test func aFailedRereadIsRetriedWithBackoffUntilItSucceeds() {
        let freshness = StoreFreshness(bound: .seconds(30))
        let followers = ChangeFollowers(freshness: freshness)
        let flaky = FlakyFollower(failures: 3)
        followers.add(flaky)
        followers.deliver([.grant(account: "111122223333", region: "us-east-1", keyId: "k", grantId: "g")])
        // Three failures (0.25 + 0.5 + 1 s of backoff), then a full re-read that succeeds, with no new change.
        #expect(waitFor(5) { flaky.snapshot.failuresLeft == 0 && !freshness.isBehind })
        let s = flaky.snapshot
        #expect(s.calls == 4)
        #expect(s.fullRereads == 3)
        #expect(freshness.isFresh)
    }

    @Test func whileAFollowerIsBehindTheNodeGoesStaleAtTheBound() {
        let freshness = StoreFreshness(bound: .milliseconds(200))
        let followers = ChangeFollowers(freshness: freshness)
        followers.add(FlakyFollower(failures: 1_000))
        followers.deliverAll()
        #expect(waitFor(2) { freshness.isBehind })
        // Polls keep succeeding, but the follower's memory is behind: refused after the bound.
        #expect(waitFor(2) { freshness.confirmed(); return !freshness.isFresh })
    }

    /// Re-reads only once `release` is called (a slow store read).
    final class GatedFollower: FallibleStoreChangeFollower, @unchecked Sendable {
        let gate = DispatchSemaphore(value: 0)
        let lock = NSLock()
        var rereads = 0
        func storeChanged(_ objects: [StoreObject]) { _ = reread(objects) }
        func storeChangedUnknown() { _ = rereadAll() }
        func reread(_ objects: [StoreObject]) -> Bool { gate.wait(); lock.withLock { rereads += 1 }; return true }
        func rereadAll() -> Bool { reread([]) }
        var done: Int { lock.withLock { rereads } }
    }

    /// A poll that found a change confirms the node only once the change is re-read: until
    /// then a request could be judged on the access key or grant the log shows revoked
    /// (test_cluster_consistency's outage test saw that window after a long-hung poll).
    @Test func aPollConfirmsOnlyOnceWhatItDeliveredIsReRead() {
        let freshness = StoreFreshness(bound: .milliseconds(150))
        let followers = ChangeFollowers(freshness: freshness)
        let gated = GatedFollower()
        followers.add(gated)
        Thread.sleep(forTimeInterval: 0.2)
        #expect(!freshness.isFresh)
        // The poll delivers a deactivated access key, then succeeds: not fresh yet.
        followers.deliver([.identity(account: "111122223333", kind: "accessKey", name: "AKIAEXAMPLE")])
        followers.confirmOnceDelivered(polledAt: StoreFreshness.now())
        Thread.sleep(forTimeInterval: 0.05)
        #expect(!freshness.isFresh)
        gated.gate.signal()
        #expect(waitFor(2) { freshness.isFresh })
        #expect(gated.done == 1)
        // With nothing to re-read, a poll confirms at once.
        followers.confirmOnceDelivered(polledAt: StoreFreshness.now())
        #expect(freshness.isFresh)
        // A poll that began long ago confirms only up to its own instant plus the bound.
        Thread.sleep(forTimeInterval: 0.2)
        followers.confirmOnceDelivered(polledAt: StoreFreshness.now() - 1_000_000_000)
        #expect(!freshness.isFresh)
    }

    @Test(arguments: StoreBackend.allCases)
    func anAccessKeyIsFoundByItsIDAlone(_ backend: StoreBackend) throws {
        guard let scratch = try ScratchStore.make(backend) else { return }
        let store = try #require(try scratch.open() as? any IdentityStore)
        let id = "AKIA" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).uppercased()
        let key = IdentityRecord(account: "444455556666", kind: .accessKey, name: id, uniqueId: id,
                                 document: #"{"status":"Active"}"#, secret: Array("s3cret".utf8))
        #expect(try store.account(ofAccessKey: id) == nil)
        try store.applyIdentities([.put(key)])
        #expect(try store.account(ofAccessKey: id) == "444455556666")
        #expect(try store.account(ofAccessKey: "AKIANOTTHERE0000") == nil)
    }
}
