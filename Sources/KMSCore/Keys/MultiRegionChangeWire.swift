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
        guard shared.materials.count <= MultiRegionChangeWire.maxMaterials else {
            throw KMSError(.kmsInternal, "The key has more material versions than a peer link carries in one change.")
        }
        let s = shared
        let body = MultiRegionChangeWire.Body(
            format: MultiRegionChangeWire.format, kind: kind, account: account, keyId: keyId, sourceRegion: sourceRegion,
            targetRegion: targetRegion, sequence: sequence,
            shared: .init(keySpec: s.keySpec, keyUsage: s.keyUsage, origin: s.origin, keyManager: s.keyManager,
                          configuration: s.configuration,
                          materials: s.materials.map { .init(version: $0.version, materialId: $0.materialId, createdAt: $0.createdAt) },
                          rotation: s.rotation, imports: s.imports),
            replica: replica.map { .init(description: $0.description, policy: $0.policy, tags: $0.tags) },
            deletedRegion: deletedRegion)
        guard let data = try? JSONEncoder().encode(body), let text = String(data: data, encoding: .utf8) else {
            throw KMSError.internalError
        }
        return MultiRegionChangeWire(body: text, secrets: s.materials.map(\.secret))
    }

    /// Reads a change from its wire form; `secrets` are the unwrapped material secrets.
    public init(wireBody: String, secrets: [[UInt8]]) throws {
        let b: MultiRegionChangeWire.Body
        do { b = try JSONDecoder().decode(MultiRegionChangeWire.Body.self, from: Data(wireBody.utf8)) }
        catch { throw MultiRegionWireError(description: "the change's body is not a \(MultiRegionChangeWire.format) document") }
        guard b.format == MultiRegionChangeWire.format else {
            throw MultiRegionWireError(description: "unknown change format \(b.format.prefix(40))")
        }
        guard b.shared.materials.count == secrets.count else {
            throw MultiRegionWireError(description: "\(b.shared.materials.count) material versions but \(secrets.count) secrets")
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
                                  materials: materials, rotation: b.shared.rotation, imports: b.shared.imports)
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
