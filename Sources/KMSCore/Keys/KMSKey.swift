@_exported import KMSCrypto

/// A KMS key: its metadata, policy, tags and versioned material, scoped to one
/// account and region.
public struct KMSKey: Sendable {
    public let keyId: String
    public let account: String
    public let region: String
    public let creationDate: Double
    public var description: String
    public let keyUsage: KeyUsage
    public let keySpec: KeySpec
    public let origin: String
    public let keyManager: String
    public var keyState: KeyState
    public var deletionDate: Double?
    public var pendingWindowInDays: Int?
    public var policy: String
    public var tags: [Tag]
    public var materials: [KeyMaterial]
    /// The version of this key's row in the store (0: not stored yet); see `StoreChange`.
    public var storeVersion: Int64
    /// Automatic rotation settings and the rotations done (KeyRotation.swift).
    public var rotation = KeyRotation()
    /// Imported material's per-material state, for EXTERNAL keys (ImportedKeyMaterial.swift).
    public var imports = ImportedMaterials()
    /// Multi-Region keys only: this key's place among its related keys (MultiRegionKey.swift); nil for a regional key.
    public var multiRegion: MultiRegionConfiguration?
    /// The custom key store that holds the key (Origin AWS_CLOUDHSM or EXTERNAL_KEY_STORE).
    public var customKeyStoreId: String? = nil
    /// The external key's ID in the XKS proxy (Origin EXTERNAL_KEY_STORE).
    public var xksKeyId: String? = nil

    public init(keyId: String, account: String, region: String, creationDate: Double, description: String,
                keyUsage: KeyUsage, keySpec: KeySpec, origin: String, keyManager: String, keyState: KeyState,
                deletionDate: Double? = nil, pendingWindowInDays: Int? = nil, policy: String, tags: [Tag],
                materials: [KeyMaterial], storeVersion: Int64 = 0) {
        self.keyId = keyId
        self.account = account
        self.region = region
        self.arn = ARN.key(keyId, region: region, account: account)
        self.creationDate = creationDate
        self.description = description
        self.keyUsage = keyUsage
        self.keySpec = keySpec
        self.origin = origin
        self.keyManager = keyManager
        self.keyState = keyState
        self.deletionDate = deletionDate
        self.pendingWindowInDays = pendingWindowInDays
        self.policy = policy
        self.tags = tags
        self.materials = materials
        self.storeVersion = storeVersion
    }

    /// Stored, not computed: every response names the key by ARN.
    public let arn: String
    public var enabled: Bool { keyState == .enabled }
    /// The material that encrypts: the last one, unless imports name it (imported material
    /// pending rotation is stored but not current; deleted current material leaves none).
    public var currentMaterial: KeyMaterial? {
        guard let version = imports.currentVersion else { return materials.last }
        return material(version: version)
    }

    public func material(version: UInt32) -> KeyMaterial? {
        materials.first { $0.version == version }
    }
}
