import Foundation

/// A bounded cache of keys and aliases in front of a `KeyStore`, loaded on demand.
/// A miss reads through to the store, so an object another node created is found at
/// once; misses are never cached (a key created elsewhere is never hidden). Start-up
/// loads nothing. Writes are serialized in this process, persisted conditionally first,
/// then published, so memory never shows a change the store does not hold. Changes made
/// by other nodes reach this cache through `invalidate` (ChangeFeed: LISTEN/NOTIFY and a
/// version poll on PostgreSQL).
public final class KeyRegistry: @unchecked Sendable {
    /// Where a key or alias lives: names are unique only within an account and region.
    /// A struct, not a joined string, so a lookup hashes the parts without building one.
    struct Ref: Hashable {
        let account: String
        let region: String
        let name: String
    }

    struct State {
        var keys = BoundedCache<KMSKey>()
        var aliases = BoundedCache<Alias>()
        /// Bumped by every invalidation. A store read that started before an invalidation
        /// may have read the old row: it is returned but not cached (see `cacheLoaded`).
        var generation: UInt64 = 0
        var hits: UInt64 = 0
        var misses: UInt64 = 0
    }

    /// Entries kept per kind (keys, aliases) by default: at ~2 KiB a key, ~200 MiB at most.
    public static let defaultCapacity = 100_000

    private let stateLock = NSLock()
    private var state = State()
    private let writeLock = NSLock()
    let store: any KeyStore
    public let capacity: Int
    /// Whether this thread may block on the store. The server answers false on its event
    /// loops: a miss there throws `KMSError.storeReadNeeded` and the request is re-run on
    /// the blocking pool, so the event loop never waits for PostgreSQL.
    let mayBlock: @Sendable () -> Bool
    /// Told how long each store call took (metrics); nil measures nothing.
    let observeStore: (@Sendable (StoreCall, Duration) -> Void)?
    /// Called after a committed batch queued peer messages (the peer link's sender then
    /// delivers at once instead of at its next poll). Set once at start-up.
    private var peerMessagesQueued: (@Sendable () -> Void)?

    /// The kinds of store call, for storage latency metrics.
    public enum StoreCall: String, Sendable, CaseIterable { case read, list, write }

    public init(store: any KeyStore, capacity: Int = KeyRegistry.defaultCapacity,
                mayBlock: @escaping @Sendable () -> Bool = { true },
                observeStore: (@Sendable (StoreCall, Duration) -> Void)? = nil) {
        self.observeStore = observeStore
        self.store = store
        self.capacity = max(1, capacity)
        self.mayBlock = mayBlock
    }

    /// Installs the hook run after a committed batch that queued peer messages.
    public func onPeerMessagesQueued(_ hook: @escaping @Sendable () -> Void) {
        stateLock.withLock { peerMessagesQueued = hook }
    }

    static func keyRef(_ account: String, _ region: String, _ keyId: String) -> Ref { Ref(account: account, region: region, name: keyId) }
    static func aliasRef(_ account: String, _ region: String, _ name: String) -> Ref { Ref(account: account, region: region, name: name) }

    /// The key, from memory when cached (the hot path: one hash lookup under a short lock),
    /// else as the store holds it now. Throws only when the store cannot be read.
    public func key(account: String, region: String, keyId: String) throws(KMSError) -> KMSKey? {
        let ref = Self.keyRef(account, region, keyId)
        stateLock.lock()
        if let key = state.keys.get(ref) {
            state.hits &+= 1
            stateLock.unlock()
            return key
        }
        state.misses &+= 1
        let generation = state.generation
        stateLock.unlock()
        let key = try readThrough(.read) { () throws in try store.key(account: account, region: region, keyId: keyId) }
        if let key { cacheLoaded(generation) { $0.keys.put(ref, key, capacity: capacity) } }
        return key
    }

    public func alias(account: String, region: String, name: String) throws(KMSError) -> Alias? {
        let ref = Self.aliasRef(account, region, name)
        stateLock.lock()
        if let alias = state.aliases.get(ref) {
            state.hits &+= 1
            stateLock.unlock()
            return alias
        }
        state.misses &+= 1
        let generation = state.generation
        stateLock.unlock()
        let alias = try readThrough(.read) { () throws in try store.alias(account: account, region: region, aliasName: name) }
        if let alias { cacheLoaded(generation) { $0.aliases.put(ref, alias, capacity: capacity) } }
        return alias
    }

    /// Keys of one account and region in key-ID order after `after`, at most `limit`:
    /// always from the store (listing is not served from a partial cache).
    public func keys(account: String, region: String, after: String?, limit: Int) throws(KMSError) -> [KMSKey] {
        try readThrough(.list) { () throws in try store.listKeys(account: account, region: region, after: after, limit: limit) }
    }

    /// Every key of one account and region, from the store, in key-ID order.
    public func keys(account: String, region: String) throws(KMSError) -> [KMSKey] {
        var all: [KMSKey] = []
        while true {
            let page = try keys(account: account, region: region, after: all.last?.keyId, limit: Self.pageSize)
            all += page
            if page.count < Self.pageSize { return all }
        }
    }

    /// Every alias of one account and region, from the store, in name order.
    public func aliases(account: String, region: String) throws(KMSError) -> [Alias] {
        var all: [Alias] = []
        while true {
            let after = all.last?.aliasName
            let page = try readThrough(.list) { () throws in try store.listAliases(account: account, region: region, after: after, limit: Self.pageSize) }
            all += page
            if page.count < Self.pageSize { return all }
        }
    }

    /// Keys pending deletion whose date is at or before `date`, from the store.
    public func keysDueForDeletion(at date: Double) throws(KMSError) -> [KMSKey] {
        try readThrough(.list) { () throws in try store.keysPendingDeletion(dueBy: date) }
    }

    /// Every key in the store: the rotation job's scan, which runs on the lease holder only.
    public func allStoredKeys() throws(KMSError) -> [KMSKey] {
        try readThrough(.list) { () throws in try store.loadKeys() }
    }

    static let pageSize = 1_000

    private func readThrough<T>(_ kind: StoreCall, _ read: () throws -> T) throws(KMSError) -> T {
        guard mayBlock() else { throw KMSError.storeReadNeeded }
        let started = ContinuousClock.now
        defer { observeStore?(kind, ContinuousClock.now - started) }
        do { return try read() } catch { throw KMSError.storeUnavailable }
    }

    /// Caches what a read-through found, unless an invalidation ran since the read began.
    private func cacheLoaded(_ generation: UInt64, _ insert: (inout State) -> Void) {
        stateLock.lock(); defer { stateLock.unlock() }
        if state.generation == generation { insert(&state) }
    }

    // MARK: Invalidation (changes made elsewhere)

    /// Forgets the cached copies of `objects`; the next use reads the store.
    public func invalidate<S: Sequence>(_ objects: S) where S.Element == StoreObject {
        stateLock.lock(); defer { stateLock.unlock() }
        state.generation &+= 1
        for object in objects {
            switch object {
            case .key(let account, let region, let keyId): state.keys.remove(Self.keyRef(account, region, keyId))
            case .alias(let account, let region, let name): state.aliases.remove(Self.aliasRef(account, region, name))
            case .grant, .identity, .peerLink: continue  // held by GrantRegistry / IdentityRegistry; not cached
            }
        }
    }

    /// Forgets everything: after a gap in the change feed nothing cached can be trusted.
    public func invalidateAll() {
        stateLock.lock(); defer { stateLock.unlock() }
        state.generation &+= 1
        state.keys = BoundedCache()
        state.aliases = BoundedCache()
    }

    /// Cache counters and sizes, for metrics.
    public struct Stats: Sendable {
        public let hits: UInt64
        public let misses: UInt64
        public let cachedKeys: Int
        public let cachedAliases: Int
    }

    public var stats: Stats {
        stateLock.lock(); defer { stateLock.unlock() }
        return Stats(hits: state.hits, misses: state.misses, cachedKeys: state.keys.count, cachedAliases: state.aliases.count)
    }

    // MARK: Writes

    /// How often a write whose base moved (another node changed an object it read) is
    /// re-run on the fresh state before it is refused.
    static let conflictRetries = 4

    /// Runs `body` with this process's writes serialized; the changes it returns are
    /// persisted conditionally on the versions `body` read, then published. If another
    /// writer moved a base, the objects involved are evicted, `body` runs again and reads
    /// them from the store; after `conflictRetries` it is refused, never applied over
    /// newer state. Must run where the store may be read (off the event loops).
    public func write<T>(_ body: () throws(KMSError) -> (T, [StoreChange])) throws(KMSError) -> T {
        writeLock.lock(); defer { writeLock.unlock() }
        var attempt = 0
        while true {
            stateLock.lock()
            let generation = state.generation
            stateLock.unlock()
            let (result, changes) = try body()
            guard !changes.isEmpty else { return result }
            let started = ContinuousClock.now
            defer { observeStore?(.write, ContinuousClock.now - started) }
            do {
                try store.apply(changes)
            } catch let conflict as StoreConflict {
                attempt += 1
                guard attempt <= Self.conflictRetries else { throw KMSError.conflict }
                invalidate(Set(changes.map(\.target)).union([conflict.object]))
                continue
            } catch {
                throw KMSError.storeUnavailable
            }
            publish(changes, generation: generation)
            if changes.contains(where: { if case .queuePeerMessage = $0 { true } else { false } }) {
                stateLock.withLock { peerMessagesQueued }?()
            }
            return result
        }
    }

    /// Replaces the in-memory copies of `objects` with what the store holds now.
    func refresh(_ objects: Set<StoreObject>) throws {
        invalidate(objects)
    }

    /// Publishes applied changes with the versions the store gave them (base + 1). If an
    /// invalidation ran meanwhile (a later change from elsewhere may already be known),
    /// the objects are evicted instead, to be read fresh.
    private func publish(_ changes: [StoreChange], generation: UInt64) {
        stateLock.lock(); defer { stateLock.unlock() }
        guard state.generation == generation else {
            state.generation &+= 1
            for change in changes {
                switch change.target {
                case .key(let account, let region, let keyId): state.keys.remove(Self.keyRef(account, region, keyId))
                case .alias(let account, let region, let name): state.aliases.remove(Self.aliasRef(account, region, name))
                case .grant, .identity, .peerLink: continue  // held by GrantRegistry / IdentityRegistry; not cached
                }
            }
            return
        }
        for change in changes {
            switch change {
            case .putKey(var k):
                k.storeVersion += 1
                state.keys.put(Self.keyRef(k.account, k.region, k.keyId), k, capacity: capacity)
            case .removeKey(let k): state.keys.remove(Self.keyRef(k.account, k.region, k.keyId))
            case .putAlias(var a):
                a.storeVersion += 1
                state.aliases.put(Self.aliasRef(a.account, a.region, a.aliasName), a, capacity: capacity)
            case .removeAlias(let a): state.aliases.remove(Self.aliasRef(a.account, a.region, a.aliasName))
            case .putGrant, .removeGrant: continue  // GrantRegistry publishes grants
            case .queuePeerMessage: continue  // the outbox is not cached
            }
        }
    }
}

/// A dictionary with a capacity: past it, the oldest insertion goes first (FIFO). A hit
/// costs only the hash lookup; no bookkeeping on reads, so the hot path stays as cheap
/// as a plain dictionary. An evicted object is simply read from the store again.
struct BoundedCache<Value> {
    private var entries: [KeyRegistry.Ref: Value] = [:]
    /// Insertion order; may hold refs already removed (skipped when met), compacted when
    /// it grows past twice the entries.
    private var order: [KeyRegistry.Ref] = []
    private var head = 0

    var count: Int { entries.count }

    func get(_ ref: KeyRegistry.Ref) -> Value? { entries[ref] }

    mutating func put(_ ref: KeyRegistry.Ref, _ value: Value, capacity: Int) {
        if entries.updateValue(value, forKey: ref) == nil {
            order.append(ref)
            while entries.count > capacity, head < order.count {
                entries.removeValue(forKey: order[head])
                head += 1
            }
        }
        if order.count - head > 2 * max(entries.count, 16) || head > order.count / 2 { compact() }
    }

    mutating func remove(_ ref: KeyRegistry.Ref) { entries.removeValue(forKey: ref) }

    private mutating func compact() {
        var seen = Set<KeyRegistry.Ref>()
        order = order[head...].reversed().filter { entries[$0] != nil && seen.insert($0).inserted }.reversed()
        head = 0
    }
}

extension KMSError {
    /// Internal: a cache miss on a thread that must not block (an event loop). The server
    /// catches it and re-runs the request on its blocking pool; a client never sees it.
    public static let storeReadNeeded = KMSError(.kmsInternal, "An internal error occurred. Try again later. (store read)")
    /// The store could not be read or written (PostgreSQL unreachable, timed out): retryable.
    public static let storeUnavailable = KMSError(.dependencyTimeout, "The system timed out while trying to fulfill the request. The request can be retried.")
}
