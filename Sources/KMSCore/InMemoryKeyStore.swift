import Foundation

/// A store in process memory, for unit tests of the core and the pipeline benchmark.
/// It keeps what is written, with the same conditional-version rules as the real stores,
/// so the registry's read-through and conflict paths behave as they do on disk.
public struct InMemoryKeyStore: KeyStore {
    private final class Box: @unchecked Sendable {
        let lock = NSLock()
        var keys: [String: KMSKey] = [:]
        var aliases: [String: Alias] = [:]
        /// Peer messages queued by committed batches, in order (StoreChange.queuePeerMessage).
        var peerOutbox: [NewPeerMessage] = []
    }

    private let box = Box()

    public init() {}

    static func ref(_ a: String, _ r: String, _ n: String) -> String { a + "|" + r + "|" + n }

    public func loadKeys() throws -> [KMSKey] { box.lock.withLock { Array(box.keys.values) } }
    public func loadAliases() throws -> [Alias] { box.lock.withLock { Array(box.aliases.values) } }

    public func key(account: String, region: String, keyId: String) throws -> KMSKey? {
        box.lock.withLock { box.keys[Self.ref(account, region, keyId)] }
    }

    public func alias(account: String, region: String, aliasName: String) throws -> Alias? {
        box.lock.withLock { box.aliases[Self.ref(account, region, aliasName)] }
    }

    public func listKeys(account: String, region: String, after: String?, limit: Int) throws -> [KMSKey] {
        box.lock.withLock {
            Array(box.keys.values.filter { $0.account == account && $0.region == region && $0.keyId > (after ?? "") }
                .sorted { $0.keyId < $1.keyId }.prefix(max(0, limit)))
        }
    }

    public func listAliases(account: String, region: String, after: String?, limit: Int) throws -> [Alias] {
        box.lock.withLock {
            Array(box.aliases.values.filter { $0.account == account && $0.region == region && $0.aliasName > (after ?? "") }
                .sorted { $0.aliasName < $1.aliasName }.prefix(max(0, limit)))
        }
    }

    public func apply(_ changes: [StoreChange]) throws {
        box.lock.lock(); defer { box.lock.unlock() }
        var keys = box.keys, aliases = box.aliases, outbox = box.peerOutbox
        for change in changes {
            let conflict = StoreConflict(object: change.target, expectedVersion: change.expectedVersion)
            switch change {
            case .putKey(var k):
                let ref = Self.ref(k.account, k.region, k.keyId)
                guard (keys[ref]?.storeVersion ?? 0) == k.storeVersion else { throw conflict }
                k.storeVersion += 1
                keys[ref] = k
            case .removeKey(let k):
                let ref = Self.ref(k.account, k.region, k.keyId)
                guard let stored = keys[ref], stored.storeVersion == k.storeVersion else { throw conflict }
                keys[ref] = nil
            case .putAlias(var a):
                let ref = Self.ref(a.account, a.region, a.aliasName)
                guard (aliases[ref]?.storeVersion ?? 0) == a.storeVersion else { throw conflict }
                a.storeVersion += 1
                aliases[ref] = a
            case .removeAlias(let a):
                let ref = Self.ref(a.account, a.region, a.aliasName)
                guard let stored = aliases[ref], stored.storeVersion == a.storeVersion else { throw conflict }
                aliases[ref] = nil
            case .putGrant, .removeGrant:
                continue  // keeps no grants (GrantOnlyStore in the tests does)
            case .queuePeerMessage(let m):
                outbox.append(m)
            }
        }
        box.keys = keys
        box.aliases = aliases
        box.peerOutbox = outbox
    }

    /// The peer messages committed batches queued, oldest first (tests).
    public func queuedPeerMessages() -> [NewPeerMessage] { box.lock.withLock { box.peerOutbox } }
}
