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
    /// 1: keys, materials, aliases, credentials. 2: also grants and IAM identities.
    /// 3: also custom key stores (issue 14).
    /// Bumped whenever a table is added; a snapshot newer than this build is refused
    /// (`check()`), as is one carrying a field this build does not know.
    public static let currentFormatVersion = 3
    public var formatVersion = StoreSnapshot.currentFormatVersion
    public var createdAt = Date().timeIntervalSince1970
    public var keys: [KeyRow] = []
    public var materials: [MaterialRow] = []
    public var aliases: [AliasRow] = []
    public var credentials: [CredentialRow] = []
    public var grants: [GrantRow] = []
    public var identities: [IdentityRow] = []
    public var customKeyStores: [CustomKeyStoreRow] = []

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

    /// A grant's row (no secret: grants are stored in the clear on both backends).
    public struct GrantRow: Codable, Sendable {
        var account, region, keyId, grantId, granteePrincipal: String; var retiringPrincipal: String?
        var grantData: String; var version: Int64
    }
    /// An IAM entity's row; an access key's secret stays sealed under the root key.
    public struct IdentityRow: Codable, Sendable {
        var account, kind, name, uniqueId, document: String; var sealedSecret: Data?; var version: Int64
    }

    /// A custom key store's row; its secret (XKS proxy secret key or token PIN) stays sealed.
    public struct CustomKeyStoreRow: Codable, Sendable {
        var account, region, id, name, document: String; var sealedSecret: Data; var version: Int64
    }

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case format, formatVersion, createdAt, keys, materials, aliases, credentials, grants, identities, customKeyStores
    }

    /// Tables absent from an older format are empty.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        format = try c.decode(String.self, forKey: .format)
        formatVersion = try c.decode(Int.self, forKey: .formatVersion)
        createdAt = try c.decodeIfPresent(Double.self, forKey: .createdAt) ?? 0
        keys = try c.decodeIfPresent([KeyRow].self, forKey: .keys) ?? []
        materials = try c.decodeIfPresent([MaterialRow].self, forKey: .materials) ?? []
        aliases = try c.decodeIfPresent([AliasRow].self, forKey: .aliases) ?? []
        credentials = try c.decodeIfPresent([CredentialRow].self, forKey: .credentials) ?? []
        grants = try c.decodeIfPresent([GrantRow].self, forKey: .grants) ?? []
        identities = try c.decodeIfPresent([IdentityRow].self, forKey: .identities) ?? []
        customKeyStores = try c.decodeIfPresent([CustomKeyStoreRow].self, forKey: .customKeyStores) ?? []
    }

    public struct Unreadable: Error, CustomStringConvertible {
        public let description: String
    }

    /// Reads a snapshot file's bytes. Refused: another format, a format version newer than
    /// this build, or any top-level field this build does not know (a table it would drop).
    public static func decode(_ data: Data) throws -> StoreSnapshot {
        guard let top = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              top["format"] as? String == format, let version = top["formatVersion"] as? Int else {
            throw Unreadable(description: "not a kms store snapshot")
        }
        guard version >= 1 && version <= currentFormatVersion else {
            throw Unreadable(description: "the snapshot has format version \(version), newer than this kms reads "
                             + "(\(currentFormatVersion)): restore it with the kms that made it, or a newer one")
        }
        let known = Set(CodingKeys.allCases.map(\.rawValue))
        if let unknown = top.keys.filter({ !known.contains($0) }).sorted().first {
            throw Unreadable(description: "the snapshot carries '\(unknown)', which this kms does not know: "
                             + "restoring would drop it; use the kms that made it, or a newer one")
        }
        return try JSONDecoder().decode(StoreSnapshot.self, from: data)
    }

    public var summary: String {
        "\(keys.count) key(s), \(materials.count) material version(s), \(aliases.count) alias(es), \(credentials.count) credential(s), "
            + "\(grants.count) grant(s), \(identities.count) IAM identit\(identities.count == 1 ? "y" : "ies")"
            + ", \(customKeyStores.count) custom key store(s)"
    }

    /// Every sealed secret must open under `rootKey` (in memory, then dropped): a snapshot
    /// made under another root key is refused before anything is written.
    public func verifySealed(under rootKey: RootKey) throws {
        for m in materials {
            _ = try rootKey.open([UInt8](m.sealed), context: SealingContext.material(m.account, m.region, m.keyId, UInt32(truncatingIfNeeded: m.version)))
        }
        for c in credentials { _ = try rootKey.open([UInt8](c.sealedSecret), context: SealingContext.credential(c.accessKeyId)) }
        for i in identities {
            guard let sealed = i.sealedSecret else { continue }
            _ = try rootKey.open([UInt8](sealed), context: SealingContext.identitySecret(i.account, i.kind, i.name))
        }
        for s in customKeyStores {
            _ = try rootKey.open([UInt8](s.sealedSecret), context: StoredCustomKeyStore.sealingContext(s.account, s.region, s.id))
        }
    }
}

/// Stores that can be copied row for row.
public protocol SnapshotStore: Sendable {
    func snapshot() throws -> StoreSnapshot
    /// Writes every row of `snapshot` in one transaction; refused unless the store is empty.
    func restore(_ snapshot: StoreSnapshot) throws
}

extension StoreSnapshot {
    /// Every table a snapshot carries; restore requires each to be empty.
    static let tables = ["keys", "key_materials", "aliases", "credentials", "grants", "iam_identities", "custom_key_stores"]
    static let customKeyStoreColumns = "account, region, id, name, document, sealed_secret, version"
    static let grantColumns = "account, region, key_id, grant_id, grantee_principal, retiring_principal, grant_data, version"
    static let identityColumns = "account, kind, name, unique_id, document, sealed_secret, version"
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
            s.grants = try Row.fetchAll(db, sql: "SELECT \(StoreSnapshot.grantColumns) FROM grants ORDER BY account, region, key_id, grant_id").map {
                .init(account: $0[0], region: $0[1], keyId: $0[2], grantId: $0[3], granteePrincipal: $0[4], retiringPrincipal: $0[5],
                      grantData: $0[6], version: $0[7])
            }
            s.identities = try Row.fetchAll(db, sql: "SELECT \(StoreSnapshot.identityColumns) FROM iam_identities ORDER BY account, kind, name").map {
                .init(account: $0[0], kind: $0[1], name: $0[2], uniqueId: $0[3], document: $0[4], sealedSecret: $0[5], version: $0[6])
            }
            s.customKeyStores = try Row.fetchAll(db, sql: "SELECT \(StoreSnapshot.customKeyStoreColumns) FROM custom_key_stores ORDER BY account, region, id").map {
                .init(account: $0[0], region: $0[1], id: $0[2], name: $0[3], document: $0[4], sealedSecret: $0[5], version: $0[6])
            }
            return s
        }
    }

    public func restore(_ s: StoreSnapshot) throws {
        try db.write { db in
            for table in StoreSnapshot.tables {
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
            for g in s.grants {
                try db.execute(sql: "INSERT INTO grants (\(StoreSnapshot.grantColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                               arguments: [g.account, g.region, g.keyId, g.grantId, g.granteePrincipal, g.retiringPrincipal, g.grantData, g.version])
            }
            for i in s.identities {
                try db.execute(sql: "INSERT INTO iam_identities (\(StoreSnapshot.identityColumns)) VALUES (?, ?, ?, ?, ?, ?, ?)",
                               arguments: [i.account, i.kind, i.name, i.uniqueId, i.document, i.sealedSecret, i.version])
            }
            for c in s.customKeyStores {
                try db.execute(sql: "INSERT INTO custom_key_stores (\(StoreSnapshot.customKeyStoreColumns)) VALUES (?, ?, ?, ?, ?, ?, ?)",
                               arguments: [c.account, c.region, c.id, c.name, c.document, c.sealedSecret, c.version])
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
                    for row in try await conn.query(PostgresQuery(unsafeSQL: "SELECT \(StoreSnapshot.grantColumns) FROM grants ORDER BY account, region, key_id, grant_id"), logger: logger).collect() {
                        let (a, r, k, g, grantee, retiring, data, v) = try row.decode((String, String, String, String, String, String?, String, Int64).self)
                        s.grants.append(.init(account: a, region: r, keyId: k, grantId: g, granteePrincipal: grantee, retiringPrincipal: retiring,
                                              grantData: data, version: v))
                    }
                    for row in try await conn.query(PostgresQuery(unsafeSQL: "SELECT \(StoreSnapshot.identityColumns) FROM iam_identities ORDER BY account, kind, name"), logger: logger).collect() {
                        let (a, kind, name, id, doc, sealed, v) = try row.decode((String, String, String, String, String, Data?, Int64).self)
                        s.identities.append(.init(account: a, kind: kind, name: name, uniqueId: id, document: doc, sealedSecret: sealed, version: v))
                    }
                    for row in try await conn.query(PostgresQuery(unsafeSQL: "SELECT \(StoreSnapshot.customKeyStoreColumns) FROM custom_key_stores ORDER BY account, region, id"), logger: logger).collect() {
                        let (a, r, id, name, doc, sealed, v) = try row.decode((String, String, String, String, String, Data, Int64).self)
                        s.customKeyStores.append(.init(account: a, region: r, id: id, name: name, document: doc, sealedSecret: sealed, version: v))
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
                for table in StoreSnapshot.tables {
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
                for g in s.grants {
                    try await conn.query("""
                        INSERT INTO grants (account, region, key_id, grant_id, grantee_principal, retiring_principal, grant_data, version)
                        VALUES (\(g.account), \(g.region), \(g.keyId), \(g.grantId), \(g.granteePrincipal), \(g.retiringPrincipal), \(g.grantData), \(g.version))
                        """, logger: logger)
                }
                for i in s.identities {
                    try await conn.query("""
                        INSERT INTO iam_identities (account, kind, name, unique_id, document, sealed_secret, version)
                        VALUES (\(i.account), \(i.kind), \(i.name), \(i.uniqueId), \(i.document), \(i.sealedSecret), \(i.version))
                        """, logger: logger)
                }
                for c in s.customKeyStores {
                    try await conn.query("""
                        INSERT INTO custom_key_stores (account, region, id, name, document, sealed_secret, version)
                        VALUES (\(c.account), \(c.region), \(c.id), \(c.name), \(c.document), \(c.sealedSecret), \(c.version))
                        """, logger: logger)
                }
            }
        }
    }
}
