/// Persistence for IAM identities (users, access keys, groups, roles, managed policies,
/// OIDC providers), in the same store as keys. Each entity is one row: its kind, its name
/// (unique per account and kind; an access key's name is its ID), its AWS unique ID, a JSON
/// document of its non-secret fields, and for access keys the secret, which the store seals
/// under the root key. Rows carry `storeVersion` and writes are conditional on it, as for
/// keys (`StoreChange`): a batch applies wholly or throws `StoreConflict`.
public protocol IdentityStore: Sendable {
    func loadIdentities() throws -> [IdentityRecord]
    func applyIdentities(_ changes: [IdentityChange]) throws
    /// One account's identities (a cluster node re-reads the account another node changed).
    func loadIdentities(account: String) throws -> [IdentityRecord]
    /// The account holding this access key ID (read-through on a cluster node).
    func account(ofAccessKey accessKeyId: String) throws -> String?
}

extension IdentityStore {
    /// A full scan; the PostgreSQL store overrides it with an indexed query.
    public func loadIdentities(account: String) throws -> [IdentityRecord] {
        try loadIdentities().filter { $0.account == account }
    }

    /// The account holding this access key ID, or nil: a cluster node reads it when a
    /// request names a key another node may just have created. A full scan; the
    /// PostgreSQL store overrides it with an indexed query.
    public func account(ofAccessKey accessKeyId: String) throws -> String? {
        try loadIdentities().first { $0.kind == .accessKey && $0.name == accessKeyId }?.account
    }
}

public enum IdentityKind: String, Sendable, Codable, CaseIterable {
    case user, group, role, policy
    case accessKey = "access-key"
    case oidcProvider = "oidc-provider"
}

public struct IdentityRecord: Sendable, Equatable {
    public var account: String
    public var kind: IdentityKind
    public var name: String
    public var uniqueId: String
    /// The entity's JSON (never a secret).
    public var document: String
    /// An access key's secret, unsealed in memory; nil for every other kind.
    public var secret: [UInt8]?
    /// The version this record was read at (0: not stored yet).
    public var storeVersion: Int64

    public init(account: String, kind: IdentityKind, name: String, uniqueId: String, document: String,
                secret: [UInt8]? = nil, storeVersion: Int64 = 0) {
        self.account = account
        self.kind = kind
        self.name = name
        self.uniqueId = uniqueId
        self.document = document
        self.secret = secret
        self.storeVersion = storeVersion
    }

    public var object: StoreObject { .identity(account: account, kind: kind.rawValue, name: name) }
}

/// A conditional change: a put stores the record with `storeVersion + 1` if the stored
/// version is still `storeVersion` (0: must not exist); a remove deletes it likewise.
public enum IdentityChange: Sendable {
    case put(IdentityRecord)
    case remove(IdentityRecord)

    public var record: IdentityRecord {
        switch self { case .put(let r), .remove(let r): r }
    }
}

/// Keeps nothing: for unit tests and the dev mode without a data dir.
public final class InMemoryIdentityStore: IdentityStore, @unchecked Sendable {
    public init() {}
    public func loadIdentities() throws -> [IdentityRecord] { [] }
    public func applyIdentities(_ changes: [IdentityChange]) throws {}
}
