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
