import Foundation
import Testing
import KMSCore
@testable import KMSStorage

/// Section 2 of issue 8: the registry is a bounded cache that reads through on a miss,
/// and on PostgreSQL each node's cache follows the changes other nodes commit.
@Suite struct ClusterCacheTests {
    static let a = Fixtures.account, r = Fixtures.region

    @Test(arguments: StoreBackend.allCases)
    func aKeyCreatedOnOneNodeIsFoundOnAnotherAtOnce(_ backend: StoreBackend) throws {
        guard let scratch = try ScratchStore.make(backend) else { return }
        let nodeA = KeyRegistry(store: try scratch.open())
        let nodeB = KeyRegistry(store: try scratch.open())
        let key = Fixtures.key()
        // B looked first and found nothing: that answer must not be remembered.
        #expect(try nodeB.key(account: Self.a, region: Self.r, keyId: key.keyId) == nil)
        #expect(try nodeB.alias(account: Self.a, region: Self.r, name: "alias/x") == nil)
        try nodeA.write { () throws(KMSError) in ((), [.putKey(key), .putAlias(Fixtures.alias("alias/x", target: key.keyId))]) }
        #expect(try nodeB.key(account: Self.a, region: Self.r, keyId: key.keyId)?.keyId == key.keyId)
        #expect(try nodeB.alias(account: Self.a, region: Self.r, name: "alias/x")?.targetKeyId == key.keyId)
        // Now cached: a second lookup is a hit.
        let before = nodeB.stats
        _ = try nodeB.key(account: Self.a, region: Self.r, keyId: key.keyId)
        #expect(nodeB.stats.hits == before.hits + 1 && nodeB.stats.misses == before.misses)
    }

    @Test(arguments: StoreBackend.allCases)
    func startUpLoadsNothingAndTheCacheStaysWithinItsCapacity(_ backend: StoreBackend) throws {
        guard let scratch = try ScratchStore.make(backend) else { return }
        let keys = (0..<300).map { _ in Fixtures.key() }
        try scratch.open().apply(keys.map { .putKey($0) })
        let node = KeyRegistry(store: try scratch.open(), capacity: 50)
        #expect(node.stats.cachedKeys == 0)
        for key in keys { #expect(try node.key(account: Self.a, region: Self.r, keyId: key.keyId) != nil) }
        #expect(node.stats.cachedKeys == 50)
        // Evicted keys are still there, read again from the store.
        for key in keys.prefix(10) { #expect(try node.key(account: Self.a, region: Self.r, keyId: key.keyId)?.keyId == key.keyId) }
        #expect(node.stats.cachedKeys == 50)
        #expect(try node.keys(account: Self.a, region: Self.r).count == 300)
    }

    @Test func aMissOnAThreadThatMustNotBlockAsksToBeMovedNotToWait() throws {
        let store = InMemoryKeyStore()
        let key = Fixtures.key()
        try store.apply([.putKey(key)])
        let node = KeyRegistry(store: store, mayBlock: { false })
        #expect(throws: KMSError.storeReadNeeded) { try node.key(account: Self.a, region: Self.r, keyId: key.keyId) }
    }

    @Test func aReadThatRacedAnInvalidationIsNotCached() throws {
        // A store whose read lets an invalidation happen while it runs.
        final class Racing: KeyStore, @unchecked Sendable {
            let inner = InMemoryKeyStore()
            var during: (() -> Void)?
            func loadKeys() throws -> [KMSKey] { try inner.loadKeys() }
            func loadAliases() throws -> [Alias] { try inner.loadAliases() }
            func key(account: String, region: String, keyId: String) throws -> KMSKey? {
                let k = try inner.key(account: account, region: region, keyId: keyId)
                during?()
                return k
            }
            func alias(account: String, region: String, aliasName: String) throws -> Alias? { try inner.alias(account: account, region: region, aliasName: aliasName) }
            func listKeys(account: String, region: String, after: String?, limit: Int) throws -> [KMSKey] { [] }
            func listAliases(account: String, region: String, after: String?, limit: Int) throws -> [Alias] { [] }
            func apply(_ changes: [StoreChange]) throws { try inner.apply(changes) }
        }
        let store = Racing()
        let key = Fixtures.key()
        try store.apply([.putKey(key)])
        let node = KeyRegistry(store: store)
        store.during = { node.invalidate([.key(account: Self.a, region: Self.r, keyId: key.keyId)]) }
        #expect(try node.key(account: Self.a, region: Self.r, keyId: key.keyId) != nil)
        #expect(node.stats.cachedKeys == 0)  // the possibly stale copy was not kept
        store.during = nil
        _ = try node.key(account: Self.a, region: Self.r, keyId: key.keyId)
        #expect(node.stats.cachedKeys == 1)
    }

    @Test func changeSequenceRemembersGapsUntilTheyFillOrExpire() {
        var s = ChangeSequence(start: 10)
        #expect(s.floor == 10)
        var new = s.observe(13)      // 11 and 12 are open gaps
        #expect(new && s.floor == 10)
        new = s.observe(13)
        #expect(!new)                // seen
        new = s.observe(12)
        #expect(new)
        new = s.observe(12)
        #expect(!new && s.floor == 10)
        new = s.observe(11)
        #expect(new && s.floor == 13)
        new = s.observe(9)           // before the start: not new
        #expect(!new)
        let overflow = s.expireGaps()
        #expect(!overflow)
    }

    /// On PostgreSQL: B has the key cached; A disables it. B's cache follows within the
    /// bound, by notification, and by the poll alone when notifications are off.
    @Test(arguments: [true, false])
    func aChangeOnOneNodeEvictsTheCachedCopyOnTheOther(_ listens: Bool) throws {
        guard let scratch = try ScratchStore.make(.postgresql) else { return }
        let storeB = try #require(try scratch.open() as? PostgresKeyStore)
        let nodeA = KeyRegistry(store: try scratch.open())
        let nodeB = KeyRegistry(store: storeB)
        let feed = PostgresChangeFeed(store: storeB, registry: nodeB, pollInterval: .milliseconds(100), listens: listens)
        try feed.start()
        defer { feed.stop() }
        let key = Fixtures.key()
        try nodeA.write { () throws(KMSError) in ((), [.putKey(key), .putAlias(Fixtures.alias("alias/f", target: key.keyId))]) }
        #expect(try nodeB.key(account: Self.a, region: Self.r, keyId: key.keyId)?.keyState == .enabled)
        #expect(try nodeB.alias(account: Self.a, region: Self.r, name: "alias/f") != nil)
        Thread.sleep(forTimeInterval: 0.3)  // a listener must be subscribed before the change
        let started = Date()
        try nodeA.write { () throws(KMSError) in
            guard var k = try nodeA.key(account: Self.a, region: Self.r, keyId: key.keyId),
                  let alias = try nodeA.alias(account: Self.a, region: Self.r, name: "alias/f") else { throw KMSError(.notFound, "gone") }
            k.keyState = .disabled
            return ((), [.putKey(k), .removeAlias(alias)])
        }
        while try nodeB.key(account: Self.a, region: Self.r, keyId: key.keyId)?.keyState != .disabled {
            #expect(Date().timeIntervalSince(started) < 1.0, "B still serves the enabled key")
            if Date().timeIntervalSince(started) > 2 { break }
            Thread.sleep(forTimeInterval: 0.005)
        }
        #expect(try nodeB.alias(account: Self.a, region: Self.r, name: "alias/f") == nil)
        let counts = feed.counts
        #expect(listens ? counts.notified >= 2 : counts.polled >= 2)
    }

    /// Exactly one of two nodes holds the job lease; when it goes away the other takes over.
    @Test func theJobLeaseMovesWhenItsHolderDies() throws {
        guard let scratch = try ScratchStore.make(.postgresql) else { return }
        let storeA = try #require(try scratch.open() as? PostgresKeyStore)
        let storeB = try #require(try scratch.open() as? PostgresKeyStore)
        let leaseA = PostgresJobLease(store: storeA, interval: .milliseconds(100))
        let leaseB = PostgresJobLease(store: storeB, interval: .milliseconds(100))
        leaseA.start()
        defer { leaseA.stop(); leaseB.stop() }
        func waitFor(_ condition: () -> Bool) -> Bool {
            let end = Date().addingTimeInterval(10)
            while !condition(), Date() < end { Thread.sleep(forTimeInterval: 0.02) }
            return condition()
        }
        #expect(waitFor { leaseA.isHeld })
        leaseB.start()
        Thread.sleep(forTimeInterval: 0.5)
        #expect(leaseA.isHeld && !leaseB.isHeld)
        // A's connections close (as when its process dies): the server releases the lock.
        storeA.close()
        #expect(waitFor { leaseB.isHeld })
        #expect(waitFor { !leaseA.isHeld })
        #expect(leaseB.timesAcquired == 1)
    }
}
