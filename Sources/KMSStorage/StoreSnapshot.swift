import Foundation
import GRDB
import KMSCore
import PostgresNIO

/// A whole store as its rows, secrets still sealed under the root key: what `kms backup`
/// writes, `kms restore` reads and `kms migrate` carries from SQLite to PostgreSQL. The
/// sealing AAD names the account, region, key and version, not the backend, so a sealed
/// row moves between backends unchanged; nothing is unsealed on the way (restore only
/// test-opens each secret in memory to refuse a snapshot made under another root key).
/// Rows are read in one transaction (SQLite: one read; PostgreSQL: REPEATABLE READ), so
/// the snapshot is consistent while the servers keep running.
public struct StoreSnapshot: Codable, Sendable {
    public static let format = "kms-store-snapshot"
    public var format = StoreSnapshot.format
    public var formatVersion = 1
    public var createdAt = Date().timeIntervalSince1970
    public var keys: [KeyRow] = []
    public var materials: [MaterialRow] = []
    public var aliases: [AliasRow] = []
    public var credentials: [CredentialRow] = []

    public struct KeyRow: Codable, Sendable { var account, region, keyId, metadata: String; var version: Int64 }
    public struct MaterialRow: Codable, Sendable {
        var account, region, keyId: String; var version: Int64; var materialId: String; var createdAt: Double; var sealed: Data
    }
    public struct AliasRow: Codable, Sendable {
        var account, region, aliasName, targetKeyId: String; var creationDate, lastUpdatedDate: Double; var version: Int64
    }
    public struct CredentialRow: Codable, Sendable {
        var accessKeyId, account, principalArn: String; var sealedSecret: Data; var createdAt: Double
    }

    public init() {}

    public var summary: String {
        "\(keys.count) key(s), \(materials.count) material version(s), \(aliases.count) alias(es), \(credentials.count) credential(s)"
    }

    /// Every sealed secret must open under `rootKey` (in memory, then dropped): a snapshot
    /// made under another root key is refused before anything is written.
    public func verifySealed(under rootKey: RootKey) throws {
        for m in materials {
            _ = try rootKey.open([UInt8](m.sealed), context: SealingContext.material(m.account, m.region, m.keyId, UInt32(truncatingIfNeeded: m.version)))
        }
        for c in credentials { _ = try rootKey.open([UInt8](c.sealedSecret), context: SealingContext.credential(c.accessKeyId)) }
    }
}

/// Stores that can be copied row for row.
public protocol SnapshotStore: Sendable {
    func snapshot() throws -> StoreSnapshot
    /// Writes every row of `snapshot` in one transaction; refused unless the store is empty.
    func restore(_ snapshot: StoreSnapshot) throws
}

struct NotEmpty: Error, CustomStringConvertible {
    var description: String { "the target store is not empty: restore only into an empty store (a new database or data dir)" }
}

extension SQLiteKeyStore: SnapshotStore {
    public func snapshot() throws -> StoreSnapshot {
        try db.read { db in
            var s = StoreSnapshot()
            s.keys = try Row.fetchAll(db, sql: "SELECT account, region, key_id, metadata, version FROM keys ORDER BY account, region, key_id").map {
                .init(account: $0[0], region: $0[1], keyId: $0[2], metadata: $0[3], version: $0[4])
            }
            s.materials = try Row.fetchAll(db, sql: "SELECT account, region, key_id, version, material_id, created_at, sealed FROM key_materials ORDER BY account, region, key_id, version").map {
                .init(account: $0[0], region: $0[1], keyId: $0[2], version: $0[3], materialId: $0[4], createdAt: $0[5], sealed: $0[6])
            }
            s.aliases = try Row.fetchAll(db, sql: "SELECT account, region, alias_name, target_key_id, creation_date, last_updated_date, version FROM aliases ORDER BY account, region, alias_name").map {
                .init(account: $0[0], region: $0[1], aliasName: $0[2], targetKeyId: $0[3], creationDate: $0[4], lastUpdatedDate: $0[5], version: $0[6])
            }
            s.credentials = try Row.fetchAll(db, sql: "SELECT access_key_id, account, principal_arn, sealed_secret, created_at FROM credentials ORDER BY access_key_id").map {
                .init(accessKeyId: $0[0], account: $0[1], principalArn: $0[2], sealedSecret: $0[3], createdAt: $0[4])
            }
            return s
        }
    }

    public func restore(_ s: StoreSnapshot) throws {
        try db.write { db in
            for table in ["keys", "key_materials", "aliases", "credentials"] {
                guard try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table)") == 0 else { throw NotEmpty() }
            }
            for k in s.keys {
                try db.execute(sql: "INSERT INTO keys (account, region, key_id, metadata, version) VALUES (?, ?, ?, ?, ?)",
                               arguments: [k.account, k.region, k.keyId, k.metadata, k.version])
            }
            for m in s.materials {
                try db.execute(sql: "INSERT INTO key_materials (account, region, key_id, version, material_id, created_at, sealed) VALUES (?, ?, ?, ?, ?, ?, ?)",
                               arguments: [m.account, m.region, m.keyId, m.version, m.materialId, m.createdAt, m.sealed])
            }
            for a in s.aliases {
                try db.execute(sql: "INSERT INTO aliases (account, region, alias_name, target_key_id, creation_date, last_updated_date, version) VALUES (?, ?, ?, ?, ?, ?, ?)",
                               arguments: [a.account, a.region, a.aliasName, a.targetKeyId, a.creationDate, a.lastUpdatedDate, a.version])
            }
            for c in s.credentials {
                try db.execute(sql: "INSERT INTO credentials (access_key_id, account, principal_arn, sealed_secret, created_at) VALUES (?, ?, ?, ?, ?)",
                               arguments: [c.accessKeyId, c.account, c.principalArn, c.sealedSecret, c.createdAt])
            }
        }
    }
}

extension PostgresKeyStore: SnapshotStore {
    public func snapshot() throws -> StoreSnapshot {
        try wait { [client, logger] in
            try await client.withConnection { conn in
                // One snapshot for every table: rows committed meanwhile are not half-seen.
                try await conn.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
                do {
                    var s = StoreSnapshot()
                    for row in try await conn.query("SELECT account, region, key_id, metadata, version FROM keys ORDER BY account, region, key_id", logger: logger).collect() {
                        let (a, r, k, m, v) = try row.decode((String, String, String, String, Int64).self)
                        s.keys.append(.init(account: a, region: r, keyId: k, metadata: m, version: v))
                    }
                    for row in try await conn.query("SELECT account, region, key_id, version, material_id, created_at, sealed FROM key_materials ORDER BY account, region, key_id, version", logger: logger).collect() {
                        let (a, r, k, v, id, at, sealed) = try row.decode((String, String, String, Int64, String, Double, Data).self)
                        s.materials.append(.init(account: a, region: r, keyId: k, version: v, materialId: id, createdAt: at, sealed: sealed))
                    }
                    for row in try await conn.query("SELECT account, region, alias_name, target_key_id, creation_date, last_updated_date, version FROM aliases ORDER BY account, region, alias_name", logger: logger).collect() {
                        let (a, r, n, t, c, u, v) = try row.decode((String, String, String, String, Double, Double, Int64).self)
                        s.aliases.append(.init(account: a, region: r, aliasName: n, targetKeyId: t, creationDate: c, lastUpdatedDate: u, version: v))
                    }
                    for row in try await conn.query("SELECT access_key_id, account, principal_arn, sealed_secret, created_at FROM credentials ORDER BY access_key_id", logger: logger).collect() {
                        let (id, a, p, sealed, at) = try row.decode((String, String, String, Data, Double).self)
                        s.credentials.append(.init(accessKeyId: id, account: a, principalArn: p, sealedSecret: sealed, createdAt: at))
                    }
                    try await conn.query("COMMIT", logger: logger)
                    return s
                } catch {
                    _ = try? await conn.query("ROLLBACK", logger: logger)
                    throw error
                }
            }
        }
    }

    public func restore(_ s: StoreSnapshot) throws {
        try wait { [client, logger] in
            try await client.withTransaction(logger: logger) { conn in
                for table in ["keys", "key_materials", "aliases", "credentials"] {
                    let n = try await conn.query(PostgresQuery(unsafeSQL: "SELECT count(*)::int8 FROM \(table)"), logger: logger)
                        .collect().first?.decode(Int64.self) ?? 0
                    guard n == 0 else { throw NotEmpty() }
                }
                for k in s.keys {
                    try await conn.query("INSERT INTO keys (account, region, key_id, metadata, version) VALUES (\(k.account), \(k.region), \(k.keyId), \(k.metadata), \(k.version))", logger: logger)
                }
                for m in s.materials {
                    try await conn.query("""
                        INSERT INTO key_materials (account, region, key_id, version, material_id, created_at, sealed)
                        VALUES (\(m.account), \(m.region), \(m.keyId), \(m.version), \(m.materialId), \(m.createdAt), \(m.sealed))
                        """, logger: logger)
                }
                for a in s.aliases {
                    try await conn.query("""
                        INSERT INTO aliases (account, region, alias_name, target_key_id, creation_date, last_updated_date, version)
                        VALUES (\(a.account), \(a.region), \(a.aliasName), \(a.targetKeyId), \(a.creationDate), \(a.lastUpdatedDate), \(a.version))
                        """, logger: logger)
                }
                for c in s.credentials {
                    try await conn.query("""
                        INSERT INTO credentials (access_key_id, account, principal_arn, sealed_secret, created_at)
                        VALUES (\(c.accessKeyId), \(c.account), \(c.principalArn), \(c.sealedSecret), \(c.createdAt))
                        """, logger: logger)
                }
            }
        }
    }
}
