import KMSCore

/// The AAD a sealed secret is bound to, the same in every backend: a sealed row copied to
/// another key, account or version does not open.
enum SealingContext {
    static func material(_ account: String, _ region: String, _ keyId: String, _ version: UInt32) -> String {
        "key-material|\(account)|\(region)|\(keyId)|\(version)"
    }

    static func credential(_ accessKeyId: String) -> String { "credential|" + accessKeyId }
}

/// Which material versions a conditional put of `key` inserts, given the versions stored
/// under its base (version → material id). Stored versions are immutable: the same id is
/// skipped, another id or a stored version the key lacks is a conflict, never overwritten
/// or dropped.
struct MaterialPlan {
    let toInsert: [KeyMaterial]

    init(key: KMSKey, stored: [UInt32: String]) throws {
        let object = StoreObject.key(account: key.account, region: key.region, keyId: key.keyId)
        var insert: [KeyMaterial] = []
        var seen = Set<UInt32>()
        for m in key.materials {
            guard seen.insert(m.version).inserted else {
                throw StoreConflict(object: object, expectedVersion: key.storeVersion, reason: "material version \(m.version) twice in one key")
            }
            if let id = stored[m.version] {
                guard id == m.materialId else {
                    throw StoreConflict(object: object, expectedVersion: key.storeVersion, reason: "material version \(m.version) is stored with other material")
                }
            } else {
                insert.append(m)
            }
        }
        // Imported material (EXTERNAL keys) can be deleted (DeleteImportedKeyMaterial, expiry):
        // its sealed row goes. Other keys never lose a version, so a missing one is a conflict.
        let missing = stored.keys.filter { !seen.contains($0) }.sorted()
        if key.origin == "EXTERNAL" {
            toDelete = missing
        } else if let lost = missing.first {
            throw StoreConflict(object: object, expectedVersion: key.storeVersion, reason: "material version \(lost) is stored but missing from the write")
        } else {
            toDelete = []
        }
        toInsert = insert
    }
    /// Material versions whose sealed rows this write deletes (imported material only).
    let toDelete: [UInt32]
}

extension SealingContext {
    /// An IAM access key's secret, bound to its account and key ID.
    static func identitySecret(_ account: String, _ kind: String, _ name: String) -> String {
        "identity-secret|\(account)|\(kind)|\(name)"
    }
}
