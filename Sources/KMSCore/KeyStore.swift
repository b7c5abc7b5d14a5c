/// Persistence for keys and aliases. The core keeps everything in memory and writes
/// through this protocol; implementations (SQLite, later PostgreSQL) seal key material.
public protocol KeyStore: Sendable {
    func loadKeys() throws -> [KMSKey]
    func loadAliases() throws -> [Alias]
    /// Applies a batch of changes atomically.
    func apply(_ changes: [StoreChange]) throws
}

public enum StoreChange: Sendable {
    case putKey(KMSKey)
    case removeKey(account: String, region: String, keyId: String)
    case putAlias(Alias)
    case removeAlias(account: String, region: String, aliasName: String)
}

/// A store that keeps nothing: for unit tests of the core.
public struct InMemoryKeyStore: KeyStore {
    public init() {}
    public func loadKeys() throws -> [KMSKey] { [] }
    public func loadAliases() throws -> [Alias] { [] }
    public func apply(_ changes: [StoreChange]) throws {}
}
