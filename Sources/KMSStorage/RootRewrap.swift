import Foundation
import GRDB
import KMSCore

/// `kms admin rewrap`: moves a data dir (SQLite store) from one root to another. Every sealed
/// column is opened under the old root and sealed under the new one inside ONE SQLite write
/// transaction, so the store is all-old or all-new; plaintext only ever lives in memory. The
/// derivation key moves unchanged (sealed under the new root), so grant, session and import
/// tokens and the audit digest key stay valid. A new sealed column must be listed here
/// (key materials, credentials, IAM secrets, custom key store secrets, the peer outbox).
public enum RootRewrap {
    public struct Summary: Sendable, Equatable {
        public var keyMaterials = 0
        public var credentials = 0
        public var identitySecrets = 0
    }

    /// Re-seals `sqlitePath` (the data dir's store) from `from` to `to` and replaces the root
    /// record. The new record is written beside the old first (root-of-trust.json.rewrap), so a
    /// crash after the commit leaves it for the operator to move into place.
    public static func run(dataDirectory: String, sqlitePath: String, from: RootOfTrust, to: RootOfTrust) throws -> Summary {
        guard from.kind != to.kind || from.description != to.description else {
            throw StorageError("--from and --to name the same root.")
        }
        guard FileManager.default.fileExists(atPath: sqlitePath) else { throw StorageError("No store at \(sqlitePath).") }
        let old = try from.open(dataDirectory: dataDirectory)
        // The new root is opened in a scratch directory: its record (and a new root.key or KMS
        // blob) must not appear in the data dir before the store has moved.
        let scratch = dataDirectory + "/.rewrap-\(getpid())"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: false,
                                                attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let (fresh, scrypt) = try to.sealingRoot(dataDirectory: scratch, record: nil)
        let made = try fresh.withNewRecord(kind: to.kind, description: to.description, scrypt: scrypt,
                                           derivationKey: old.derivationKeyBytes)
        let new = made.root
        let pending = RootRecord.path(dataDirectory: dataDirectory) + ".rewrap"
        unlink(pending)
        try made.record.save(dataDirectory: dataDirectory + "/.rewrap-\(getpid())")
        guard rename(RootRecord.path(dataDirectory: scratch), pending) == 0 else {
            throw StorageError("Cannot write \(pending): \(String(cString: strerror(errno)))")
        }
        // A KMS root's new blob moves beside the store with the record.
        let blob = RootOfTrust.kmsBlobPath(dataDirectory: scratch)
        let pendingBlob = RootOfTrust.kmsBlobPath(dataDirectory: dataDirectory) + ".rewrap"
        if FileManager.default.fileExists(atPath: blob) {
            unlink(pendingBlob)
            guard rename(blob, pendingBlob) == 0 else { throw StorageError("Cannot write \(pendingBlob).") }
        }

        var config = Configuration()
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA secure_delete = ON")
        }
        config.busyMode = .timeout(30)
        let queue = try DatabaseQueue(path: sqlitePath, configuration: config)
        let summary = try queue.write { db -> Summary in
            var summary = Summary()
            for row in try Row.fetchAll(db, sql: "SELECT rowid, account, region, key_id, version, sealed FROM key_materials") {
                let context = SealingContext.material(row["account"], row["region"], row["key_id"], UInt32(truncatingIfNeeded: row["version"] as Int64))
                let resealed = try reseal(row["sealed"], context: context, old: old, new: new)
                try db.execute(sql: "UPDATE key_materials SET sealed = ? WHERE rowid = ?", arguments: [resealed, row["rowid"] as Int64])
                summary.keyMaterials += 1
            }
            for row in try Row.fetchAll(db, sql: "SELECT access_key_id, sealed_secret FROM credentials") {
                let id: String = row["access_key_id"]
                let resealed = try reseal(row["sealed_secret"], context: SealingContext.credential(id), old: old, new: new)
                try db.execute(sql: "UPDATE credentials SET sealed_secret = ? WHERE access_key_id = ?", arguments: [resealed, id])
                summary.credentials += 1
            }
            if try db.tableExists("iam_identities") {
                for row in try Row.fetchAll(db, sql: "SELECT rowid, account, kind, name, sealed_secret FROM iam_identities WHERE sealed_secret IS NOT NULL") {
                    let context = SealingContext.identitySecret(row["account"], row["kind"], row["name"])
                    let resealed = try reseal(row["sealed_secret"], context: context, old: old, new: new)
                    try db.execute(sql: "UPDATE iam_identities SET sealed_secret = ? WHERE rowid = ?", arguments: [resealed, row["rowid"] as Int64])
                    summary.identitySecrets += 1
                }
            }
            // Custom key stores' XKS proxy secrets and token PINs.
            if try db.tableExists("custom_key_stores") {
                for row in try Row.fetchAll(db, sql: "SELECT rowid, account, region, id, sealed_secret FROM custom_key_stores") {
                    let context = StoredCustomKeyStore.sealingContext(row["account"], row["region"], row["id"])
                    let resealed = try reseal(row["sealed_secret"], context: context, old: old, new: new)
                    try db.execute(sql: "UPDATE custom_key_stores SET sealed_secret = ? WHERE rowid = ?", arguments: [resealed, row["rowid"] as Int64])
                }
            }
            // Secrets queued for a peer (key material wrapped for the link only when sent).
            if try db.tableExists("peer_outbox") {
                for row in try Row.fetchAll(db, sql: "SELECT rowid, local_region, peer_region, sequence, sealed_secrets FROM peer_outbox") {
                    let local: String = row["local_region"], peer: String = row["peer_region"]
                    let sequence = UInt64(bitPattern: row["sequence"] as Int64)
                    var plain = try PeerSealedSecrets.open(row["sealed_secrets"], rootKey: old, local: local, peer: peer, sequence: sequence)
                    defer { for i in plain.indices { for j in plain[i].indices { plain[i][j] = 0 } } }
                    let resealed = try PeerSealedSecrets.seal(plain, rootKey: new, local: local, peer: peer, sequence: sequence)
                    try db.execute(sql: "UPDATE peer_outbox SET sealed_secrets = ? WHERE rowid = ?", arguments: [resealed, row["rowid"] as Int64])
                }
            }
            return summary
        }
        // Old sealed rows must not stay in WAL frames: with secure_delete the pages hold only the new ones.
        try queue.writeWithoutTransaction { try $0.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        // Committed: the store is under the new root. Its record (and blob) take the old ones' place.
        if FileManager.default.fileExists(atPath: pendingBlob) {
            guard rename(pendingBlob, RootOfTrust.kmsBlobPath(dataDirectory: dataDirectory)) == 0 else {
                throw StorageError("The store moved to the new root, but \(pendingBlob) could not be moved into place: move it by hand.")
            }
        }
        guard rename(pending, RootRecord.path(dataDirectory: dataDirectory)) == 0 else {
            throw StorageError("The store moved to the new root, but \(pending) could not be moved over root-of-trust.json: move it by hand.")
        }
        return summary
    }

    private static func reseal(_ sealed: Data, context: String, old: RootKey, new: RootKey) throws -> Data {
        var plain = try old.open([UInt8](sealed), context: context)
        defer { for i in plain.indices { plain[i] = 0 } }
        return Data(try new.seal(plain, context: context))
    }
}
