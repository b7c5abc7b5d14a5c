/// What AWS tracks for each imported key material of an EXTERNAL key: whether it is in KMS
/// now (ImportState), when it expires (ExpirationModel/ValidTo), its description, and
/// whether it waits for an on-demand rotation (PENDING_ROTATION).
///
/// Stored with the key's metadata (JSON), like KeyRotation, so it needs no table: the
/// secret itself is an ordinary material version sealed in key_materials. Deleting or
/// expiring material removes that sealed row but keeps the record, so the same material
/// can come back under the same version (and KeyMaterialId), and every ciphertext that
/// names that version decrypts again.
public struct ImportedMaterials: Sendable, Codable, Equatable {
    public struct Record: Sendable, Codable, Equatable {
        public let version: UInt32
        public let materialId: String
        /// IMPORTED (true) or PENDING_IMPORT (deleted or expired, false).
        public var imported: Bool
        /// ValidTo of KEY_MATERIAL_EXPIRES; nil: KEY_MATERIAL_DOES_NOT_EXPIRE.
        public var validTo: Double?
        public var description: String?
        /// Imported as NEW_KEY_MATERIAL and not yet made current by RotateKeyOnDemand.
        public var pendingRotation: Bool
        /// A replica whose primary is in a peer deployment (another root key, so another
        /// KeyMaterialId for the same material): the primary's material check for this
        /// version, sealed here (MultiRegionMaterialCheck). Lets ImportKeyMaterial recognise
        /// the same material under the primary's KeyMaterialId. nil elsewhere.
        public var peerCheck: String?

        public init(version: UInt32, materialId: String, imported: Bool, validTo: Double?, description: String?, pendingRotation: Bool) {
            self.version = version
            self.materialId = materialId
            self.imported = imported
            self.validTo = validTo
            self.description = description
            self.pendingRotation = pendingRotation
        }

        public var expirationModel: String { validTo == nil ? "KEY_MATERIAL_DOES_NOT_EXPIRE" : "KEY_MATERIAL_EXPIRES" }
    }

    public var records: [Record] = []
    /// The version that encrypts. nil: the key's last material (keys never imported into,
    /// and keys imported before records existed).
    public var currentVersion: UInt32?

    public init() {}

    public func record(version: UInt32) -> Record? { records.first { $0.version == version } }
    public func record(materialId: String) -> Record? { records.first { $0.materialId == materialId } }

    public mutating func update(_ record: Record) {
        if let i = records.firstIndex(where: { $0.version == record.version }) { records[i] = record } else { records.append(record) }
    }

    /// The earliest ValidTo of material still imported: when the key next loses material.
    public var nextExpiry: Double? {
        var next: Double?
        for r in records where r.imported { if let v = r.validTo, v < (next ?? .infinity) { next = v } }
        return next
    }

    /// Every material that is associated with the key (all but PENDING_ROTATION) is imported:
    /// the key can leave PendingImport.
    public var allAssociatedImported: Bool { records.allSatisfy { $0.imported || $0.pendingRotation } }
}

extension KMSKey {
    /// The import records of an EXTERNAL key, with records made up for material imported
    /// before records existed (imported, never expiring).
    public var importRecords: ImportedMaterials {
        guard origin == "EXTERNAL" else { return imports }
        var out = imports
        for m in materials where out.record(version: m.version) == nil {
            out.records.append(.init(version: m.version, materialId: m.materialId, imported: true, validTo: nil,
                                     description: nil, pendingRotation: false))
        }
        out.records.sort { $0.version < $1.version }
        return out
    }

    /// The key as it is at `now`: material whose ValidTo has passed is unusable at once,
    /// before the background job deletes it (a lazy check, so an expired key never encrypts).
    /// Only the state changes here; the job deletes the material and audits it.
    public func expiringMaterial(at now: Double) -> KMSKey {
        guard let expiry = imports.nextExpiry, expiry <= now, keyState != .pendingDeletion, keyState != .pendingImport,
              imports.records.contains(where: { $0.imported && !$0.pendingRotation && ($0.validTo ?? .infinity) <= now }) else { return self }
        var key = self
        key.keyState = .pendingImport
        return key
    }
}

extension KeySpec {
    /// The specs this server imports material into (origin EXTERNAL): symmetric, HMAC, RSA
    /// and the ECC curves. SM2 is for China Regions; ML-DSA and Ed25519 material is not imported here.
    public var acceptsImportedMaterial: Bool {
        switch self {
        case .symmetricDefault, .hmac224, .hmac256, .hmac384, .hmac512, .rsa2048, .rsa3072, .rsa4096,
             .eccNISTP256, .eccNISTP384, .eccNISTP521, .eccSECGP256K1: true
        default: false
        }
    }
}
