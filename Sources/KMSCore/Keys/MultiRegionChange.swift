/// One cross-Region effect of a multi-Region key operation, addressed to one related key
/// (`targetRegion`). Value types only, so a peer link can carry them (material must then be
/// wrapped for the receiving peer). `MultiRegionApplier` turns a change into the target's new
/// row the same way wherever it is applied, so applying one twice changes nothing.
public struct MultiRegionChange: Sendable {
    public enum Kind: String, Sendable, Codable {
        /// ReplicateKey: the replica's row, in Creating.
        case createReplica
        /// The replica is ready: Creating → Enabled (PendingImport for imported material).
        case completeReplica
        /// Shared properties changed on the primary (material versions, rotation settings)
        /// or the family's membership: copied to the target.
        case synchronize
        /// UpdatePrimaryRegion started: the target waits in Updating.
        case beginPrimaryUpdate
        /// UpdatePrimaryRegion done: the target takes the new configuration (the types swap)
        /// and leaves Updating.
        case completePrimaryUpdate
        /// A replica was deleted: the target forgets it; a primary waiting in
        /// PendingReplicaDeletion for its last replica starts its own waiting period.
        case replicaDeleted
    }

    public let kind: Kind
    public let account: String
    public let keyId: String
    public let sourceRegion: String
    public let targetRegion: String
    /// The family's change sequence, issued by the primary: createReplica, synchronize and
    /// beginPrimaryUpdate apply only above the target's `MultiRegionConfiguration.sequence`.
    /// The other kinds are idempotent by the state they test.
    public let sequence: Int64
    public let shared: SharedProperties
    /// createReplica only: what the caller gave ReplicateKey for the replica.
    public var replica: ReplicaProperties?
    /// replicaDeleted only: the region whose replica is gone.
    public var deletedRegion: String?

    public init(kind: Kind, from source: KMSKey, to targetRegion: String, sequence: Int64,
                replica: ReplicaProperties? = nil, deletedRegion: String? = nil) {
        self.kind = kind
        self.account = source.account
        self.keyId = source.keyId
        self.sourceRegion = source.region
        self.targetRegion = targetRegion
        self.sequence = sequence
        self.shared = SharedProperties(source)
        self.replica = replica
        self.deletedRegion = deletedRegion
    }

    public var targetArn: String { ARN.key(keyId, region: targetRegion, account: account) }
}

/// The properties related keys share (AWS: key ID, spec, usage, origin, material, automatic
/// rotation settings) and the family's configuration as the source sees it.
public struct SharedProperties: Sendable {
    public let keySpec: KeySpec
    public let keyUsage: KeyUsage
    public let origin: String
    public let keyManager: String
    public let configuration: MultiRegionConfiguration?
    /// Every material version (secret: a peer link must wrap these for its peer).
    public let materials: [KeyMaterial]
    public let rotation: KeyRotation
    /// Imported material's records (EXTERNAL keys): which material ids each replica must import.
    public let imports: ImportedMaterials

    init(_ key: KMSKey) {
        keySpec = key.keySpec
        keyUsage = key.keyUsage
        origin = key.origin
        keyManager = key.keyManager
        configuration = key.multiRegion
        materials = key.materials
        rotation = key.rotation
        imports = key.importRecords
    }
}

/// What ReplicateKey sets on the replica alone (independent per key).
public struct ReplicaProperties: Sendable {
    public let description: String
    public let policy: String
    public let tags: [Tag]

    public init(description: String, policy: String, tags: [Tag]) {
        self.description = description
        self.policy = policy
        self.tags = tags
    }
}

/// Applies a change to the target's row. Pure: the same change on the same row gives the
/// same result, so any transport (the same store, or a peer's) applies changes alike.
public enum MultiRegionApplier {
    /// The target's new row; nil when there is nothing to do (already applied, or no target).
    public static func apply(_ c: MultiRegionChange, to existing: KMSKey?, now: Double) -> KMSKey? {
        switch c.kind {
        case .createReplica:
            guard existing == nil, let config = c.shared.configuration, let replica = c.replica else { return nil }
            let external = c.shared.origin == "EXTERNAL"
            // Imported material is not copied: the same material must be imported into each
            // replica (AWS). The records say which material ids the replica will accept.
            var key = KMSKey(keyId: c.keyId, account: c.account, region: c.targetRegion, creationDate: now,
                             description: replica.description, keyUsage: c.shared.keyUsage, keySpec: c.shared.keySpec,
                             origin: c.shared.origin, keyManager: c.shared.keyManager, keyState: .creating,
                             policy: replica.policy, tags: replica.tags, materials: external ? [] : c.shared.materials)
            key.rotation = c.shared.rotation
            if external {
                var imports = c.shared.imports
                for r in imports.records {
                    var copy = ImportedMaterials.Record(version: r.version, materialId: r.materialId, imported: false, validTo: nil,
                                                        description: r.description, pendingRotation: r.pendingRotation)
                    copy.peerCheck = r.peerCheck
                    imports.update(copy)
                }
                key.imports = imports
            }
            var mine = config.seen(from: c.targetRegion)
            mine.sequence = c.sequence
            mine.stateBeforeUpdate = nil
            key.multiRegion = mine
            return key

        case .completeReplica:
            guard var key = existing, key.keyState == .creating else { return nil }
            let waitsForImport = key.origin == "EXTERNAL" && (key.currentMaterial == nil || !key.importRecords.allAssociatedImported)
            key.keyState = waitsForImport ? .pendingImport : .enabled
            return key

        case .synchronize:
            guard var key = existing, let mine = key.multiRegion, c.sequence > mine.sequence,
                  let config = c.shared.configuration else { return nil }
            if key.origin != "EXTERNAL" {
                let have = Set(key.materials.map(\.version))
                key.materials += c.shared.materials.filter { !have.contains($0.version) }
                key.materials.sort { $0.version < $1.version }
            } else {
                // New imported material versions (rotations) are expected here too, to be imported.
                for r in c.shared.imports.records where key.imports.record(version: r.version) == nil {
                    var copy = ImportedMaterials.Record(version: r.version, materialId: r.materialId, imported: false, validTo: nil,
                                                        description: r.description, pendingRotation: r.pendingRotation)
                    copy.peerCheck = r.peerCheck
                    key.imports.update(copy)
                }
            }
            key.rotation = c.shared.rotation
            var next = config.seen(from: key.region)
            next.sequence = c.sequence
            next.stateBeforeUpdate = mine.stateBeforeUpdate
            key.multiRegion = next
            return key

        case .beginPrimaryUpdate:
            guard var key = existing, var mine = key.multiRegion, c.sequence > mine.sequence else { return nil }
            mine.sequence = c.sequence
            mine.pendingPrimaryRegion = c.shared.configuration?.pendingPrimaryRegion
            if key.keyState != .updating { mine.stateBeforeUpdate = key.keyState }
            key.keyState = .updating
            key.multiRegion = mine
            return key

        case .completePrimaryUpdate:
            guard var key = existing, let mine = key.multiRegion, let config = c.shared.configuration else { return nil }
            var next = config.seen(from: key.region)
            next.sequence = max(mine.sequence, c.sequence)
            next.stateBeforeUpdate = nil
            next.pendingPrimaryRegion = nil
            guard next != mine || key.keyState == .updating else { return nil }
            if key.keyState == .updating { key.keyState = mine.stateBeforeUpdate ?? .enabled }
            key.multiRegion = next
            return key

        case .replicaDeleted:
            guard var key = existing, var mine = key.multiRegion, let gone = c.deletedRegion,
                  mine.replicaRegions.contains(gone) else { return nil }
            mine.replicaRegions.removeAll { $0 == gone }
            key.multiRegion = mine
            // AWS: the primary's waiting period begins when its last replica is deleted.
            if key.keyState == .pendingReplicaDeletion, mine.replicaRegions.isEmpty {
                key.keyState = .pendingDeletion
                key.deletionDate = now + Double(key.pendingWindowInDays ?? 30) * 86_400
            }
            return key
        }
    }
}
