import Foundation
import KMSCore
import Logging
import PostgresNIO

/// Keeps a node's KeyRegistry in step with changes other nodes commit. Each UPDATE or
/// DELETE of a key or alias row is logged in `kms_changes` and notified on the
/// `kms_changes` channel by a trigger (migration 2), in the writer's transaction, so a
/// notification means a commit. This node LISTENs and evicts the object at once; a poll
/// of the log every `pollInterval` catches what a lost notification or a dropped
/// listening connection missed. If the log cannot be read, everything cached is dropped
/// when it can be read again (a gap may hide any change).
public final class PostgresChangeFeed: @unchecked Sendable {
    let store: PostgresKeyStore
    let registry: KeyRegistry
    let pollInterval: Duration
    let logger: Logger
    private let lock = NSLock()
    private var sequence = ChangeSequence()
    private var tasks: [Task<Void, Never>] = []
    private var notified: UInt64 = 0
    private var polled: UInt64 = 0

    /// false only in tests of the poll alone.
    let listens: Bool

    /// Grants, identities and root credentials are held whole in memory: their changes
    /// ('g', 'i', 'c', migration 5) go to the followers, which re-read them.
    let followers = ChangeFollowers()

    /// Whether this node's followed memory is confirmed current (each successful poll
    /// confirms it; a failed re-read holds it back): requests are refused once it runs out.
    public var freshness: StoreFreshness { followers.freshness }

    /// Registers a follower; one registered before `start()` also re-reads everything once
    /// the log position is taken (changes between its load and that position are not missed).
    public func follow(_ follower: any StoreChangeFollower) { followers.add(follower) }

    public init(store: PostgresKeyStore, registry: KeyRegistry, pollInterval: Duration = .milliseconds(250),
                listens: Bool = true, logger: Logger = Logger(label: "kms.changes")) {
        self.listens = listens
        self.store = store
        self.registry = registry
        self.pollInterval = pollInterval
        self.logger = logger
    }

    /// Starts listening and polling; the log position is read first, so only later changes apply.
    public func start() throws {
        let start = try store.wait { [store] in
            try await store.client.query("SELECT COALESCE(MAX(seq), 0)::int8 FROM kms_changes", logger: store.logger)
                .collect().first?.decode(Int64.self) ?? 0
        }
        lock.withLock { sequence = ChangeSequence(start: start) }
        if !followers.isEmpty { followers.deliverAll() }
        let poll = Task(executorPreference: StoreExecutor.shared) { [self] in await pollLoop() }
        lock.withLock { tasks = [poll] }
        if listens {
            let listen = Task(executorPreference: StoreExecutor.shared) { [self] in await listenLoop() }
            lock.withLock { tasks.append(listen) }
        }
    }

    public func stop() { lock.withLock { tasks }.forEach { $0.cancel() } }

    /// Evictions that came by notification and by poll (for tests and metrics).
    public var counts: (notified: UInt64, polled: UInt64) { lock.withLock { (notified, polled) } }

    static let channel = "kms_changes"

    private func listenLoop() async {
        while !Task.isCancelled {
            do {
                try await store.client.withConnection { conn in
                    try await conn.listen(on: Self.channel) { notifications in
                        for try await n in notifications { self.received(n.payload) }
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("change notifications interrupted; the poll covers the gap: \(PostgresKeyStore.describe(error))")
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// "seq|kind|account|region|name": the object is evicted whatever its seq (eviction is
    /// idempotent; a notification may come before the poll position reaches it).
    func received(_ payload: String) {
        let parts = payload.split(separator: "|", maxSplits: 4, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 5, let seq = Int64(parts[0]), let object = Self.object(parts[1], parts[2], parts[3], parts[4]) else {
            logger.warning("unreadable change notification ignored")
            return
        }
        registry.invalidate([object])
        followers.deliver([object])
        lock.withLock {
            _ = sequence.observe(seq)
            notified &+= 1
        }
    }

    static func object(_ kind: String, _ account: String, _ region: String, _ name: String) -> StoreObject? {
        switch kind {
        case "k": return .key(account: account, region: region, keyId: name)
        case "a": return .alias(account: account, region: region, aliasName: name)
        case "g": return grant(account, region, name)
        case "i": return .identity(account: account, kind: region, name: name)
        case "c": return .identity(account: account, kind: RootCredentialObject.kind, name: name)
        default: return nil
        }
    }

    /// A grant's log name is KEY_ID/GRANT_ID.
    static func grant(_ account: String, _ region: String, _ name: String) -> StoreObject? {
        guard let slash = name.firstIndex(of: "/") else { return nil }
        return .grant(account: account, region: region, keyId: String(name[..<slash]),
                      grantId: String(name[name.index(after: slash)...]))
    }

    private func pollLoop() async {
        var failing = false
        while !Task.isCancelled {
            try? await Task.sleep(for: pollInterval)
            let polledAt = StoreFreshness.now()
            do {
                try await pollOnce()
                if failing {
                    // Changes may have come and gone while the log was out of reach: memory
                    // counts as current again only once the followers have re-read everything.
                    freshness.followerFailed()
                    registry.invalidateAll()
                    followers.deliverAll()
                    failing = false
                    logger.info("change log readable again; cache dropped")
                }
                followers.confirmOnceDelivered(polledAt: polledAt)
            } catch {
                if Task.isCancelled { return }
                if !failing { logger.warning("change log poll failed: \(PostgresKeyStore.describe(error))") }
                failing = true
            }
        }
    }

    func pollOnce() async throws {
        let from = lock.withLock { sequence.floor }
        let rows = try await store.client.query("""
            SELECT seq, kind, account, region, name FROM kms_changes WHERE seq > \(from) ORDER BY seq LIMIT 10000
            """, logger: store.logger).collect()
        var evict: [StoreObject] = []
        var overflow = false
        lock.withLock {
            for row in rows {
                guard let (seq, kind, account, region, name) = try? row.decode((Int64, String, String, String, String).self),
                      let object = Self.object(kind, account, region, name) else { continue }
                if sequence.observe(seq) { evict.append(object) }
            }
            overflow = sequence.expireGaps()
            polled &+= UInt64(evict.count)
        }
        if overflow {
            registry.invalidateAll()
            followers.deliverAll()
        } else if !evict.isEmpty {
            registry.invalidate(evict)
            followers.deliver(evict)
        }
    }

    /// Deletes log entries older than `age` seconds (run by the one node holding the job lease).
    public func prune(olderThan age: Double = 3600) throws {
        try store.wait { [store] in
            try await store.client.query("DELETE FROM kms_changes WHERE changed_at < now() - make_interval(secs => \(age))",
                                         logger: store.logger)
            return ()
        }
    }
}

/// Which log positions this node has seen. Sequence numbers are taken in one order and
/// committed in another (and rolled-back ones never appear), so a position skipped over
/// is remembered as a gap and polled again for a while before it is given up.
struct ChangeSequence {
    private(set) var maxSeen: Int64 = 0
    private var gaps: [Int64: ContinuousClock.Instant] = [:]
    /// Set when a jump was too large to track position by position.
    private var lostTrack = false
    static let gapLifetime = Duration.seconds(10)
    static let maxGaps = 10_000

    init(start: Int64 = 0) { maxSeen = start }

    /// Where the next poll starts: before the oldest open gap.
    var floor: Int64 { (gaps.keys.min() ?? (maxSeen + 1)) - 1 }

    /// Records `seq`; true if it was not seen before.
    mutating func observe(_ seq: Int64) -> Bool {
        if seq > maxSeen {
            if seq - maxSeen - 1 <= Int64(Self.maxGaps) {
                let now = ContinuousClock.now
                var s = maxSeen + 1
                while s < seq { gaps[s] = now; s += 1 }
            } else {
                lostTrack = true
            }
            maxSeen = seq
            return true
        }
        return gaps.removeValue(forKey: seq) != nil
    }

    /// Gives up gaps older than their lifetime (rolled-back transactions leave such holes).
    /// True when the gaps overflowed: the caller drops its whole cache.
    mutating func expireGaps() -> Bool {
        let overflow = lostTrack || gaps.count > Self.maxGaps
        lostTrack = false
        let limit = ContinuousClock.now - Self.gapLifetime
        gaps = gaps.filter { $0.value > limit }
        if overflow { gaps.removeAll() }
        return overflow
    }
}
