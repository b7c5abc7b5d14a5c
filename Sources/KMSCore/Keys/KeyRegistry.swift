import Foundation

/// The in-memory view of every key and alias, written through to a `KeyStore`.
/// Reads take a short lock; writes are serialized, persisted first, then published,
/// so memory never shows a change the store does not hold.
public final class KeyRegistry: @unchecked Sendable {
    /// Where a key or alias lives: names are unique only within an account and region.
    /// A struct, not a joined string, so a lookup hashes the parts without building one.
    struct Ref: Hashable {
        let account: String
        let region: String
        let name: String
    }

    struct State {
        var keys: [Ref: KMSKey] = [:]
        var aliases: [Ref: Alias] = [:]
    }

    private let stateLock = NSLock()
    private var state = State()
    private let writeLock = NSLock()
    let store: any KeyStore

    public init(store: any KeyStore) throws {
        self.store = store
        for k in try store.loadKeys() { state.keys[Self.keyRef(k.account, k.region, k.keyId)] = k }
        for a in try store.loadAliases() { state.aliases[Self.aliasRef(a.account, a.region, a.aliasName)] = a }
    }

    static func keyRef(_ account: String, _ region: String, _ keyId: String) -> Ref { Ref(account: account, region: region, name: keyId) }
    static func aliasRef(_ account: String, _ region: String, _ name: String) -> Ref { Ref(account: account, region: region, name: name) }

    public func key(account: String, region: String, keyId: String) -> KMSKey? {
        let ref = Self.keyRef(account, region, keyId)
        stateLock.lock(); defer { stateLock.unlock() }
        return state.keys[ref]
    }

    public func alias(account: String, region: String, name: String) -> Alias? {
        let ref = Self.aliasRef(account, region, name)
        stateLock.lock(); defer { stateLock.unlock() }
        return state.aliases[ref]
    }

    public func keys(account: String, region: String) -> [KMSKey] {
        stateLock.lock(); defer { stateLock.unlock() }
        return state.keys.values.filter { $0.account == account && $0.region == region }
    }

    public func aliases(account: String, region: String) -> [Alias] {
        stateLock.lock(); defer { stateLock.unlock() }
        return state.aliases.values.filter { $0.account == account && $0.region == region }
    }

    public func allKeys() -> [KMSKey] {
        stateLock.lock(); defer { stateLock.unlock() }
        return Array(state.keys.values)
    }

    /// Runs `body` with writes serialized; the changes it returns are persisted, then published.
    public func write<T>(_ body: () throws(KMSError) -> (T, [StoreChange])) throws(KMSError) -> T {
        writeLock.lock(); defer { writeLock.unlock() }
        let (result, changes) = try body()
        guard !changes.isEmpty else { return result }
        do {
            try store.apply(changes)
        } catch {
            throw KMSError.internalError
        }
        stateLock.lock(); defer { stateLock.unlock() }
        for change in changes {
            switch change {
            case .putKey(let k): state.keys[Self.keyRef(k.account, k.region, k.keyId)] = k
            case .removeKey(let account, let region, let keyId): state.keys[Self.keyRef(account, region, keyId)] = nil
            case .putAlias(let a): state.aliases[Self.aliasRef(a.account, a.region, a.aliasName)] = a
            case .removeAlias(let account, let region, let name): state.aliases[Self.aliasRef(account, region, name)] = nil
            }
        }
        return result
    }
}
