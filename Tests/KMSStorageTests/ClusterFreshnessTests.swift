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
