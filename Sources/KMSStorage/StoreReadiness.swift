import Foundation
import GRDB
import KMSCore
import PostgresNIO

/// `/health/ready`: the store answers and its schema is the one this build expects.
public protocol StoreReadiness: Sendable {
    /// Throws a description of what is not ready.
    func checkReady() throws
}

extension PostgresKeyStore: StoreReadiness {
    public func checkReady() throws {
        let applied = try wait { [client, logger] in try await PostgresMigrations.appliedVersions(client, logger: logger) }
        guard applied.last == PostgresMigrations.latest else {
            throw StorageError("schema at version \(applied.last ?? 0), this kms expects \(PostgresMigrations.latest)")
        }
    }
}

extension SQLiteKeyStore: StoreReadiness {
    public func checkReady() throws {
        let done = try db.read { db in try Self.migrator.hasCompletedMigrations(db) }
        guard done else { throw StorageError("schema migrations not applied") }
    }
}

// The deletion sweep's query: only keys pending deletion are read and unsealed, not the
// whole table (the protocol's default is a full load).
extension PostgresKeyStore {
    public func keysPendingDeletion(dueBy: Double) throws -> [KMSKey] {
        try wait { [self] in
            try await keys(where: "metadata::jsonb->>'keyState' = 'PendingDeletion'", PostgresBindings())
        }.filter { ($0.deletionDate ?? .infinity) <= dueBy }
    }
}

extension SQLiteKeyStore {
    public func keysPendingDeletion(dueBy: Double) throws -> [KMSKey] {
        try db.read { db in
            try keys(db, where: "json_extract(metadata, '$.keyState') = 'PendingDeletion'", [])
        }.filter { ($0.deletionDate ?? .infinity) <= dueBy }
    }
}

/// Keys by state across the store, for the `kms_keys` gauge.
public protocol StoreStatistics: Sendable {
    func keyCountsByState() throws -> [String: Int]
}

extension PostgresKeyStore: StoreStatistics {
    public func keyCountsByState() throws -> [String: Int] {
        try wait { [client, logger] in
            var counts: [String: Int] = [:]
            for row in try await client.query("SELECT metadata::jsonb->>'keyState', count(*)::int8 FROM keys GROUP BY 1", logger: logger).collect() {
                let (state, n) = try row.decode((String?, Int64).self)
                counts[state ?? "", default: 0] += Int(n)
            }
            return counts
        }
    }
}

extension SQLiteKeyStore: StoreStatistics {
    public func keyCountsByState() throws -> [String: Int] {
        try db.read { db in
            var counts: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT json_extract(metadata, '$.keyState') AS s, count(*) AS n FROM keys GROUP BY s") {
                counts[(row["s"] as String?) ?? "", default: 0] += row["n"] as Int
            }
            return counts
        }
    }
}
