import Foundation
import Testing
import KMSCore
@testable import KMSStorage

/// The identity store contract (issue 9), on both backends: rows with versions,
/// conditional writes, all-or-nothing batches, access key secrets sealed.
@Suite(.serialized) struct IdentityStoreContractTests {
    func identities(_ scratch: ScratchStore) throws -> any IdentityStore {
        try #require(try scratch.open() as? any IdentityStore)
    }

    func user(_ name: String, version: Int64 = 0, doc: String = "{}") -> IdentityRecord {
        IdentityRecord(account: Fixtures.account, kind: .user, name: name, uniqueId: "AIDA" + name.uppercased() + UUID().uuidString.prefix(8),
                       document: doc, storeVersion: version)
    }

    @Test(arguments: StoreBackend.allCases)
    func recordsRoundTripWithVersionsAndSealedSecrets(_ backend: StoreBackend) throws {
        guard let scratch = try ScratchStore.make(backend) else { return }
        let store = try identities(scratch)
        let secret = "iam-secret-\(UUID().uuidString)"
        let key = IdentityRecord(account: Fixtures.account, kind: .accessKey, name: "AKIATESTKEY1", uniqueId: "AKIATESTKEY1",
                                 document: #"{"status":"Active"}"#, secret: Array(secret.utf8))
        let alice = user("alice")
        try store.applyIdentities([.put(alice), .put(key)])
        let loaded = try identities(scratch).loadIdentities()
        #expect(loaded.count == 2)
        let k = try #require(loaded.first { $0.kind == .accessKey })
        #expect(k.secret == Array(secret.utf8) && k.storeVersion == 1)
        let u = try #require(loaded.first { $0.kind == .user })
        #expect(u.document == "{}" && u.uniqueId == alice.uniqueId && u.storeVersion == 1)
        // The secret is sealed: its bytes are in no file of the store.
        if backend == .sqlite {
            #expect(SQLiteKeyStoreTests.filesContaining(Data(secret.utf8), in: scratch.dir).isEmpty)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func writesAreConditionalOnTheStoredVersion(_ backend: StoreBackend) throws {
        guard let scratch = try ScratchStore.make(backend) else { return }
        let store = try identities(scratch)
        var bob = user("bob")
        try store.applyIdentities([.put(bob)])
        // Creating it again (base 0) conflicts.
        #expect(throws: StoreConflict.self) { try store.applyIdentities([.put(bob)]) }
        bob.storeVersion = 1
        bob.document = #"{"v":2}"#
        try store.applyIdentities([.put(bob)])
        // A writer still on version 1 loses.
        #expect(throws: StoreConflict.self) { try store.applyIdentities([.put(bob)]) }
        #expect(throws: StoreConflict.self) { try store.applyIdentities([.remove(bob)]) }
        bob.storeVersion = 2
        try store.applyIdentities([.remove(bob)])
        #expect(try store.loadIdentities().isEmpty)
    }

    @Test(arguments: StoreBackend.allCases)
    func aBatchIsAllOrNothing(_ backend: StoreBackend) throws {
        guard let scratch = try ScratchStore.make(backend) else { return }
        let store = try identities(scratch)
        let carol = user("carol")
        try store.applyIdentities([.put(carol)])
        // The second change conflicts: the first must not land either.
        #expect(throws: StoreConflict.self) { try store.applyIdentities([.put(user("dave")), .put(carol)]) }
        #expect(try store.loadIdentities().map(\.name) == ["carol"])
        // Unique IDs are unique across names (a rename removes, then re-adds the same ID).
        var renamed = carol
        renamed.name = "carol2"
        renamed.storeVersion = 0
        #expect(throws: StoreConflict.self) { try store.applyIdentities([.put(renamed)]) }
        var old = carol
        old.storeVersion = 1
        try store.applyIdentities([.remove(old), .put(renamed)])
        #expect(try store.loadIdentities().map(\.name) == ["carol2"])
    }

    @Test(arguments: StoreBackend.allCases)
    func twoWritersOnTheSameBaseExactlyOneWins(_ backend: StoreBackend) throws {
        guard let scratch = try ScratchStore.make(backend) else { return }
        let a = try identities(scratch), b = try identities(scratch)
        var erin = user("erin")
        try a.applyIdentities([.put(erin)])
        erin.storeVersion = 1
        let base = erin
        let results = LockedResults()
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            var mine = base
            mine.document = #"{"writer":\#(i)}"#
            do { try (i == 0 ? a : b).applyIdentities([.put(mine)]); results.add("won") } catch is StoreConflict { results.add("lost") } catch { results.add("error \(error)") }
        }
        #expect(results.all.sorted() == ["lost", "won"])
        #expect(try a.loadIdentities().first?.storeVersion == 2)
    }
}
