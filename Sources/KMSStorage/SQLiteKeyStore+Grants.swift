import Foundation
import GRDB
import KMSCore

/// Grants in SQLite: the `grants` table (migration v3-grants), versioned like keys and aliases.
extension SQLiteKeyStore {
    static func registerGrantMigration(_ m: inout DatabaseMigrator) {
        m.registerMigration("v3-grants") { db in
            try db.execute(sql: """
                CREATE TABLE grants (
                    account TEXT NOT NULL, region TEXT NOT NULL, key_id TEXT NOT NULL, grant_id TEXT NOT NULL,
                    grantee_principal TEXT NOT NULL, retiring_principal TEXT,
                    grant_data TEXT NOT NULL, version INTEGER NOT NULL,
                    PRIMARY KEY (account, region, key_id, grant_id));
                CREATE INDEX grants_by_retiring_principal ON grants (retiring_principal);
                """)
        }
    }

    public func loadGrants() throws -> [KMSGrant] {
        try db.read { db in try grants(db, where: "1 = 1", []) }
    }

    public func grants(account: String, region: String, keyId: String) throws -> [KMSGrant] {
        try db.read { db in try grants(db, where: "account = ? AND region = ? AND key_id = ?", [account, region, keyId]) }
    }

    public func grants(retiringPrincipal: String) throws -> [KMSGrant] {
        try db.read { db in try grants(db, where: "retiring_principal = ?", [retiringPrincipal]) }
    }

    func grants(_ db: Database, where condition: String, _ arguments: StatementArguments) throws -> [KMSGrant] {
        try Row.fetchAll(db, sql: "SELECT grant_data, version FROM grants WHERE " + condition, arguments: arguments).map { row in
            try StoredGrant.decode(row["grant_data"], version: row["version"])
        }
    }

    /// A new grant (base version 0); one that exists already is a conflict.
    func putGrant(_ g: KMSGrant, _ db: Database) throws {
        guard g.storeVersion == 0 else {
            throw StoreConflict(object: StoreChange.putGrant(g).target, expectedVersion: g.storeVersion, reason: "grants are never updated")
        }
        try db.execute(sql: """
            INSERT INTO grants (account, region, key_id, grant_id, grantee_principal, retiring_principal, grant_data, version)
            VALUES (?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT DO NOTHING
            """, arguments: [g.account, g.region, g.keyId, g.grantId, g.granteePrincipal, g.retiringPrincipal, try StoredGrant.encode(g)])
        try requireOneRow(db, .putGrant(g))
    }

    func removeGrant(_ g: KMSGrant, _ db: Database) throws {
        try db.execute(sql: "DELETE FROM grants WHERE account = ? AND region = ? AND key_id = ? AND grant_id = ? AND version = ?",
                       arguments: [g.account, g.region, g.keyId, g.grantId, g.storeVersion])
        try requireOneRow(db, .removeGrant(g))
    }

    /// A key's grants go with it, in the same transaction.
    func removeGrants(ofKey k: KMSKey, _ db: Database) throws {
        try db.execute(sql: "DELETE FROM grants WHERE account = ? AND region = ? AND key_id = ?", arguments: [k.account, k.region, k.keyId])
    }
}
