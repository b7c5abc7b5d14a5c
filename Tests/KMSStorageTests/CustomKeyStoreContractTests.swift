import Foundation
import GRDB
import Testing
import KMSCore
@testable import KMSStorage

/// Custom key stores in the store contract, on every backend: rows round-trip with their
/// secret, writes are conditional on versions, a name is unique per account and Region, and
/// the secret (the XKS proxy's secret access key) is on disk only sealed.
@Suite(.serialized) struct CustomKeyStoreContractTests {
    static let secret = "XksProxySecretAccessKey0123456789abcdefghijklmn"

    static func store(_ name: String = "xks", id: String = CustomKeyStore.newId()) -> CustomKeyStore {
        CustomKeyStore(id: id, account: Fixtures.account, region: "us-east-1", name: name, type: .external, creationDate: 12.5,
                       xks: .init(uriEndpoint: "https://xks.example.com", uriPath: "/kms/xks/v1", connectivity: "PUBLIC_ENDPOINT",
                                  vpcEndpointServiceName: nil, vpcEndpointServiceOwner: nil, accessKeyId: "ABCDEFGHIJKLMNOPQRST"),
                       secret: secret)
    }

    @Test(arguments: StoreBackend.allCases)
    func customKeyStoresRoundTripAndAreConditional(_ backend: StoreBackend) throws {
        guard let scratch = try ScratchStore.make(backend) else { return }
        let keys = try #require(try scratch.open() as? any CustomKeyStoreStorage)
        var s = Self.store()
        try keys.putCustomKeyStore(s)
        var read = try #require(try keys.customKeyStore(account: s.account, region: s.region, id: s.id))
        s.storeVersion = 1
        #expect(read == s)
        // Creating what exists, or updating from a stale version, is a conflict.
        var stale = s
        stale.storeVersion = 0
        #expect(throws: StoreConflict.self) { try keys.putCustomKeyStore(stale) }
        read.connectionState = .connected
        try keys.putCustomKeyStore(read)
        #expect(throws: StoreConflict.self) { try keys.putCustomKeyStore(read) }  // version 1, stored 2
        #expect(try keys.customKeyStore(account: s.account, region: s.region, id: s.id)?.connectionState == .connected)
        // A name is unique per account and Region, for new stores and renames alike.
        #expect(throws: StoreConflict.self) { try keys.putCustomKeyStore(Self.store("xks")) }
        var other = Self.store("other")
        try keys.putCustomKeyStore(other)
        other.storeVersion = 1
        other.name = "xks"
        #expect(throws: StoreConflict.self) { try keys.putCustomKeyStore(other) }
        #expect(try keys.customKeyStores(account: s.account, region: s.region).map(\.name).sorted() == ["other", "xks"])
        #expect(try keys.customKeyStores(account: s.account, region: "eu-west-1").isEmpty)
        // Another node sees the same rows; a stale remove is a conflict.
        let node2 = try #require(try scratch.open() as? any CustomKeyStoreStorage)
        var current = try #require(try node2.customKeyStore(account: s.account, region: s.region, id: s.id))
        #expect(current.secret == Self.secret)
        current.storeVersion = 1
        #expect(throws: StoreConflict.self) { try node2.removeCustomKeyStore(current) }
        current.storeVersion = 2
        try node2.removeCustomKeyStore(current)
        #expect(try keys.customKeyStore(account: s.account, region: s.region, id: s.id) == nil)
    }

    @Test func sqliteHoldsTheProxySecretOnlySealed() throws {
        guard let scratch = try ScratchStore.make(.sqlite) else { return }
        let keys = try #require(try scratch.open() as? SQLiteKeyStore)
        try keys.putCustomKeyStore(Self.store())
        let raw = try keys.db.read { db in try Row.fetchAll(db, sql: "SELECT * FROM custom_key_stores").map { "\($0)" }.joined() }
        #expect(!raw.isEmpty)
        #expect(!raw.contains(Self.secret))
        for file in try FileManager.default.contentsOfDirectory(atPath: scratch.dir) {
            let data = (try? Data(contentsOf: URL(fileURLWithPath: scratch.dir + "/" + file))) ?? Data()
            #expect(data.range(of: Data(Self.secret.utf8)) == nil, "\(file) holds the secret")
        }
    }

    @Test(arguments: [(StoreBackend.sqlite, StoreBackend.postgresql), (.postgresql, .sqlite), (.sqlite, .sqlite)])
    func customKeyStoresSurviveBackupAndRestore(_ from: StoreBackend, _ to: StoreBackend) throws {
        guard let source = try ScratchStore.make(from), let target = try ScratchStore.make(to) else { return }
        let store = try source.open()
        var s = Self.store()
        try #require(store as? any CustomKeyStoreStorage).putCustomKeyStore(s)
        let snapshot = try #require(store as? any SnapshotStore).snapshot()
        #expect(snapshot.customKeyStores.count == 1)
        let encoded = try JSONEncoder().encode(snapshot)
        #expect(!String(decoding: encoded, as: UTF8.self).contains(Self.secret), "the secret travels sealed")
        let decoded = try StoreSnapshot.decode(encoded)
        let rootKey = try RootKey.loadOrCreate(path: source.rootKeyPath)
        try decoded.verifySealed(under: rootKey)
        // Another root key cannot open it: refused before anything is written.
        #expect(throws: (any Error).self) { try decoded.verifySealed(under: RootKey(bytes: SystemRandom.bytes(32))) }
        let restored = try StorageLocation(target.storage, dataDirectory: target.dir).open(rootKey: rootKey)
        defer { (restored as? PostgresKeyStore)?.close() }
        try #require(restored as? any SnapshotStore).restore(decoded)
        s.storeVersion = 1
        #expect(try #require(restored as? any CustomKeyStoreStorage).customKeyStore(account: s.account, region: s.region, id: s.id) == s)
    }
}
