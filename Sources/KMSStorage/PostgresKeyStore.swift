import Foundation
import KMSCore
import Logging
import NIOCore
import NIOPosix
import PostgresNIO

/// The shared store for a cluster: PostgreSQL through postgres-nio. Same rows, versions and
/// sealing as `SQLiteKeyStore` (material and credential secrets are sealed under the root
/// key with the same AAD before they leave the process). Writes are conditional on row
/// versions; READ COMMITTED re-evaluates a conditional UPDATE after a concurrent writer
/// commits, so exactly one of two writers on the same base wins.
///
/// The protocol is synchronous because the server calls stores from its NIOThreadPool;
/// each call runs the async client on `StoreExecutor`'s thread and waits for it there.
/// Waiting on an event loop would stall it: such a call is refused with an error.
public final class PostgresKeyStore: KeyStore, CredentialStore, @unchecked Sendable {
    let client: PostgresClient
    let rootKey: RootKey
    let logger: Logger
    private let runTask: Task<Void, Never>

    public init(url: PostgresStorageURL, rootKey: RootKey, timeout: Duration = .seconds(60),
                logger: Logger = Logger(label: "kms.postgres")) throws {
        var config = try url.clientConfiguration()
        config.options.maximumConnections = 8
        let group = MultiThreadedEventLoopGroup.singleton
        let client = PostgresClient(configuration: config, eventLoopGroup: group, backgroundLogger: logger)
        self.client = client
        self.rootKey = rootKey
        self.logger = logger
        self.timeout = timeout
        runTask = Task(executorPreference: StoreExecutor.shared) { await client.run() }
        do {
            try wait { try await PostgresMigrations.migrate(client, logger: logger) }
        } catch {
            runTask.cancel()
            throw error
        }
    }

    deinit { runTask.cancel() }

    /// Closes the connections; the store is unusable afterwards.
    public func close() { runTask.cancel() }

    /// No call waits longer: an unreachable server or a refused TLS handshake must fail a
    /// start-up or a request, not hang it (the pool retries connecting until then).
    let timeout: Duration

    public struct Timeout: Error, CustomStringConvertible {
        let after: Duration
        public var description: String { "PostgreSQL did not answer within \(after) (server unreachable, or TLS/authentication refused?)" }
    }

    /// Runs `operation` on the client and blocks this (non-event-loop) thread for its result.
    func wait<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) throws -> T {
        guard MultiThreadedEventLoopGroup.currentEventLoop == nil else {
            throw StorageError("PostgreSQL store called on an event loop; store calls belong on the blocking thread pool")
        }
        let timeout = timeout
        do {
            return try StoreExecutor.blocking {
                try await withThrowingTaskGroup(of: T.self) { group in
                    group.addTask { try await operation() }
                    group.addTask {
                        try await Task.sleep(for: timeout)
                        throw Timeout(after: timeout)
                    }
                    defer { group.cancelAll() }
                    guard let first = try await group.next() else { throw Timeout(after: timeout) }
                    return first
                }
            }
        } catch let error as PostgresTransactionError {
            // A conflict found inside a transaction is the store's answer, not a driver failure.
            if let conflict = error.closureError as? StoreConflict { throw conflict }
            if let closure = error.closureError, Self.isSerializationFailure(closure) { throw Self.retryableConflict }
            if let commit = error.commitError, Self.isSerializationFailure(commit) { throw Self.retryableConflict }
            throw Self.describe(error.closureError ?? error.commitError ?? error.beginError ?? error)
        } catch let error where Self.isSerializationFailure(error) {
            throw Self.retryableConflict
        } catch {
            throw Self.describe(error)
        }
    }

    /// postgres-nio hides everything in its errors' descriptions; the server's message and
    /// SQLSTATE (never bind values: they are not in the message) make failures diagnosable.
    static func describe(_ error: any Error) -> any Error {
        guard let e = error as? PSQLError else { return error }
        if let info = e.serverInfo {
            return StorageError("PostgreSQL: \(info[.message] ?? "error") (SQLSTATE \(info[.sqlState] ?? "?"))")
        }
        return StorageError("PostgreSQL: \(e.code)\(e.underlying.map { ": \($0)" } ?? "")")
    }

    /// Deadlocks and serialization failures abort one transaction: its caller retries on fresh state.
    static func isSerializationFailure(_ error: any Error) -> Bool {
        guard let e = error as? PSQLError, let state = e.serverInfo?[.sqlState] else { return false }
        return state == "40001" || state == "40P01"
    }

    static let retryableConflict = StoreConflict(object: .key(account: "", region: "", keyId: ""), expectedVersion: 0,
                                                 reason: "transaction aborted by a concurrent writer")

    // MARK: Reads

    public func loadKeys() throws -> [KMSKey] {
        try wait { [self] in try await keys(where: "TRUE", PostgresBindings(), allMaterials: true) }
    }

    public func loadAliases() throws -> [Alias] {
        try wait { [self] in try await aliases(where: "TRUE", PostgresBindings()) }
    }

    public func key(account: String, region: String, keyId: String) throws -> KMSKey? {
        try wait { [self] in
            try await keys(where: "account = $1 AND region = $2 AND key_id = $3", try Self.binds(account, region, keyId)).first
        }
    }

    public func alias(account: String, region: String, aliasName: String) throws -> Alias? {
        try wait { [self] in
            try await aliases(where: "account = $1 AND region = $2 AND alias_name = $3", try Self.binds(account, region, aliasName)).first
        }
    }

    public func listKeys(account: String, region: String, after: String?, limit: Int) throws -> [KMSKey] {
        try wait { [self] in
            var b = try Self.binds(account, region, after ?? "")
            b.append(Int64(max(0, limit)))
            return try await keys(where: "account = $1 AND region = $2 AND key_id > $3 ORDER BY key_id LIMIT $4", b)
        }
    }

    public func listAliases(account: String, region: String, after: String?, limit: Int) throws -> [Alias] {
        try wait { [self] in
            var b = try Self.binds(account, region, after ?? "")
            b.append(Int64(max(0, limit)))
            return try await aliases(where: "account = $1 AND region = $2 AND alias_name > $3 ORDER BY alias_name LIMIT $4", b)
        }
    }

    static func binds(_ values: String...) throws -> PostgresBindings {
        var b = PostgresBindings()
        for v in values { b.append(v) }
        return b
    }

    /// Keys matching `condition`, each with its unsealed, parsed material.
    func keys(where condition: String, _ binds: PostgresBindings, allMaterials: Bool = false) async throws -> [KMSKey] {
        let rows = try await client.query(PostgresQuery(unsafeSQL: "SELECT account, region, key_id, metadata, version FROM keys WHERE " + condition,
                                                        binds: binds), logger: logger).collect()
        var found: [(account: String, region: String, keyId: String, metadata: String, version: Int64)] = []
        for row in rows {
            let (account, region, keyId, metadata, version) = try row.decode((String, String, String, String, Int64).self)
            found.append((account, region, keyId, metadata, version))
        }
        guard !found.isEmpty else { return [] }
        var materials: [String: [KeyMaterialRow]] = [:]
        let materialQuery = "SELECT account, region, key_id, version, material_id, created_at, sealed FROM key_materials"
        if allMaterials {
            for row in try await client.query(PostgresQuery(unsafeSQL: materialQuery + " ORDER BY version"), logger: logger).collect() {
                let m = try KeyMaterialRow(row)
                materials[m.ref, default: []].append(m)
            }
        } else {
            for k in found {
                let q: PostgresQuery = """
                    SELECT account, region, key_id, version, material_id, created_at, sealed FROM key_materials
                    WHERE account = \(k.account) AND region = \(k.region) AND key_id = \(k.keyId) ORDER BY version
                    """
                for row in try await client.query(q, logger: logger).collect() {
                    let m = try KeyMaterialRow(row)
                    materials[m.ref, default: []].append(m)
                }
            }
        }
        return try found.map { k in
            let stored = try JSONDecoder().decode(StoredKeyMetadata.self, from: Data(k.metadata.utf8))
            // Asymmetric private keys are parsed once here, so the hot path never parses.
            let parsed = try (materials[k.account + "|" + k.region + "|" + k.keyId] ?? []).map { m in
                let secret = try rootKey.open([UInt8](m.sealed), context: SealingContext.material(k.account, k.region, k.keyId, m.version))
                return try KeyMaterial(keySpec: stored.keySpec, version: m.version, secret: secret, materialId: m.materialId, createdAt: m.createdAt)
            }
            var key = stored.key(materials: parsed)
            key.storeVersion = k.version
            return key
        }
    }

    struct KeyMaterialRow {
        let ref: String
        let version: UInt32
        let materialId: String
        let createdAt: Double
        let sealed: Data

        init(_ row: PostgresRow) throws {
            let (account, region, keyId, version, materialId, createdAt, sealed) =
                try row.decode((String, String, String, Int64, String, Double, Data).self)
            ref = account + "|" + region + "|" + keyId
            self.version = UInt32(truncatingIfNeeded: version)
            self.materialId = materialId
            self.createdAt = createdAt
            self.sealed = sealed
        }
    }

    func aliases(where condition: String, _ binds: PostgresBindings) async throws -> [Alias] {
        let sql = "SELECT account, region, alias_name, target_key_id, creation_date, last_updated_date, version FROM aliases WHERE " + condition
        return try await client.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger).collect().map { row in
            let (account, region, name, target, created, updated, version) =
                try row.decode((String, String, String, String, Double, Double, Int64).self)
            return Alias(aliasName: name, account: account, region: region, targetKeyId: target,
                         creationDate: created, lastUpdatedDate: updated, storeVersion: version)
        }
    }

    // MARK: Conditional writes

    public func apply(_ changes: [StoreChange]) throws {
        guard !changes.isEmpty else { return }
        // Material is sealed in this process before it is bound to a statement: no unsealed byte reaches the driver.
        let rootKey = rootKey
        do {
            try applyInTransaction(changes, rootKey: rootKey)
        } catch let conflict as StoreConflict where conflict == Self.retryableConflict {
            // An aborted transaction names no object: blame the batch's first, so the caller re-reads it.
            throw StoreConflict(object: changes[0].target, expectedVersion: changes[0].expectedVersion, reason: conflict.reason)
        }
    }

    private func applyInTransaction(_ changes: [StoreChange], rootKey: RootKey) throws {
        try wait { [client, logger] in
            try await client.withTransaction(logger: logger) { conn in
                // Runs of new keys (a batch creating thousands) go in a few multi-row
                // statements instead of one round trip per row; the rest one by one, in order.
                var newKeys: [KMSKey] = []
                var queued: [NewPeerMessage] = []
                for change in changes {
                    if case .queuePeerMessage(let m) = change {
                        queued.append(m)  // last: see StoreChange.queuePeerMessage
                        continue
                    }
                    if case .putKey(let key) = change, key.storeVersion == 0 {
                        newKeys.append(key)
                        if newKeys.count == Self.bulkRows {
                            try await Self.insertNewKeys(newKeys, on: conn, rootKey: rootKey, logger: logger)
                            newKeys.removeAll(keepingCapacity: true)
                        }
                        continue
                    }
                    try await Self.insertNewKeys(newKeys, on: conn, rootKey: rootKey, logger: logger)
                    newKeys.removeAll(keepingCapacity: true)
                    try await Self.apply(change, on: conn, rootKey: rootKey, logger: logger)
                }
                try await Self.insertNewKeys(newKeys, on: conn, rootKey: rootKey, logger: logger)
                let now = Date().timeIntervalSince1970
                for m in queued { _ = try await Self.insertPeerMessage(m, on: conn, rootKey: rootKey, now: now, logger: logger) }
            }
        }
    }

    static let bulkRows = 1_000

    /// Creates keys that must not exist yet (base version 0), many per statement. If any
    /// exists already (or appears twice), the statement inserts fewer rows than asked and
    /// that is the conflict; the transaction rolls back.
    static func insertNewKeys(_ keys: [KMSKey], on conn: PostgresConnection, rootKey: RootKey, logger: Logger) async throws {
        guard !keys.isEmpty else { return }
        var accounts: [String] = [], regions: [String] = [], ids: [String] = [], metadata: [String] = []
        var mAccounts: [String] = [], mRegions: [String] = [], mIds: [String] = [], mVersions: [Int64] = []
        var mMaterialIds: [String] = [], mCreated: [Double] = [], mSealed: [ByteBuffer] = []
        for key in keys {
            accounts.append(key.account); regions.append(key.region); ids.append(key.keyId)
            metadata.append(String(decoding: try JSONEncoder().encode(StoredKeyMetadata(key)), as: UTF8.self))
            for m in try MaterialPlan(key: key, stored: [:]).toInsert {
                mAccounts.append(key.account); mRegions.append(key.region); mIds.append(key.keyId)
                mVersions.append(Int64(m.version)); mMaterialIds.append(m.materialId); mCreated.append(m.createdAt)
                mSealed.append(ByteBuffer(bytes: try rootKey.seal(m.secret, context: SealingContext.material(key.account, key.region, key.keyId, m.version))))
            }
        }
        let inserted = try await conn.query("""
            INSERT INTO keys (account, region, key_id, metadata, version)
            SELECT a, r, k, m, 1 FROM UNNEST(\(accounts)::text[], \(regions)::text[], \(ids)::text[], \(metadata)::text[]) AS t(a, r, k, m)
            ON CONFLICT DO NOTHING RETURNING account, region, key_id
            """, logger: logger).collect()
        if inserted.count != keys.count {
            var made = Set<String>()
            for row in inserted {
                let (a, r, k) = try row.decode((String, String, String).self)
                made.insert(a + "|" + r + "|" + k)
            }
            let lost = keys.first { !made.contains($0.account + "|" + $0.region + "|" + $0.keyId) } ?? keys[0]
            throw StoreConflict(object: .key(account: lost.account, region: lost.region, keyId: lost.keyId), expectedVersion: 0,
                                reason: "already exists")
        }
        guard !mAccounts.isEmpty else { return }
        try await conn.query("""
            INSERT INTO key_materials (account, region, key_id, version, material_id, created_at, sealed)
            SELECT * FROM UNNEST(\(mAccounts)::text[], \(mRegions)::text[], \(mIds)::text[], \(mVersions)::int8[],
                                 \(mMaterialIds)::text[], \(mCreated)::float8[], \(mSealed)::bytea[])
            """, logger: logger)
    }

    static func apply(_ change: StoreChange, on conn: PostgresConnection, rootKey: RootKey, logger: Logger) async throws {
        let conflict = StoreConflict(object: change.target, expectedVersion: change.expectedVersion)
        func requireOneRow(_ query: PostgresQuery) async throws {
            guard try await conn.query(query, logger: logger).collect().count == 1 else { throw conflict }
        }
        switch change {
        case .putKey(let key):
            let metadata = String(decoding: try JSONEncoder().encode(StoredKeyMetadata(key)), as: UTF8.self)
            if key.storeVersion == 0 {
                try await requireOneRow("""
                    INSERT INTO keys (account, region, key_id, metadata, version) VALUES (\(key.account), \(key.region), \(key.keyId), \(metadata), 1)
                    ON CONFLICT DO NOTHING RETURNING version
                    """)
            } else {
                try await requireOneRow("""
                    UPDATE keys SET metadata = \(metadata), version = version + 1
                    WHERE account = \(key.account) AND region = \(key.region) AND key_id = \(key.keyId) AND version = \(key.storeVersion)
                    RETURNING version
                    """)
            }
            // The key row is now locked by this transaction: its materials cannot move under us.
            var stored: [UInt32: String] = [:]
            if key.storeVersion != 0 {
                let rows = try await conn.query("""
                    SELECT version, material_id FROM key_materials WHERE account = \(key.account) AND region = \(key.region) AND key_id = \(key.keyId)
                    """, logger: logger).collect()
                for row in rows {
                    let (version, id) = try row.decode((Int64, String).self)
                    stored[UInt32(truncatingIfNeeded: version)] = id
                }
            }
            let plan = try MaterialPlan(key: key, stored: stored)
            for version in plan.toDelete {
                try await conn.query("""
                    DELETE FROM key_materials WHERE account = \(key.account) AND region = \(key.region) AND key_id = \(key.keyId) AND version = \(Int64(version))
                    """, logger: logger)
            }
            for m in plan.toInsert {
                let sealed = Data(try rootKey.seal(m.secret, context: SealingContext.material(key.account, key.region, key.keyId, m.version)))
                try await requireOneRow("""
                    INSERT INTO key_materials (account, region, key_id, version, material_id, created_at, sealed)
                    VALUES (\(key.account), \(key.region), \(key.keyId), \(Int64(m.version)), \(m.materialId), \(m.createdAt), \(sealed))
                    ON CONFLICT DO NOTHING RETURNING version
                    """)
            }
        case .removeKey(let k):
            try await requireOneRow("""
                DELETE FROM keys WHERE account = \(k.account) AND region = \(k.region) AND key_id = \(k.keyId) AND version = \(k.storeVersion)
                RETURNING version
                """)
            try await conn.query("DELETE FROM key_materials WHERE account = \(k.account) AND region = \(k.region) AND key_id = \(k.keyId)", logger: logger)
            // A key's grants go with it, in the same transaction.
            try await conn.query("DELETE FROM grants WHERE account = \(k.account) AND region = \(k.region) AND key_id = \(k.keyId)", logger: logger)
        case .putAlias(let a):
            if a.storeVersion == 0 {
                try await requireOneRow("""
                    INSERT INTO aliases (account, region, alias_name, target_key_id, creation_date, last_updated_date, version)
                    VALUES (\(a.account), \(a.region), \(a.aliasName), \(a.targetKeyId), \(a.creationDate), \(a.lastUpdatedDate), 1)
                    ON CONFLICT DO NOTHING RETURNING version
                    """)
            } else {
                try await requireOneRow("""
                    UPDATE aliases SET target_key_id = \(a.targetKeyId), last_updated_date = \(a.lastUpdatedDate), version = version + 1
                    WHERE account = \(a.account) AND region = \(a.region) AND alias_name = \(a.aliasName) AND version = \(a.storeVersion)
                    RETURNING version
                    """)
            }
        case .removeAlias(let a):
            try await requireOneRow("""
                DELETE FROM aliases WHERE account = \(a.account) AND region = \(a.region) AND alias_name = \(a.aliasName) AND version = \(a.storeVersion)
                RETURNING version
                """)
        case .putGrant, .removeGrant:
            try await applyGrant(change, on: conn, logger: logger)
        case .queuePeerMessage(let m):
            _ = try await insertPeerMessage(m, on: conn, rootKey: rootKey, now: Date().timeIntervalSince1970, logger: logger)
        }
    }

    // MARK: CredentialStore

    public func loadCredentials() throws -> [StoredCredential] {
        let rows = try wait { [client, logger] in
            try await client.query("SELECT access_key_id, account, principal_arn, sealed_secret FROM credentials", logger: logger).collect()
        }
        return try rows.map { row in
            let (id, account, principal, sealed) = try row.decode((String, String, String, Data).self)
            let secret = try rootKey.open([UInt8](sealed), context: SealingContext.credential(id))
            return StoredCredential(accessKeyId: id, secretAccessKey: String(decoding: secret, as: UTF8.self),
                                    account: account, principalArn: principal)
        }
    }

    public func saveCredential(_ c: StoredCredential) throws {
        let sealed = Data(try rootKey.seal(Array(c.secretAccessKey.utf8), context: SealingContext.credential(c.accessKeyId)))
        let now = Date().timeIntervalSince1970
        try wait { [client, logger] in
            try await client.query("""
                INSERT INTO credentials (access_key_id, account, principal_arn, sealed_secret, created_at)
                VALUES (\(c.accessKeyId), \(c.account), \(c.principalArn), \(sealed), \(now))
                """, logger: logger)
            return ()
        }
    }
}
