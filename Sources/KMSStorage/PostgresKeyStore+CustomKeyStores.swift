import Foundation
import KMSCore
import Logging
import PostgresNIO

/// Custom key stores in PostgreSQL: the `custom_key_stores` table (migration 9), the same
/// rows, versions and sealing as SQLite. Other nodes see a change within
/// `CustomKeyStoreDirectory.cacheSeconds` (they re-read the row then).
extension PostgresKeyStore: CustomKeyStoreStorage {
    public func customKeyStores(account: String, region: String) throws -> [CustomKeyStore] {
        try wait { [self] in
            try await customKeyStoreRows(where: "account = $1 AND region = $2", try Self.binds(account, region))
        }
    }

    public func customKeyStore(account: String, region: String, id: String) throws -> CustomKeyStore? {
        try wait { [self] in
            try await customKeyStoreRows(where: "account = $1 AND region = $2 AND id = $3", try Self.binds(account, region, id)).first
        }
    }

    func customKeyStoreRows(where condition: String, _ binds: PostgresBindings) async throws -> [CustomKeyStore] {
        let sql = "SELECT document, sealed_secret, version FROM custom_key_stores WHERE " + condition + " ORDER BY id"
        return try await client.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger).collect().map { row in
            let (document, sealed, version) = try row.decode((String, Data, Int64).self)
            return try StoredCustomKeyStore.decode(document, sealed: [UInt8](sealed), version: version, rootKey: rootKey)
        }
    }

    public func putCustomKeyStore(_ s: CustomKeyStore) throws {
        let (document, sealed) = try StoredCustomKeyStore.encode(s, rootKey: rootKey)
        let conflict = StoreConflict(object: .identity(account: s.account, kind: "custom-key-store", name: s.region + "/" + s.id),
                                     expectedVersion: s.storeVersion)
        let bytes = Data(sealed)
        let rows: Int = try wait { [self] in
            if s.storeVersion == 0 {
                return try await client.query("""
                    INSERT INTO custom_key_stores (account, region, id, name, document, sealed_secret, version)
                    VALUES (\(s.account), \(s.region), \(s.id), \(s.name), \(document), \(bytes), 1)
                    ON CONFLICT DO NOTHING RETURNING version
                    """, logger: logger).collect().count
            }
            do {
                return try await client.query("""
                    UPDATE custom_key_stores SET name = \(s.name), document = \(document), sealed_secret = \(bytes), version = version + 1
                    WHERE account = \(s.account) AND region = \(s.region) AND id = \(s.id) AND version = \(s.storeVersion)
                    RETURNING version
                    """, logger: logger).collect().count
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
                return 0  // another store took the name: unique violation
            }
        }
        guard rows == 1 else { throw conflict }
    }

    public func removeCustomKeyStore(_ s: CustomKeyStore) throws {
        let rows: Int = try wait { [self] in
            try await client.query("""
                DELETE FROM custom_key_stores WHERE account = \(s.account) AND region = \(s.region) AND id = \(s.id)
                AND version = \(s.storeVersion) RETURNING version
                """, logger: logger).collect().count
        }
        guard rows == 1 else {
            throw StoreConflict(object: .identity(account: s.account, kind: "custom-key-store", name: s.region + "/" + s.id),
                                expectedVersion: s.storeVersion)
        }
    }
}
