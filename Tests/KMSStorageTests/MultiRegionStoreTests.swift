import Testing
import KMSCore
@testable import KMSStorage

/// Multi-Region keys on every backend: the family record round-trips in the key's stored
/// metadata, a primary and its replica (one key ID, two regions) are two rows written in
/// one batch, each with its own sealed copy of the material, and regional keys read as
/// regional.
@Suite(.serialized) struct MultiRegionStoreTests {
    @Test(arguments: StoreBackend.allCases)
    func primaryAndReplicaRoundTrip(_ backend: StoreBackend) throws {
        guard let scratch = try ScratchStore.make(backend) else { return }
        let store = try scratch.open()
        let keyId = KeyIdentifier.newMultiRegionKeyId()
        var primary = Fixtures.key(id: keyId)
        primary.multiRegion = MultiRegionConfiguration(keyType: .primary, primaryRegion: primary.region, replicaRegions: ["eu-west-1"], sequence: 1)
        let replica = MultiRegionApplier.apply(
            MultiRegionChange(kind: .createReplica, from: primary, to: "eu-west-1", sequence: 1,
                              replica: ReplicaProperties(description: "r", policy: "{}", tags: [])), to: nil, now: 2)
        let made = try #require(replica)
        try store.apply([.putKey(primary), .putKey(made)])

        let reopened = try scratch.open()
        let gotPrimary = try #require(try reopened.key(account: primary.account, region: primary.region, keyId: keyId))
        let gotReplica = try #require(try reopened.key(account: primary.account, region: "eu-west-1", keyId: keyId))
        #expect(gotPrimary.multiRegion == primary.multiRegion)
        #expect(gotReplica.multiRegion?.keyType == .replica && gotReplica.multiRegion?.primaryRegion == primary.region)
        #expect(gotReplica.keyState == .creating && gotReplica.description == "r")
        #expect(gotReplica.materials.map(\.secret) == primary.materials.map(\.secret))
        #expect(gotReplica.materials.map(\.materialId) == primary.materials.map(\.materialId))
        // Listing stays per region.
        #expect(try reopened.listKeys(account: primary.account, region: "eu-west-1", after: nil, limit: 10).map(\.keyId) == [keyId])

        // A change applied twice is written once: the second apply has nothing to do.
        var synced = gotPrimary
        synced.materials.append(Fixtures.material(version: 2, id: "m2"))
        synced.multiRegion?.sequence = 2
        let sync = MultiRegionChange(kind: .synchronize, from: synced, to: "eu-west-1", sequence: 2)
        let next = try #require(MultiRegionApplier.apply(sync, to: gotReplica, now: 3))
        try reopened.apply([.putKey(synced), .putKey(next)])
        let after = try #require(try scratch.open().key(account: primary.account, region: "eu-west-1", keyId: keyId))
        #expect(after.materials.map(\.version) == [1, 2])
        #expect(MultiRegionApplier.apply(sync, to: after, now: 4) == nil)

        let regional = Fixtures.key()
        try reopened.apply([.putKey(regional)])
        #expect(try reopened.key(account: regional.account, region: regional.region, keyId: regional.keyId)?.multiRegion == nil)
    }
}
