import Foundation
import Testing
import KMSCore
@testable import KMSStorage

/// The grants part of the store contract, on every backend: rows round-trip, writes are
/// conditional on versions, lookups by key and by retiring principal, and a key's grants
/// are deleted with it in the same transaction.
@Suite(.serialized) struct GrantStoreContractTests {
    static func grant(_ key: KMSKey, id: String = UUID().uuidString, grantee: String = "arn:aws:iam::444455556666:root",
                      retiring: String? = nil) -> KMSGrant {
        KMSGrant(grantId: id, account: key.account, region: key.region, keyId: key.keyId, granteePrincipal: grantee,
                 retiringPrincipal: retiring, operations: ["Encrypt", "Decrypt"],
                 constraints: .init(encryptionContextSubset: ["tenant": "a"]), name: "n", issuingAccount: key.account, creationDate: 12.5)
    }

    @Test(arguments: StoreBackend.allCases)
    func grantsRoundTripAndAreConditional(_ backend: StoreBackend) throws {
        guard let scratch = try ScratchStore.make(backend) else { return }
        let store = try scratch.open()
        let key = Fixtures.key(), other = Fixtures.key()
        let retiring = "arn:aws:iam::444455556666:user/ops"
        let g1 = Self.grant(key, retiring: retiring), g2 = Self.grant(key), g3 = Self.grant(other, retiring: retiring)
        try store.apply([.putKey(key), .putKey(other), .putGrant(g1), .putGrant(g2), .putGrant(g3)])
        let got = try store.grants(account: key.account, region: key.region, keyId: key.keyId).sorted { $0.grantId < $1.grantId }
        var expected = [g1, g2].sorted { $0.grantId < $1.grantId }
        for i in expected.indices { expected[i].storeVersion = 1 }
        #expect(got == expected)
        #expect(Set(try store.grants(retiringPrincipal: retiring).map(\.grantId)) == [g1.grantId, g3.grantId])
        #expect(try store.loadGrants().count == 3)
        // Creating what exists is a conflict; so is removing with a stale version; nothing changes.
        #expect(throws: StoreConflict.self) { try store.apply([.putGrant(g1)]) }
        #expect(throws: StoreConflict.self) { try store.apply([.removeGrant(g1)]) }  // version 0, stored 1
        var stored = g1
        stored.storeVersion = 1
        try store.apply([.removeGrant(stored)])
        #expect(throws: StoreConflict.self) { try store.apply([.removeGrant(stored)]) }
        #expect(try store.grants(account: key.account, region: key.region, keyId: key.keyId).map(\.grantId) == [g2.grantId])
        // A batch is atomic: a failing grant put leaves the batch's other changes unapplied.
        let g4 = Self.grant(key)
        #expect(throws: StoreConflict.self) { try store.apply([.putGrant(g4), .putGrant(g3)]) }
        #expect(try store.grants(account: key.account, region: key.region, keyId: key.keyId).count == 1)
        // Another node sees the same rows.
        #expect(try scratch.open().loadGrants().count == 2)
    }

    @Test(arguments: StoreBackend.allCases)
    func grantsAreDeletedWithTheirKey(_ backend: StoreBackend) throws {
        guard let scratch = try ScratchStore.make(backend) else { return }
        let store = try scratch.open()
        let key = Fixtures.key(), other = Fixtures.key()
        try store.apply([.putKey(key), .putKey(other), .putGrant(Self.grant(key)), .putGrant(Self.grant(key)), .putGrant(Self.grant(other))])
        var stored = try #require(try store.key(account: key.account, region: key.region, keyId: key.keyId))
        stored.storeVersion = 1
        try store.apply([.removeKey(stored)])
        #expect(try store.grants(account: key.account, region: key.region, keyId: key.keyId).isEmpty)
        #expect(try store.grants(account: other.account, region: other.region, keyId: other.keyId).count == 1)
    }
}
