import Foundation
import GRDB
import KMSCore

/// The embedded default store: SQLite through GRDB, WAL journal, versioned migrations.
/// Key material and credential secrets are sealed under the root key before they are written.
/// Writes are conditional on each row's version (see `StoreChange`); several processes may
/// share the file: IMMEDIATE transactions and a busy timeout serialize them.
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
        // Another process holding the write lock makes us wait, not fail.
        config.busyMode = .timeout(30)
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
        // Optimistic concurrency: every key and alias row carries the version its writer based it on.
        m.registerMigration("v2-row-versions") { db in
            try db.execute(sql: """
                ALTER TABLE keys ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
                ALTER TABLE aliases ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
                """)
        }
        registerGrantMigration(&m)
        // IAM identities (issue 9): one row per entity, see IdentityStore.
        m.registerMigration("v3-iam-identities") { db in
            try db.execute(sql: Self.identitiesTableSQL)
        }
        // The peer link between deployments (issue 13 §3): sequences and outbox (SQLiteKeyStore+PeerLink).
        registerPeerLinkMigration(&m)
        // Custom key stores (issue 14).
        registerCustomKeyStoreMigration(&m)
        return m
    }

    static func materialContext(_ account: String, _ region: String, _ keyId: String, _ version: UInt32) -> String {
        SealingContext.material(account, region, keyId, version)
    }

    public func loadKeys() throws -> [KMSKey] {
        try db.read { db in try keys(db, where: "1 = 1", []) }
    }

    public func loadAliases() throws -> [Alias] {
        try db.read { db in try aliases(db, where: "1 = 1", []) }
    }

    public func key(account: String, region: String, keyId: String) throws -> KMSKey? {
        try db.read { db in
            try keys(db, where: "account = ? AND region = ? AND key_id = ?", [account, region, keyId]).first
        }
    }

    public func alias(account: String, region: String, aliasName: String) throws -> Alias? {
        try db.read { db in
            try aliases(db, where: "account = ? AND region = ? AND alias_name = ?", [account, region, aliasName]).first
        }
    }

    public func listKeys(account: String, region: String, after: String?, limit: Int) throws -> [KMSKey] {
        try db.read { db in
            try keys(db, where: "account = ? AND region = ? AND key_id > ? ORDER BY key_id LIMIT ?",
                     [account, region, after ?? "", max(0, limit)])
        }
    }

    public func listAliases(account: String, region: String, after: String?, limit: Int) throws -> [Alias] {
        try db.read { db in
            try aliases(db, where: "account = ? AND region = ? AND alias_name > ? ORDER BY alias_name LIMIT ?",
                        [account, region, after ?? "", max(0, limit)])
        }
    }

    /// Keys matching `condition` on the keys table, each with its unsealed material.
    func keys(_ db: Database, where condition: String, _ arguments: StatementArguments) throws -> [KMSKey] {
        let rows = try Row.fetchAll(db, sql: "SELECT * FROM keys WHERE " + condition, arguments: arguments)
        var materials: [String: [(UInt32, [UInt8], String, Double)]] = [:]
        var materialRows: [Row] = []
        if condition == "1 = 1" {
            materialRows = try Row.fetchAll(db, sql: "SELECT * FROM key_materials ORDER BY version")
        } else {
            for row in rows {
                materialRows += try Row.fetchAll(db, sql: "SELECT * FROM key_materials WHERE account = ? AND region = ? AND key_id = ? ORDER BY version",
                                                 arguments: [row["account"] as String, row["region"] as String, row["key_id"] as String])
            }
        }
        for row in materialRows {
            let account: String = row["account"], region: String = row["region"], keyId: String = row["key_id"]
            let version = UInt32(truncatingIfNeeded: row["version"] as Int64)
            let sealed: Data = row["sealed"]
            let secret = try rootKey.open([UInt8](sealed), context: Self.materialContext(account, region, keyId, version))
            materials[account + "|" + region + "|" + keyId, default: []].append((version, secret, row["material_id"], row["created_at"]))
        }
        return try rows.map { row in
            let stored = try JSONDecoder().decode(StoredKeyMetadata.self, from: Data((row["metadata"] as String).utf8))
            let ref = (row["account"] as String) + "|" + (row["region"] as String) + "|" + (row["key_id"] as String)
            // Asymmetric private keys are parsed once here, so the hot path never parses.
            let parsed = try (materials[ref] ?? []).map {
                try KeyMaterial(keySpec: stored.keySpec, version: $0.0, secret: $0.1, materialId: $0.2, createdAt: $0.3)
            }
            var key = stored.key(materials: parsed)
            key.storeVersion = row["version"]
            return key
        }
    }

    func aliases(_ db: Database, where condition: String, _ arguments: StatementArguments) throws -> [Alias] {
        try Row.fetchAll(db, sql: "SELECT * FROM aliases WHERE " + condition, arguments: arguments).map { row in
            Alias(aliasName: row["alias_name"], account: row["account"], region: row["region"],
                  targetKeyId: row["target_key_id"], creationDate: row["creation_date"], lastUpdatedDate: row["last_updated_date"],
                  storeVersion: row["version"])
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
            var queued: [NewPeerMessage] = []
            for change in changes {
                switch change {
                case .putKey(let key): try put(key, db)
                case .removeKey(let k):
                    try db.execute(sql: "DELETE FROM keys WHERE account = ? AND region = ? AND key_id = ? AND version = ?",
                                   arguments: [k.account, k.region, k.keyId, k.storeVersion])
                    try requireOneRow(db, change)
                    try db.execute(sql: "DELETE FROM key_materials WHERE account = ? AND region = ? AND key_id = ?", arguments: [k.account, k.region, k.keyId])
                    try removeGrants(ofKey: k, db)
                case .putAlias(let a):
                    if a.storeVersion == 0 {
                        try db.execute(sql: """
                            INSERT INTO aliases (account, region, alias_name, target_key_id, creation_date, last_updated_date, version)
                            VALUES (?, ?, ?, ?, ?, ?, 1) ON CONFLICT DO NOTHING
                            """, arguments: [a.account, a.region, a.aliasName, a.targetKeyId, a.creationDate, a.lastUpdatedDate])
                    } else {
                        try db.execute(sql: """
                            UPDATE aliases SET target_key_id = ?, last_updated_date = ?, version = version + 1
                            WHERE account = ? AND region = ? AND alias_name = ? AND version = ?
                            """, arguments: [a.targetKeyId, a.lastUpdatedDate, a.account, a.region, a.aliasName, a.storeVersion])
                    }
                    try requireOneRow(db, change)
                case .removeAlias(let a):
                    try db.execute(sql: "DELETE FROM aliases WHERE account = ? AND region = ? AND alias_name = ? AND version = ?",
                                   arguments: [a.account, a.region, a.aliasName, a.storeVersion])
                    try requireOneRow(db, change)
                case .putGrant(let g): try putGrant(g, db)
                case .removeGrant(let g): try removeGrant(g, db)
                case .queuePeerMessage(let m): queued.append(m)
                }
            }
            // Last, as on PostgreSQL (see StoreChange.queuePeerMessage); same transaction.
            let now = Date().timeIntervalSince1970
            for m in queued { _ = try insertPeerMessage(m, db, now: now) }
        }
    }

    /// A conditional statement touched no row: the base version moved (or the row exists already).
    func requireOneRow(_ db: Database, _ change: StoreChange) throws {
        guard db.changesCount == 1 else { throw StoreConflict(object: change.target, expectedVersion: change.expectedVersion) }
    }

    func put(_ key: KMSKey, _ db: Database) throws {
        let metadata = String(decoding: try JSONEncoder().encode(StoredKeyMetadata(key)), as: UTF8.self)
        if key.storeVersion == 0 {
            try db.execute(sql: """
                INSERT INTO keys (account, region, key_id, metadata, version) VALUES (?, ?, ?, ?, 1) ON CONFLICT DO NOTHING
                """, arguments: [key.account, key.region, key.keyId, metadata])
        } else {
            try db.execute(sql: """
                UPDATE keys SET metadata = ?, version = version + 1 WHERE account = ? AND region = ? AND key_id = ? AND version = ?
                """, arguments: [metadata, key.account, key.region, key.keyId, key.storeVersion])
        }
        try requireOneRow(db, .putKey(key))
        // Material versions are immutable once written; only new versions are inserted, and
        // one that exists with other material (or a stored one the key lacks) is a conflict.
        var stored: [UInt32: String] = [:]
        if key.storeVersion != 0 {
            for row in try Row.fetchAll(db, sql: "SELECT version, material_id FROM key_materials WHERE account = ? AND region = ? AND key_id = ?",
                                        arguments: [key.account, key.region, key.keyId]) {
                stored[UInt32(truncatingIfNeeded: row["version"] as Int64)] = row["material_id"]
            }
        }
        let plan = try MaterialPlan(key: key, stored: stored)
        for version in plan.toDelete {
            try db.execute(sql: "DELETE FROM key_materials WHERE account = ? AND region = ? AND key_id = ? AND version = ?",
                           arguments: [key.account, key.region, key.keyId, Int64(version)])
        }
        for m in plan.toInsert {
            let sealed = try rootKey.seal(m.secret, context: Self.materialContext(key.account, key.region, key.keyId, m.version))
            try db.execute(sql: """
                INSERT INTO key_materials (account, region, key_id, version, material_id, created_at, sealed)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [key.account, key.region, key.keyId, Int64(m.version), m.materialId, m.createdAt, Data(sealed)])
        }
    }

    // MARK: CredentialStore

    public func loadCredentials() throws -> [StoredCredential] {
        try db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM credentials").map { row in
                let id: String = row["access_key_id"]
                let sealed: Data = row["sealed_secret"]
                let secret = try rootKey.open([UInt8](sealed), context: SealingContext.credential(id))
                return StoredCredential(accessKeyId: id, secretAccessKey: String(decoding: secret, as: UTF8.self),
                                        account: row["account"], principalArn: row["principal_arn"])
            }
        }
    }

    public func saveCredential(_ c: StoredCredential) throws {
        let sealed = try rootKey.seal(Array(c.secretAccessKey.utf8), context: SealingContext.credential(c.accessKeyId))
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
    /// Absent in rows written before rotation existed.
    var rotation: KeyRotation?
    /// Imported material records (EXTERNAL keys); absent when there are none.
    var imports: ImportedMaterials?
    /// Multi-Region keys only (MultiRegionKey.swift); absent for regional keys.
    var multiRegion: MultiRegionConfiguration?
    /// Keys in a custom key store (issue 14); absent otherwise.
    var customKeyStoreId: String?
    var xksKeyId: String?

    init(_ k: KMSKey) {
        keyId = k.keyId; account = k.account; region = k.region; creationDate = k.creationDate
        description = k.description; keyUsage = k.keyUsage; keySpec = k.keySpec; origin = k.origin
        keyManager = k.keyManager; keyState = k.keyState; deletionDate = k.deletionDate
        pendingWindowInDays = k.pendingWindowInDays; policy = k.policy; tags = k.tags
        rotation = k.rotation == KeyRotation() ? nil : k.rotation
        imports = k.imports == ImportedMaterials() ? nil : k.imports
        multiRegion = k.multiRegion
        customKeyStoreId = k.customKeyStoreId
        xksKeyId = k.xksKeyId
    }

    func key(materials: [KeyMaterial]) -> KMSKey {
        var key = KMSKey(keyId: keyId, account: account, region: region, creationDate: creationDate, description: description,
               keyUsage: keyUsage, keySpec: keySpec, origin: origin, keyManager: keyManager, keyState: keyState,
               deletionDate: deletionDate, pendingWindowInDays: pendingWindowInDays, policy: policy, tags: tags,
               materials: materials)
        key.rotation = rotation ?? KeyRotation()
        key.imports = imports ?? ImportedMaterials()
        key.multiRegion = multiRegion
        key.customKeyStoreId = customKeyStoreId
        key.xksKeyId = xksKeyId
        return key
    }
}
