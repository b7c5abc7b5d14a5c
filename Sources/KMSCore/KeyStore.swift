/// Persistence for keys and aliases, shared by every node that opens the same store.
/// Each stored object carries a `storeVersion`; every write names the version it was
/// based on and the store applies it only if that is still the stored version
/// (optimistic concurrency). A batch is atomic: all of it applies, or `StoreConflict`
/// is thrown and nothing does. Implementations (SQLite, PostgreSQL) seal key material.
public protocol KeyStore: Sendable {
    /// Everything, for the registry's start-up load (section 2 replaces it with read-through).
    func loadKeys() throws -> [KMSKey]
    func loadAliases() throws -> [Alias]
    /// One key by id, with its material, as stored now; nil when absent.
    func key(account: String, region: String, keyId: String) throws -> KMSKey?
    /// One alias by name, as stored now; nil when absent.
    func alias(account: String, region: String, aliasName: String) throws -> Alias?
    /// Keys of one account and region ordered by key id, starting after `after`, at most `limit`.
    func listKeys(account: String, region: String, after: String?, limit: Int) throws -> [KMSKey]
    /// Aliases of one account and region ordered by name, starting after `after`, at most `limit`.
    func listAliases(account: String, region: String, after: String?, limit: Int) throws -> [Alias]
    /// Applies a batch of conditional changes atomically; throws `StoreConflict` if any
    /// object's stored version is not the one the change expects.
    func apply(_ changes: [StoreChange]) throws
    /// Every grant, for the grant registry's start-up load.
    func loadGrants() throws -> [KMSGrant]
    /// The grants on one key, as stored now.
    func grants(account: String, region: String, keyId: String) throws -> [KMSGrant]
    /// The grants, on any key, whose retiring principal is `retiringPrincipal` (ListRetirableGrants).
    func grants(retiringPrincipal: String) throws -> [KMSGrant]
    /// Keys pending deletion whose deletion date is at or before `dueBy` (the sweep's work).
    func keysPendingDeletion(dueBy: Double) throws -> [KMSKey]
}

/// Stores that keep no grants (test doubles) get empty answers; the real backends override these.
extension KeyStore {
    public func loadGrants() throws -> [KMSGrant] { [] }
    public func grants(account: String, region: String, keyId: String) throws -> [KMSGrant] { [] }
    public func grants(retiringPrincipal: String) throws -> [KMSGrant] { [] }
}

extension KeyStore {
    /// A full scan; stores override it with an indexed query.
    public func keysPendingDeletion(dueBy: Double) throws -> [KMSKey] {
        try loadKeys().filter { $0.keyState == .pendingDeletion && ($0.deletionDate ?? .infinity) <= dueBy }
    }
}

/// A conditional change. Puts and removes carry the object as it was read: its
/// `storeVersion` is the expected base (0: the object must not exist yet). A put
/// stores the object with `storeVersion + 1`. Material versions of a key are immutable:
/// a put may add new ones, but one that exists with other material, or a stored one
/// the put leaves out, is a conflict, never overwritten or dropped.
public enum StoreChange: Sendable {
    case putKey(KMSKey)
    case removeKey(KMSKey)
    case putAlias(Alias)
    case removeAlias(Alias)
    /// Grants are created and deleted, never updated: a put has base version 0.
    case putGrant(KMSGrant)
    case removeGrant(KMSGrant)
    /// Queues a message for a peer deployment in the same batch (issue 13 §3). Not versioned:
    /// the store gives it the link's next sequence; stores apply these after the batch's
    /// other changes, so on PostgreSQL the link's row is locked last (no lock-order cycle).
    case queuePeerMessage(NewPeerMessage)

    /// The object whose stored version the change depends on.
    public var target: StoreObject {
        switch self {
        case .putKey(let k), .removeKey(let k): .key(account: k.account, region: k.region, keyId: k.keyId)
        case .putAlias(let a), .removeAlias(let a): .alias(account: a.account, region: a.region, aliasName: a.aliasName)
        case .putGrant(let g), .removeGrant(let g): .grant(account: g.account, region: g.region, keyId: g.keyId, grantId: g.grantId)
        case .queuePeerMessage(let m): .peerLink(localRegion: m.localRegion, peerRegion: m.peerRegion)
        }
    }

    public var expectedVersion: Int64 {
        switch self {
        case .putKey(let k), .removeKey(let k): k.storeVersion
        case .putAlias(let a), .removeAlias(let a): a.storeVersion
        case .putGrant(let g), .removeGrant(let g): g.storeVersion
        case .queuePeerMessage: 0
        }
    }
}

/// Names one stored object (the unit of versioning). Identities, policies, grants and
/// rotations get their own cases as they are stored.
public enum StoreObject: Sendable, Hashable, CustomStringConvertible {
    case key(account: String, region: String, keyId: String)
    case alias(account: String, region: String, aliasName: String)
    case grant(account: String, region: String, keyId: String, grantId: String)
    /// An IAM entity (IdentityStore): kind is IdentityKind's raw value.
    case identity(account: String, kind: String, name: String)
    /// A peer link's outbox (issue 13 §3).
    case peerLink(localRegion: String, peerRegion: String)

    public var description: String {
        switch self {
        case .identity(let account, let kind, let name): "\(kind) \(account)/\(name)"
        case .key(let account, let region, let keyId): "key \(account)/\(region)/\(keyId)"
        case .alias(let account, let region, let name): "alias \(account)/\(region)/\(name)"
        case .grant(let account, let region, let keyId, let grantId): "grant \(account)/\(region)/\(keyId)/\(grantId)"
        case .peerLink(let local, let peer): "peer link \(local)->\(peer)"
        }
    }
}

/// A change's base moved: another writer changed the object since it was read.
/// Carries no key material, only where and which version was expected.
public struct StoreConflict: Error, Sendable, Equatable, CustomStringConvertible {
    public let object: StoreObject
    public let expectedVersion: Int64
    public let reason: String

    public init(object: StoreObject, expectedVersion: Int64, reason: String = "stored version differs") {
        self.object = object
        self.expectedVersion = expectedVersion
        self.reason = reason
    }

    public var description: String { "conflict on \(object) (expected version \(expectedVersion)): \(reason)" }
}
