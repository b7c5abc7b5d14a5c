import Foundation
import GRDB
import KMSCore

/// The embedded default store: SQLite through GRDB, WAL journal, versioned migrations.
/// Key material and credential secrets are sealed under the root key before they are written.
public final class SQLiteKeyStore: KeyStore, CredentialStore, @unchecked Sendable {
    let db: DatabaseQueue
    let rootKey: RootKey

    public init(path: String, rootKey: RootKey) throws {
        var config = Configuration()
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            // Key material must survive power loss once CreateKey has answered.
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // Deleted rows (sealed key material) are overwritten with zeros, in the database
            // pages and in the WAL frames that carry them, not just unlinked from the b-tree.
            // (Debian compiles SQLite with this as the default; other builds do not.)
            try db.execute(sql: "PRAGMA secure_delete = ON")
        }
        db = try DatabaseQueue(path: path, configuration: config)
        self.rootKey = rootKey
        try Self.migrator.migrate(db)
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE keys (
                    account TEXT NOT NULL, region TEXT NOT NULL, key_id TEXT NOT NULL,
                    metadata TEXT NOT NULL,
                    PRIMARY KEY (account, region, key_id));
                CREATE TABLE key_materials (
                    account TEXT NOT NULL, region TEXT NOT NULL, key_id TEXT NOT NULL, version INTEGER NOT NULL,
                    material_id TEXT NOT NULL, created_at DOUBLE NOT NULL, sealed BLOB NOT NULL,
                    PRIMARY KEY (account, region, key_id, version));
                CREATE TABLE aliases (
                    account TEXT NOT NULL, region TEXT NOT NULL, alias_name TEXT NOT NULL,
                    target_key_id TEXT NOT NULL, creation_date DOUBLE NOT NULL, last_updated_date DOUBLE NOT NULL,
                    PRIMARY KEY (account, region, alias_name));
                CREATE TABLE credentials (
                    access_key_id TEXT PRIMARY KEY, account TEXT NOT NULL, principal_arn TEXT NOT NULL,
                    sealed_secret BLOB NOT NULL, created_at DOUBLE NOT NULL);
                """)
        }
        return m
    }

    static func materialContext(_ account: String, _ region: String, _ keyId: String, _ version: UInt32) -> String {
        "key-material|\(account)|\(region)|\(keyId)|\(version)"
    }

    public func loadKeys() throws -> [KMSKey] {
        try db.read { db in
            var materials: [String: [(UInt32, [UInt8], String, Double)]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT * FROM key_materials ORDER BY version") {
                let account: String = row["account"], region: String = row["region"], keyId: String = row["key_id"]
                let version = UInt32(truncatingIfNeeded: row["version"] as Int64)
                let sealed: Data = row["sealed"]
                let secret = try rootKey.open([UInt8](sealed), context: Self.materialContext(account, region, keyId, version))
                materials[account + "|" + region + "|" + keyId, default: []].append((version, secret, row["material_id"], row["created_at"]))
            }
            return try Row.fetchAll(db, sql: "SELECT * FROM keys").map { row in
                let stored = try JSONDecoder().decode(StoredKeyMetadata.self, from: Data((row["metadata"] as String).utf8))
                let ref = (row["account"] as String) + "|" + (row["region"] as String) + "|" + (row["key_id"] as String)
                // Asymmetric private keys are parsed once here, so the hot path never parses.
                let parsed = try (materials[ref] ?? []).map {
                    try KeyMaterial(keySpec: stored.keySpec, version: $0.0, secret: $0.1, materialId: $0.2, createdAt: $0.3)
                }
                return stored.key(materials: parsed)
            }
        }
    }

    public func loadAliases() throws -> [Alias] {
        try db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM aliases").map { row in
                Alias(aliasName: row["alias_name"], account: row["account"], region: row["region"],
                      targetKeyId: row["target_key_id"], creationDate: row["creation_date"], lastUpdatedDate: row["last_updated_date"])
            }
        }
    }

    public func apply(_ changes: [StoreChange]) throws {
        try write(changes)
        if changes.contains(where: { if case .removeKey = $0 { true } else { false } }) {
            // The deletion is committed either way; a checkpoint that fails (it cannot while
            // this store is the only connection) is retried by the next deletion.
            try? scrubDeletedMaterial()
        }
    }

    /// Once key material is deleted no copy of its sealed row may stay on disk: the WAL
    /// still holds the frames that inserted it (and, until checkpointed, the zeroed pages
    /// that replace it). A TRUNCATE checkpoint copies the zeroed pages into the database
    /// file and cuts the WAL to zero bytes. Deletions are rare (the sweep), so the cost is too.
    func scrubDeletedMaterial() throws {
        try db.writeWithoutTransaction { db in
            _ = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)")
        }
    }

    private func write(_ changes: [StoreChange]) throws {
        try db.write { db in
            for change in changes {
                switch change {
                case .putKey(let key): try put(key, db)
                case .removeKey(let account, let region, let keyId):
                    try db.execute(sql: "DELETE FROM keys WHERE account = ? AND region = ? AND key_id = ?", arguments: [account, region, keyId])
                    try db.execute(sql: "DELETE FROM key_materials WHERE account = ? AND region = ? AND key_id = ?", arguments: [account, region, keyId])
                case .putAlias(let a):
                    try db.execute(sql: """
                        INSERT INTO aliases (account, region, alias_name, target_key_id, creation_date, last_updated_date)
                        VALUES (?, ?, ?, ?, ?, ?)
                        ON CONFLICT (account, region, alias_name) DO UPDATE SET
                            target_key_id = excluded.target_key_id, last_updated_date = excluded.last_updated_date
                        """, arguments: [a.account, a.region, a.aliasName, a.targetKeyId, a.creationDate, a.lastUpdatedDate])
                case .removeAlias(let account, let region, let name):
                    try db.execute(sql: "DELETE FROM aliases WHERE account = ? AND region = ? AND alias_name = ?", arguments: [account, region, name])
                }
            }
        }
    }

    func put(_ key: KMSKey, _ db: Database) throws {
        let metadata = String(decoding: try JSONEncoder().encode(StoredKeyMetadata(key)), as: UTF8.self)
        try db.execute(sql: """
            INSERT INTO keys (account, region, key_id, metadata) VALUES (?, ?, ?, ?)
            ON CONFLICT (account, region, key_id) DO UPDATE SET metadata = excluded.metadata
            """, arguments: [key.account, key.region, key.keyId, metadata])
        // Material versions are immutable once written; only new versions are inserted.
        for m in key.materials {
            let sealed = try rootKey.seal(m.secret, context: Self.materialContext(key.account, key.region, key.keyId, m.version))
            try db.execute(sql: """
                INSERT INTO key_materials (account, region, key_id, version, material_id, created_at, sealed)
                VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                """, arguments: [key.account, key.region, key.keyId, Int64(m.version), m.materialId, m.createdAt, Data(sealed)])
        }
    }

    // MARK: CredentialStore

    public func loadCredentials() throws -> [StoredCredential] {
        try db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM credentials").map { row in
                let id: String = row["access_key_id"]
                let sealed: Data = row["sealed_secret"]
                let secret = try rootKey.open([UInt8](sealed), context: "credential|" + id)
                return StoredCredential(accessKeyId: id, secretAccessKey: String(decoding: secret, as: UTF8.self),
                                        account: row["account"], principalArn: row["principal_arn"])
            }
        }
    }

    public func saveCredential(_ c: StoredCredential) throws {
        let sealed = try rootKey.seal(Array(c.secretAccessKey.utf8), context: "credential|" + c.accessKeyId)
        try db.write { db in
            try db.execute(sql: """
                INSERT INTO credentials (access_key_id, account, principal_arn, sealed_secret, created_at) VALUES (?, ?, ?, ?, ?)
                """, arguments: [c.accessKeyId, c.account, c.principalArn, Data(sealed), Date().timeIntervalSince1970])
        }
    }
}

/// The non-secret fields of a key, stored as JSON so new fields need no column migrations.
struct StoredKeyMetadata: Codable {
    var keyId, account, region: String
    var creationDate: Double
    var description, origin, keyManager: String
    var keyUsage: KeyUsage
    var keySpec: KeySpec
    var keyState: KeyState
    var deletionDate: Double?
    var pendingWindowInDays: Int?
    var policy: String
    var tags: [Tag]

    init(_ k: KMSKey) {
        keyId = k.keyId; account = k.account; region = k.region; creationDate = k.creationDate
        description = k.description; keyUsage = k.keyUsage; keySpec = k.keySpec; origin = k.origin
        keyManager = k.keyManager; keyState = k.keyState; deletionDate = k.deletionDate
        pendingWindowInDays = k.pendingWindowInDays; policy = k.policy; tags = k.tags
    }

    func key(materials: [KeyMaterial]) -> KMSKey {
        KMSKey(keyId: keyId, account: account, region: region, creationDate: creationDate, description: description,
               keyUsage: keyUsage, keySpec: keySpec, origin: origin, keyManager: keyManager, keyState: keyState,
               deletionDate: deletionDate, pendingWindowInDays: pendingWindowInDays, policy: policy, tags: tags,
               materials: materials)
    }
}
