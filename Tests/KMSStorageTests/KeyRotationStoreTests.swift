import Foundation
import Testing
import KMSCore
@testable import KMSStorage

/// Rotation settings and history live in the key's stored metadata: they round-trip on
/// every backend with the rotated material versions, and rows from before rotation read as
/// rotation off.
@Suite(.serialized) struct KeyRotationStoreTests {
    @Test(arguments: StoreBackend.allCases)
    func rotationStateAndMaterialsRoundTrip(_ backend: StoreBackend) throws {
        guard let scratch = try ScratchStore.make(backend) else { return }
        let store = try scratch.open()
        var key = Fixtures.key()
        try store.apply([.putKey(key)])
        let fresh = try #require(try store.key(account: key.account, region: key.region, keyId: key.keyId))
        #expect(fresh.rotation == KeyRotation())

        key.storeVersion = 1
        key.materials.append(Fixtures.material(version: 2, id: "m2"))
        key.rotation.enabled = true
        key.rotation.periodInDays = 90
        key.rotation.scheduleBase = 1_700_000_000
        key.rotation.records = [.init(version: 2, materialId: "m2", date: 1_700_000_100, type: "ON_DEMAND")]
        try store.apply([.putKey(key)])

        let got = try #require(try scratch.open().key(account: key.account, region: key.region, keyId: key.keyId))
        #expect(got.rotation == key.rotation)
        let expectedNext: Double = 1_700_000_000 + 90 * 86_400
        #expect(got.rotation.nextRotationDate == expectedNext)
        #expect(got.materials.map(\.materialId) == [key.materials[0].materialId, "m2"])
        #expect(got.currentMaterial?.version == 2)
    }
}
