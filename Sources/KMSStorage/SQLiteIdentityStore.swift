import Foundation
import GRDB
import KMSCore

extension SQLiteKeyStore: IdentityStore {
    static let identitiesTableSQL = """
        CREATE TABLE iam_identities (
            account TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL, unique_id TEXT NOT NULL,
            document TEXT NOT NULL, sealed_secret BLOB, version INTEGER NOT NULL,
            PRIMARY KEY (account, kind, name));
        CREATE UNIQUE INDEX iam_identities_unique_id ON iam_identities (unique_id);
        """

    public func loadIdentities() throws -> [IdentityRecord] {
        try db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM iam_identities ORDER BY account, kind, name").map { row in
                let account: String = row["account"], kindName: String = row["kind"], name: String = row["name"]
                guard let kind = IdentityKind(rawValue: kindName) else { throw StorageError("unknown identity kind \(kindName)") }
                var secret: [UInt8]?
                if let sealed = row["sealed_secret"] as Data? {
                    secret = try rootKey.open([UInt8](sealed), context: SealingContext.identitySecret(account, kindName, name))
                }
                return IdentityRecord(account: account, kind: kind, name: name, uniqueId: row["unique_id"],
                                      document: row["document"], secret: secret, storeVersion: row["version"])
            }
        }
    }

    public func applyIdentities(_ changes: [IdentityChange]) throws {
        var removedSecret = false
        try db.write { db in
            for change in changes {
                let r = change.record
                switch change {
                case .put(let r):
                    let sealed = try r.secret.map {
                        Data(try rootKey.seal($0, context: SealingContext.identitySecret(r.account, r.kind.rawValue, r.name)))
                    }
                    if r.storeVersion == 0 {
                        try db.execute(sql: """
                            INSERT INTO iam_identities (account, kind, name, unique_id, document, sealed_secret, version)
                            VALUES (?, ?, ?, ?, ?, ?, 1) ON CONFLICT DO NOTHING
                            """, arguments: [r.account, r.kind.rawValue, r.name, r.uniqueId, r.document, sealed])
                    } else {
                        // The secret of a stored row never changes: only the document does.
                        try db.execute(sql: """
                            UPDATE iam_identities SET document = ?, version = version + 1
                            WHERE account = ? AND kind = ? AND name = ? AND version = ?
                            """, arguments: [r.document, r.account, r.kind.rawValue, r.name, r.storeVersion])
                    }
                case .remove:
                    removedSecret = removedSecret || r.kind == .accessKey
                    try db.execute(sql: "DELETE FROM iam_identities WHERE account = ? AND kind = ? AND name = ? AND version = ?",
                                   arguments: [r.account, r.kind.rawValue, r.name, r.storeVersion])
                }
                guard db.changesCount == 1 else { throw StoreConflict(object: r.object, expectedVersion: r.storeVersion) }
            }
        }
        // A deleted access key's sealed secret must not linger in the WAL (as for key material).
        if removedSecret { try? scrubDeletedMaterial() }
    }
}
