import Foundation
import KMSCore
import Logging
import PostgresNIO

/// Which node runs the background jobs (deletion at the end of the window, pruning the
/// change log): the one whose session holds a PostgreSQL advisory lock. The lock lives as
/// long as that connection: a node that dies (kill -9, crash) closes its socket and the
/// server releases the lock; a node cut off is dropped by TCP keepalive (set short on
/// this session) and stops believing it holds the lock when its ping fails. The others
/// try to take it every `interval`, so the jobs move within a few intervals.
///
/// The jobs are safe to overlap anyway (their writes are conditional on row versions, a
/// second deletion of the same key conflicts and finds nothing due): the lock keeps
/// them from running twice, it is not what keeps the data right.
public final class PostgresJobLease: JobLease, @unchecked Sendable {
    /// Chosen once; every node uses the same ("kms_jobs").
    static let lockId: Int64 = 0x6B6D_735F_6A6F_6273
    let store: PostgresKeyStore
    let interval: Duration
    private let lock = NSLock()
    private var held = false
    /// When the holding session last answered. A node whose ping hangs (connection gone
    /// without an error) must not go on believing it holds the lock.
    private var confirmed = ContinuousClock.now
    private var acquisitions: UInt64 = 0
    private var task: Task<Void, Never>?

    public init(store: PostgresKeyStore, interval: Duration = .seconds(1)) {
        self.store = store
        self.interval = interval
    }

    public var isHeld: Bool {
        lock.withLock { held && ContinuousClock.now - confirmed < max(interval * 3, .seconds(2)) }
    }
    /// How often this node became the holder (tests, metrics).
    public var timesAcquired: UInt64 { lock.withLock { acquisitions } }

    private func set(_ value: Bool) {
        lock.withLock {
            if value && !held { acquisitions &+= 1 }
            held = value
            if value { confirmed = .now }
        }
    }

    public func start() {
        let t = Task(executorPreference: StoreExecutor.shared) { [self] in await run() }
        lock.withLock { task = t }
    }

    public func stop() { lock.withLock { task }?.cancel() }

    private func run() async {
        let logger = store.logger
        while !Task.isCancelled {
            do {
                try await store.client.withConnection { conn in
                    try await conn.query("SET tcp_keepalives_idle = 5", logger: logger)
                    try await conn.query("SET tcp_keepalives_interval = 2", logger: logger)
                    try await conn.query("SET tcp_keepalives_count = 3", logger: logger)
                    let got = try await conn.query("SELECT pg_try_advisory_lock(\(Self.lockId))", logger: logger)
                        .collect().first?.decode(Bool.self) ?? false
                    guard got else { return }
                    set(true)
                    logger.info("this node now runs the background jobs")
                    defer { set(false) }
                    do {
                        while !Task.isCancelled {
                            try await Task.sleep(for: interval)
                            let limit = max(interval * 3, .seconds(2))
                            try await withThrowingTaskGroup(of: Void.self) { group in
                                group.addTask { _ = try await conn.query("SELECT 1", logger: logger).collect() }
                                group.addTask {
                                    try await Task.sleep(for: limit)
                                    throw PostgresKeyStore.Timeout(after: limit)
                                }
                                defer { group.cancelAll() }
                                try await group.next()
                            }
                            lock.withLock { confirmed = .now }
                        }
                    } catch {
                        // The session did not answer: the lock may be gone. Not unlocking on
                        // it (that could hang too); a broken connection loses the lock anyway.
                        set(false)
                        throw error
                    }
                    // Back to the pool without the lock (a broken connection is closed and loses it anyway).
                    _ = try? await conn.query("SELECT pg_advisory_unlock(\(Self.lockId))", logger: logger).collect()
                }
            } catch {
                set(false)
            }
            try? await Task.sleep(for: interval)
        }
    }
}

/// Whether this node may run the background jobs now. SQLite: one node, always.
public protocol JobLease: Sendable {
    var isHeld: Bool { get }
}

public struct SingleNodeLease: JobLease {
    public init() {}
    public var isHeld: Bool { true }
}
