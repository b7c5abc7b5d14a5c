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

    /// How often a write whose base moved (another node changed an object it read) is
    /// re-run on the fresh state before it is refused.
    static let conflictRetries = 4

    /// Runs `body` with this process's writes serialized; the changes it returns are
    /// persisted conditionally on the versions `body` read, then published. If another
    /// writer moved a base, the objects involved are re-read from the store and `body`
    /// runs again on them; after `conflictRetries` it is refused, never applied over
    /// newer state.
    public func write<T>(_ body: () throws(KMSError) -> (T, [StoreChange])) throws(KMSError) -> T {
        writeLock.lock(); defer { writeLock.unlock() }
        var attempt = 0
        while true {
            let (result, changes) = try body()
            guard !changes.isEmpty else { return result }
            do {
                try store.apply(changes)
            } catch let conflict as StoreConflict {
                attempt += 1
                guard attempt <= Self.conflictRetries else { throw KMSError.conflict }
                do {
                    try refresh(Set(changes.map(\.target)).union([conflict.object]))
                } catch {
                    throw KMSError.internalError
                }
                continue
            } catch {
                throw KMSError.internalError
            }
            publish(changes)
            return result
        }
    }

    /// Replaces the in-memory copies of `objects` with what the store holds now.
    func refresh(_ objects: Set<StoreObject>) throws {
        var fresh: [(StoreObject, KMSKey?, Alias?)] = []
        for object in objects {
            switch object {
            case .key(let account, let region, let keyId):
                fresh.append((object, try store.key(account: account, region: region, keyId: keyId), nil))
            case .alias(let account, let region, let name):
                fresh.append((object, nil, try store.alias(account: account, region: region, aliasName: name)))
            case .identity:
                continue  // not the key registry's (IdentityRegistry refreshes identities)
            }
        }
        stateLock.lock(); defer { stateLock.unlock() }
        for (object, key, alias) in fresh {
            switch object {
            case .key(let account, let region, let keyId): state.keys[Self.keyRef(account, region, keyId)] = key
            case .alias(let account, let region, let name): state.aliases[Self.aliasRef(account, region, name)] = alias
            case .identity: continue
            }
        }
    }

    /// Publishes applied changes with the versions the store gave them (base + 1).
    private func publish(_ changes: [StoreChange]) {
        stateLock.lock(); defer { stateLock.unlock() }
        for change in changes {
            switch change {
            case .putKey(var k):
                k.storeVersion += 1
                state.keys[Self.keyRef(k.account, k.region, k.keyId)] = k
            case .removeKey(let k): state.keys[Self.keyRef(k.account, k.region, k.keyId)] = nil
            case .putAlias(var a):
                a.storeVersion += 1
                state.aliases[Self.aliasRef(a.account, a.region, a.aliasName)] = a
            case .removeAlias(let a): state.aliases[Self.aliasRef(a.account, a.region, a.aliasName)] = nil
            }
        }
    }
}
