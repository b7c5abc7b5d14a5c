import Foundation
import Testing
import KMSCore
@testable import KMSStorage

/// Backup, restore and migrate carry every table: grants and IAM identities too (secrets
/// still sealed), across backends; a snapshot from a newer kms is refused.
@Suite(.serialized) struct SnapshotTablesTests {
    static func identities() -> [IdentityRecord] {
        let a = Fixtures.account
        return [
            IdentityRecord(account: a, kind: .user, name: "alice", uniqueId: "AIDA" + UUID().uuidString.prefix(8), document: #"{"name":"alice"}"#),
            IdentityRecord(account: a, kind: .accessKey, name: "AKIA" + UUID().uuidString.prefix(8), uniqueId: "AKIA" + UUID().uuidString.prefix(12),
                           document: #"{"status":"Active"}"#, secret: Array("secret-access-key-of-alice".utf8)),
            IdentityRecord(account: a, kind: .role, name: "ops", uniqueId: "AROA" + UUID().uuidString.prefix(8), document: #"{"name":"ops"}"#),
        ]
    }

    @Test(arguments: [(StoreBackend.sqlite, StoreBackend.sqlite), (.sqlite, .postgresql), (.postgresql, .sqlite), (.postgresql, .postgresql)])
    func grantsAndIdentitiesSurviveBackupAndRestore(_ from: StoreBackend, _ to: StoreBackend) throws {
        guard let source = try ScratchStore.make(from), let target = try ScratchStore.make(to) else { return }
        let store = try source.open()
        let key = Fixtures.key()
        let grant = GrantStoreContractTests.grant(key, retiring: "arn:aws:iam::111122223333:user/ops")
        try store.apply([.putKey(key), .putGrant(grant)])
        let ids = try #require(store as? any IdentityStore)
        try ids.applyIdentities(Self.identities().map { .put($0) })
        let snapshot = try #require(store as? any SnapshotStore).snapshot()
        #expect(snapshot.grants.count == 1 && snapshot.identities.count == 3)
        // The access key's secret is in the snapshot only sealed.
        let encoded = try JSONEncoder().encode(snapshot)
        #expect(String(decoding: encoded, as: UTF8.self).contains("secret-access-key-of-alice") == false)
        let decoded = try StoreSnapshot.decode(encoded)
        // Same root key (as `kms restore` requires): copy the source's key file over.
        let rootKey = try RootKey.loadOrCreate(path: source.rootKeyPath)
        try decoded.verifySealed(under: rootKey)
        let restored = try StorageLocation(target.storage, dataDirectory: target.dir).open(rootKey: rootKey)
        defer { (restored as? PostgresKeyStore)?.close() }
        let restoring = try #require(restored as? any SnapshotStore)
        try restoring.restore(decoded)
        #expect(try restored.loadGrants().map(\.grantId) == [grant.grantId])
        let back = try #require(restored as? any IdentityStore).loadIdentities()
        let original = try ids.loadIdentities()
        #expect(back == original)
        #expect(back.first { $0.kind == .accessKey }?.secret == Array("secret-access-key-of-alice".utf8))
        // Not into a store that holds anything: not even only grants or identities.
        #expect(throws: (any Error).self) { try restoring.restore(decoded) }
    }

    @Test func aSnapshotFromANewerKmsIsRefused() throws {
        var doc: [String: Any] = ["format": StoreSnapshot.format, "formatVersion": 1, "createdAt": 1.0, "keys": [],
                                  "materials": [], "aliases": [], "credentials": []]
        // Format 1 (no grants, no identities): read, with those tables empty.
        let v1 = try StoreSnapshot.decode(try JSONSerialization.data(withJSONObject: doc))
        #expect(v1.grants.isEmpty && v1.identities.isEmpty)
        doc["formatVersion"] = StoreSnapshot.currentFormatVersion + 1
        #expect(throws: StoreSnapshot.Unreadable.self) { try StoreSnapshot.decode(try JSONSerialization.data(withJSONObject: doc)) }
        doc["formatVersion"] = StoreSnapshot.currentFormatVersion
        doc["rotations"] = []  // a table this build does not know: it would be dropped
        #expect(throws: StoreSnapshot.Unreadable.self) { try StoreSnapshot.decode(try JSONSerialization.data(withJSONObject: doc)) }
        doc["rotations"] = nil
        doc["format"] = "something-else"
        #expect(throws: StoreSnapshot.Unreadable.self) { try StoreSnapshot.decode(try JSONSerialization.data(withJSONObject: doc)) }
    }
}

/// On PostgreSQL: grants, identities and root credentials written by one node reach the
/// followers of another node's change feed (migration 5), inserts included.
@Suite(.serialized) struct ChangeFeedFollowerTests {
    final class Recorder: StoreChangeFollower, @unchecked Sendable {
        let lock = NSLock()
        var seen: [StoreObject] = []
        var unknown = 0
        func storeChanged(_ objects: [StoreObject]) { lock.withLock { seen += objects } }
        func storeChangedUnknown() { lock.withLock { unknown += 1 } }
        func wait(for check: ([StoreObject]) -> Bool) -> Bool {
            let end = Date().addingTimeInterval(2)
            while Date() < end {
                if lock.withLock({ check(seen) }) { return true }
                Thread.sleep(forTimeInterval: 0.005)
            }
            return false
        }
    }

    @Test(arguments: [true, false])
    func grantIdentityAndCredentialChangesReachTheFollowers(_ listens: Bool) throws {
        guard let scratch = try ScratchStore.make(.postgresql) else { return }
        let storeB = try #require(try scratch.open() as? PostgresKeyStore)
        let feed = PostgresChangeFeed(store: storeB, registry: KeyRegistry(store: storeB), pollInterval: .milliseconds(100), listens: listens)
        let recorder = Recorder()
        feed.follow(recorder)
        try feed.start()
        defer { feed.stop() }
        Thread.sleep(forTimeInterval: 0.3)
        let storeA = try scratch.open()
        let key = Fixtures.key()
        let grant = GrantStoreContractTests.grant(key)
        try storeA.apply([.putKey(key), .putGrant(grant)])
        #expect(recorder.wait { $0.contains(.grant(account: key.account, region: key.region, keyId: key.keyId, grantId: grant.grantId)) })
        let user = Self.user()
        try #require(storeA as? any IdentityStore).applyIdentities([.put(user)])
        #expect(recorder.wait { $0.contains(.identity(account: user.account, kind: "user", name: user.name)) })
        try storeA.saveCredential(StoredCredential(accessKeyId: "AKIAFOLLOWERTEST0001", secretAccessKey: "s3cr3t-s3cr3t-s3cr3t",
                                                   account: Fixtures.account, principalArn: "arn:aws:iam::111122223333:root"))
        #expect(recorder.wait { $0.contains(.identity(account: Fixtures.account, kind: RootCredentialObject.kind, name: "AKIAFOLLOWERTEST0001")) })
        // Key and alias changes are the key cache's business, not the followers'.
        #expect(recorder.lock.withLock { recorder.seen.allSatisfy { if case .key = $0 { false } else { true } } })
        #expect(recorder.lock.withLock { recorder.unknown } >= 1)
    }

    static func user() -> IdentityRecord {
        IdentityRecord(account: Fixtures.account, kind: .user, name: "u-" + UUID().uuidString.prefix(6), uniqueId: "AIDA" + UUID().uuidString.prefix(10),
                       document: #"{"name":"u"}"#)
    }
}
