import Crypto
import Foundation
import KMSCrypto

/// A `MultiRegionChange` as a peer link carries it: a JSON body with everything but the key
/// material, and the material versions' secrets as a separate list, which the link wraps
/// for the receiving peer (they never appear in the body, a log or an unsealed row).
public struct MultiRegionChangeWire: Sendable {
    public static let format = "mrk-change-v1"
    /// The link carries at most this many secrets per message (PeerEnvelope.maxSecrets).
    public static let maxMaterials = 64

    public let body: String
    public let secrets: [[UInt8]]

    struct Material: Codable {
        let version: UInt32
        let materialId: String
        let createdAt: Double
    }

    struct Shared: Codable {
        let keySpec: KeySpec
        let keyUsage: KeyUsage
        let origin: String
        let keyManager: String
        let configuration: MultiRegionConfiguration?
        /// secrets[i] is materials[i]'s secret.
        let materials: [Material]
        /// EXTERNAL keys: the versions whose material check follows the materials' secrets
        /// (MultiRegionMaterialCheck), in order. Absent for other keys.
        let checks: [UInt32]?
        let rotation: KeyRotation
        let imports: ImportedMaterials
    }

    struct Replica: Codable {
        let description: String
        let policy: String
        let tags: [Tag]
    }

    struct Body: Codable {
        let format: String
        let kind: MultiRegionChange.Kind
        let account: String
        let keyId: String
        let sourceRegion: String
        let targetRegion: String
        let sequence: Int64
        let shared: Shared
        let replica: Replica?
        let deletedRegion: String?
    }
}

/// Why a received change could not be read (no secret in the text).
public struct MultiRegionWireError: Error, CustomStringConvertible {
    public let description: String
}

extension MultiRegionChange {
    /// The change in its wire form (secrets apart from the body).
    public func wireForm() throws(KMSError) -> MultiRegionChangeWire {
        let s = shared
        // Imported material is never copied to a related key (AWS: the same material is
        // imported into each), so it never leaves this deployment, not even wrapped.
        let external = s.origin == "EXTERNAL"
        let carried = external ? [] : s.materials
        // Instead, a check of each imported material, so a replica in a peer deployment (whose
        // KeyMaterialIds are keyed by another root) recognises the same material when imported.
        let checks: [(UInt32, [UInt8])] = external
            ? s.materials.compactMap { m in MultiRegionMaterialCheck.value(of: m.secret, spec: s.keySpec, keyId: keyId, version: m.version).map { (m.version, $0) } }
            : []
        guard carried.count + checks.count <= MultiRegionChangeWire.maxMaterials else {
            throw KMSError(.kmsInternal, "The key has more material versions than a peer link carries in one change.")
        }
        let body = MultiRegionChangeWire.Body(
            format: MultiRegionChangeWire.format, kind: kind, account: account, keyId: keyId, sourceRegion: sourceRegion,
            targetRegion: targetRegion, sequence: sequence,
            shared: .init(keySpec: s.keySpec, keyUsage: s.keyUsage, origin: s.origin, keyManager: s.keyManager,
                          configuration: s.configuration,
                          materials: carried.map { .init(version: $0.version, materialId: $0.materialId, createdAt: $0.createdAt) },
                          checks: external ? checks.map(\.0) : nil,
                          rotation: s.rotation, imports: s.imports.withoutPeerChecks),
            replica: replica.map { .init(description: $0.description, policy: $0.policy, tags: $0.tags) },
            deletedRegion: deletedRegion)
        guard let data = try? JSONEncoder().encode(body), let text = String(data: data, encoding: .utf8) else {
            throw KMSError.internalError
        }
        return MultiRegionChangeWire(body: text, secrets: carried.map(\.secret) + checks.map(\.1))
    }

    /// Reads a change from its wire form; `secrets` are the unwrapped material secrets.
    /// Material checks sealed for the target's store by `sealCheck(account, region, keyId,
    /// version, check)`; without it (tests) they are dropped.
    public typealias CheckSealer = (String, String, String, UInt32, [UInt8]) -> String?

    public init(wireBody: String, secrets: [[UInt8]], sealCheck: CheckSealer? = nil) throws {
        let b: MultiRegionChangeWire.Body
        do { b = try JSONDecoder().decode(MultiRegionChangeWire.Body.self, from: Data(wireBody.utf8)) }
        catch { throw MultiRegionWireError(description: "the change's body is not a \(MultiRegionChangeWire.format) document") }
        guard b.format == MultiRegionChangeWire.format else {
            throw MultiRegionWireError(description: "unknown change format \(b.format.prefix(40))")
        }
        let checkVersions = b.shared.checks ?? []
        guard b.shared.materials.count + checkVersions.count == secrets.count else {
            throw MultiRegionWireError(description: "\(b.shared.materials.count) material versions and \(checkVersions.count) checks but \(secrets.count) secrets")
        }
        var imports = b.shared.imports
        for (version, check) in zip(checkVersions, secrets.suffix(checkVersions.count)) {
            guard var record = imports.record(version: version) else { continue }
            record.peerCheck = sealCheck?(b.account, b.targetRegion, b.keyId, version, check)
            imports.update(record)
        }
        var materials: [KeyMaterial] = []
        for (m, secret) in zip(b.shared.materials, secrets) {
            do {
                materials.append(try KeyMaterial(keySpec: b.shared.keySpec, version: m.version, secret: secret,
                                                 materialId: m.materialId, createdAt: m.createdAt))
            } catch {
                throw MultiRegionWireError(description: "material version \(m.version) is not a \(b.shared.keySpec.rawValue) key")
            }
        }
        kind = b.kind
        account = b.account
        keyId = b.keyId
        sourceRegion = b.sourceRegion
        targetRegion = b.targetRegion
        sequence = b.sequence
        shared = SharedProperties(keySpec: b.shared.keySpec, keyUsage: b.shared.keyUsage, origin: b.shared.origin,
                                  keyManager: b.shared.keyManager, configuration: b.shared.configuration,
                                  materials: materials, rotation: b.shared.rotation, imports: imports)
        replica = b.replica.map { ReplicaProperties(description: $0.description, policy: $0.policy, tags: $0.tags) }
        deletedRegion = b.deletedRegion
    }
}

extension SharedProperties {
    init(keySpec: KeySpec, keyUsage: KeyUsage, origin: String, keyManager: String, configuration: MultiRegionConfiguration?,
         materials: [KeyMaterial], rotation: KeyRotation, imports: ImportedMaterials) {
        self.keySpec = keySpec
        self.keyUsage = keyUsage
        self.origin = origin
        self.keyManager = keyManager
        self.configuration = configuration
        self.materials = materials
        self.rotation = rotation
        self.imports = imports
    }
}

extension ImportedMaterials {
    /// Peer checks are sealed for the deployment that holds them: they never travel.
    var withoutPeerChecks: ImportedMaterials {
        var out = self
        for i in out.records.indices { out.records[i].peerCheck = nil }
        return out
    }
}

/// How a replica in a peer deployment recognises the imported material of its primary.
/// KeyMaterialIds are keyed by each deployment's root key, so the replica cannot recompute
/// the primary's id; the primary sends instead, wrapped for the peer, HMAC-SHA256 keyed by the
/// material's identity (the material; an asymmetric key's public key) over the key ID and
/// version. The replica keeps it sealed under its own root (ImportTokenSealer.sealPeerCheck)
/// and compares in constant time when material is imported. The check is not the material
/// and is never in a body, a log or an unsealed row.
public enum MultiRegionMaterialCheck {
    public static func value(of secret: [UInt8], spec: KeySpec, keyId: String, version: UInt32) -> [UInt8]? {
        guard let identity = ImportWrapping.identity(of: secret, spec: spec) else { return nil }
        return value(identity: identity, keyId: keyId, version: version)
    }

    static func value(identity: [UInt8], keyId: String, version: UInt32) -> [UInt8] {
        var mac = HMAC<SHA256>(key: SymmetricKey(data: identity))
        mac.update(data: Array("kms-mrk-material-check|v1|\(keyId)|\(version)".utf8))
        return Array(mac.finalize())
    }
}
