import Foundation
import GRDB
import KMSCore
import PostgresNIO

/// What `kms admin` needs beyond `CredentialStore`: removing a root credential
/// (deactivation; a rotation adds the new one first). Both backends.
public protocol CredentialAdministration: Sendable {
    /// Removes the credential; false when there was none with that ID.
    func deleteCredential(accessKeyId: String) throws -> Bool
}

extension SQLiteKeyStore: CredentialAdministration {
    public func deleteCredential(accessKeyId: String) throws -> Bool {
        let removed = try db.write { db in
            try db.execute(sql: "DELETE FROM credentials WHERE access_key_id = ?", arguments: [accessKeyId])
            return db.changesCount == 1
        }
        // The sealed secret must not stay in the WAL.
        if removed { try? scrubDeletedMaterial() }
        return removed
    }
}

extension PostgresKeyStore: CredentialAdministration {
    public func deleteCredential(accessKeyId: String) throws -> Bool {
        try wait { [client, logger] in
            try await client.query("DELETE FROM credentials WHERE access_key_id = \(accessKeyId) RETURNING access_key_id",
                                   logger: logger).collect().count == 1
        }
    }
}
