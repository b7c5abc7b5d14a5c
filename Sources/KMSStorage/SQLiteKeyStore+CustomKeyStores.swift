import Foundation
import GRDB
import KMSCore

/// Custom key stores in SQLite: the `custom_key_stores` table (migration v4-custom-key-stores),
/// versioned like keys; a name is unique per account and Region (the unique index).
extension SQLiteKeyStore: CustomKeyStoreStorage {
    static func registerCustomKeyStoreMigration(_ m: inout DatabaseMigrator) {
        m.registerMigration("v4-custom-key-stores") { db in
            try db.execute(sql: """
                CREATE TABLE custom_key_stores (
                    account TEXT NOT NULL, region TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,
                    document TEXT NOT NULL, sealed_secret BLOB NOT NULL, version INTEGER NOT NULL,
                    PRIMARY KEY (account, region, id));
                CREATE UNIQUE INDEX custom_key_stores_name ON custom_key_stores (account, region, name);
                """)
        }
    }

    public func customKeyStores(account: String, region: String) throws -> [CustomKeyStore] {
        try db.read { db in
            try Row.fetchAll(db, sql: "SELECT document, sealed_secret, version FROM custom_key_stores WHERE account = ? AND region = ? ORDER BY id",
                             arguments: [account, region]).map(decodeCustomKeyStore)
        }
    }

    public func customKeyStore(account: String, region: String, id: String) throws -> CustomKeyStore? {
        try db.read { db in
            try Row.fetchOne(db, sql: "SELECT document, sealed_secret, version FROM custom_key_stores WHERE account = ? AND region = ? AND id = ?",
                             arguments: [account, region, id]).map(decodeCustomKeyStore)
        }
    }

    private func decodeCustomKeyStore(_ row: Row) throws -> CustomKeyStore {
        let sealed: Data = row["sealed_secret"]
        return try StoredCustomKeyStore.decode(row["document"], sealed: [UInt8](sealed), version: row["version"], rootKey: rootKey)
    }

    public func putCustomKeyStore(_ s: CustomKeyStore) throws {
        let (document, sealed) = try StoredCustomKeyStore.encode(s, rootKey: rootKey)
        let conflict = StoreConflict(object: .identity(account: s.account, kind: "custom-key-store", name: s.region + "/" + s.id),
                                     expectedVersion: s.storeVersion)
        try db.write { db in
            if s.storeVersion == 0 {
                try db.execute(sql: """
                    INSERT INTO custom_key_stores (account, region, id, name, document, sealed_secret, version)
                    VALUES (?, ?, ?, ?, ?, ?, 1) ON CONFLICT DO NOTHING
                    """, arguments: [s.account, s.region, s.id, s.name, document, Data(sealed)])
            } else {
                do {
                    try db.execute(sql: """
                        UPDATE custom_key_stores SET name = ?, document = ?, sealed_secret = ?, version = version + 1
                        WHERE account = ? AND region = ? AND id = ? AND version = ?
                        """, arguments: [s.name, document, Data(sealed), s.account, s.region, s.id, s.storeVersion])
                } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
                    throw conflict
                }
            }
            guard db.changesCount == 1 else { throw conflict }
        }
    }

    public func removeCustomKeyStore(_ s: CustomKeyStore) throws {
        try db.write { db in
            try db.execute(sql: "DELETE FROM custom_key_stores WHERE account = ? AND region = ? AND id = ? AND version = ?",
                           arguments: [s.account, s.region, s.id, s.storeVersion])
            guard db.changesCount == 1 else {
                throw StoreConflict(object: .identity(account: s.account, kind: "custom-key-store", name: s.region + "/" + s.id),
                                    expectedVersion: s.storeVersion)
            }
        }
    }
}
