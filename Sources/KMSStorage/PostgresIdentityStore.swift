import Foundation
import KMSCore
import PostgresNIO

extension PostgresKeyStore: IdentityStore {
    public func loadIdentities() throws -> [IdentityRecord] {
        let rows = try wait { [client, logger] in
            try await client.query("""
                SELECT account, kind, name, unique_id, document, sealed_secret, version FROM iam_identities ORDER BY account, kind, name
                """, logger: logger).collect()
        }
        return try rows.map(identityRecord)
    }

    func identityRecord(_ row: PostgresRow) throws -> IdentityRecord {
        let (account, kindName, name, uniqueId, document, sealed, version) =
            try row.decode((String, String, String, String, String, Data?, Int64).self)
        guard let kind = IdentityKind(rawValue: kindName) else { throw StorageError("unknown identity kind \(kindName)") }
        let secret = try sealed.map { try rootKey.open([UInt8]($0), context: SealingContext.identitySecret(account, kindName, name)) }
        return IdentityRecord(account: account, kind: kind, name: name, uniqueId: uniqueId, document: document,
                              secret: secret, storeVersion: version)
    }

    public func loadIdentities(account: String) throws -> [IdentityRecord] {
        let rows = try wait { [client, logger] in
            try await client.query("""
                SELECT account, kind, name, unique_id, document, sealed_secret, version FROM iam_identities
                WHERE account = \(account) ORDER BY kind, name
                """, logger: logger).collect()
        }
        return try rows.map(identityRecord)
    }

    /// By the unique index (an access key's unique ID is its access key ID).
    public func account(ofAccessKey accessKeyId: String) throws -> String? {
        let rows = try wait { [client, logger] in
            try await client.query("""
                SELECT account FROM iam_identities WHERE unique_id = \(accessKeyId) AND kind = 'access-key'
                """, logger: logger).collect()
        }
        return try rows.first?.decode(String.self)
    }

    public func applyIdentities(_ changes: [IdentityChange]) throws {
        // Sealed before the transaction: sealing needs no database.
        var sealed: [Data?] = []
        for change in changes {
            let r = change.record
            if case .put = change, let secret = r.secret, r.storeVersion == 0 {
                sealed.append(Data(try rootKey.seal(secret, context: SealingContext.identitySecret(r.account, r.kind.rawValue, r.name))))
            } else {
                sealed.append(nil)
            }
        }
        let batch = changes, seals = sealed
        try wait { [client, logger] in
            try await client.withTransaction(logger: logger) { conn in
                for (i, change) in batch.enumerated() {
                    let r = change.record
                    let conflict = StoreConflict(object: r.object, expectedVersion: r.storeVersion)
                    let kind = r.kind.rawValue
                    let rows: Int
                    switch change {
                    case .put where r.storeVersion == 0:
                        let secret = seals[i]
                        rows = try await conn.query("""
                            INSERT INTO iam_identities (account, kind, name, unique_id, document, sealed_secret, version)
                            VALUES (\(r.account), \(kind), \(r.name), \(r.uniqueId), \(r.document), \(secret), 1)
                            ON CONFLICT DO NOTHING RETURNING version
                            """, logger: logger).collect().count
                    case .put:
                        rows = try await conn.query("""
                            UPDATE iam_identities SET document = \(r.document), version = version + 1
                            WHERE account = \(r.account) AND kind = \(kind) AND name = \(r.name) AND version = \(r.storeVersion)
                            RETURNING version
                            """, logger: logger).collect().count
                    case .remove:
                        rows = try await conn.query("""
                            DELETE FROM iam_identities
                            WHERE account = \(r.account) AND kind = \(kind) AND name = \(r.name) AND version = \(r.storeVersion)
                            RETURNING version
                            """, logger: logger).collect().count
                    }
                    guard rows == 1 else { throw conflict }
                }
            }
        }
    }
}
