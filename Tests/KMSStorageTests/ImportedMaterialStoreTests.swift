import Foundation
import Testing
import KMSCore
@testable import KMSStorage

/// Imported material on every backend: the import records round-trip with the key's
/// metadata, deleting an EXTERNAL key's material removes its sealed row, the same version
/// can be stored again, and other keys still may not lose a material version.
@Suite(.serialized) struct ImportedMaterialStoreTests {
    static func externalKey() -> KMSKey {
        var key = KMSKey(keyId: KeyIdentifier.newKeyId(), account: Fixtures.account, region: Fixtures.region, creationDate: 1,
                         description: "byok", keyUsage: .encryptDecrypt, keySpec: .symmetricDefault, origin: "EXTERNAL",
                         keyManager: "CUSTOMER", keyState: .enabled, policy: "{}", tags: [],
                         materials: [Fixtures.material(version: 1, id: "imported-1")])
        key.imports.records = [.init(version: 1, materialId: "imported-1", imported: true, validTo: 1_800_000_000,
                                     description: "first", pendingRotation: false)]
        key.imports.currentVersion = 1
        return key
    }

    @Test(arguments: StoreBackend.allCases)
    func deletedMaterialLeavesItsRecordAndComesBack(_ backend: StoreBackend) throws {
        guard let scratch = try ScratchStore.make(backend) else { return }
        let store = try scratch.open()
        var key = Self.externalKey()
        let secret = key.materials[0].secret
        try store.apply([.putKey(key)])
        var got = try #require(try scratch.open().key(account: key.account, region: key.region, keyId: key.keyId))
        #expect(got.imports == key.imports && got.currentMaterial?.materialId == "imported-1")

        // DeleteImportedKeyMaterial: the row goes, the record stays (PENDING_IMPORT).
        key.storeVersion = 1
        key.materials = []
        key.imports.records[0].imported = false
        key.keyState = .pendingImport
        try store.apply([.putKey(key)])
        got = try #require(try scratch.open().key(account: key.account, region: key.region, keyId: key.keyId))
        #expect(got.materials.isEmpty && got.keyState == .pendingImport && got.imports.records[0].imported == false)
        #expect(got.currentMaterial == nil)

        // Reimport: the same version is stored again.
        key.storeVersion = 2
        key.materials = [try KeyMaterial(keySpec: .symmetricDefault, version: 1, secret: secret, materialId: "imported-1", createdAt: 3)]
        key.imports.records[0].imported = true
        key.keyState = .enabled
        try store.apply([.putKey(key)])
        got = try #require(try scratch.open().key(account: key.account, region: key.region, keyId: key.keyId))
        #expect(got.currentMaterial?.secret == secret && got.imports == key.imports)
    }

    @Test(arguments: StoreBackend.allCases)
    func generatedKeysStillCannotLoseMaterial(_ backend: StoreBackend) throws {
        guard let scratch = try ScratchStore.make(backend) else { return }
        let store = try scratch.open()
        var key = Fixtures.key()
        try store.apply([.putKey(key)])
        key.storeVersion = 1
        key.materials = []
        #expect(throws: StoreConflict.self) { try store.apply([.putKey(key)]) }
        #expect(try store.key(account: key.account, region: key.region, keyId: key.keyId)?.materials.count == 1)
    }
}
