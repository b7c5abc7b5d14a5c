import Foundation
import KMSCore
import Logging
import PostgresNIO

/// Grants in PostgreSQL: the `grants` table (migration 3), the same rows and versions as SQLite.
extension PostgresKeyStore {
    public func loadGrants() throws -> [KMSGrant] {
        try wait { [self] in try await grants(where: "TRUE", PostgresBindings()) }
    }

    public func grants(account: String, region: String, keyId: String) throws -> [KMSGrant] {
        try wait { [self] in
            try await grants(where: "account = $1 AND region = $2 AND key_id = $3", try Self.binds(account, region, keyId))
        }
    }

    public func grants(retiringPrincipal: String) throws -> [KMSGrant] {
        try wait { [self] in try await grants(where: "retiring_principal = $1", try Self.binds(retiringPrincipal)) }
    }

    func grants(where condition: String, _ binds: PostgresBindings) async throws -> [KMSGrant] {
        let sql = "SELECT grant_data, version FROM grants WHERE " + condition
        return try await client.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger).collect().map { row in
            let (data, version) = try row.decode((String, Int64).self)
            return try StoredGrant.decode(data, version: version)
        }
    }

    static func applyGrant(_ change: StoreChange, on conn: PostgresConnection, logger: Logger) async throws {
        let conflict = StoreConflict(object: change.target, expectedVersion: change.expectedVersion)
        switch change {
        case .putGrant(let g):
            guard g.storeVersion == 0 else { throw StoreConflict(object: change.target, expectedVersion: g.storeVersion, reason: "grants are never updated") }
            let data = try StoredGrant.encode(g)
            let rows = try await conn.query("""
                INSERT INTO grants (account, region, key_id, grant_id, grantee_principal, retiring_principal, grant_data, version)
                VALUES (\(g.account), \(g.region), \(g.keyId), \(g.grantId), \(g.granteePrincipal), \(g.retiringPrincipal), \(data), 1)
                ON CONFLICT DO NOTHING RETURNING version
                """, logger: logger).collect()
            guard rows.count == 1 else { throw conflict }
        case .removeGrant(let g):
            let rows = try await conn.query("""
                DELETE FROM grants WHERE account = \(g.account) AND region = \(g.region) AND key_id = \(g.keyId)
                AND grant_id = \(g.grantId) AND version = \(g.storeVersion) RETURNING version
                """, logger: logger).collect()
            guard rows.count == 1 else { throw conflict }
        default:
            return
        }
    }
}
