import Foundation
import GRDB
import KMSCore

/// The peer link in SQLite (migration v4-peer-link): `peer_links` (one row per link, versioned)
/// and `peer_outbox` (queued messages, secrets sealed under the root key).
extension SQLiteKeyStore: PeerLinkStore {
    static let peerLinkTablesSQL = """
        CREATE TABLE peer_links (
            local_region TEXT NOT NULL, peer_region TEXT NOT NULL,
            last_sent_sequence INTEGER NOT NULL DEFAULT 0, last_received_sequence INTEGER NOT NULL DEFAULT 0,
            last_received_at DOUBLE, last_success_at DOUBLE, last_error TEXT, last_error_at DOUBLE,
            version INTEGER NOT NULL DEFAULT 1,
            PRIMARY KEY (local_region, peer_region));
        CREATE TABLE peer_outbox (
            local_region TEXT NOT NULL, peer_region TEXT NOT NULL, sequence INTEGER NOT NULL,
            kind TEXT NOT NULL, body TEXT NOT NULL, sealed_secrets TEXT NOT NULL, created_at DOUBLE NOT NULL,
            PRIMARY KEY (local_region, peer_region, sequence));
        """

    static func registerPeerLinkMigration(_ m: inout DatabaseMigrator) {
        m.registerMigration("v4-peer-link") { db in try db.execute(sql: peerLinkTablesSQL) }
        // Dead letters: a message the peer refused for good stays, marked, out of the queue.
        m.registerMigration("v5-peer-dead-letters") { db in
            try db.execute(sql: "ALTER TABLE peer_outbox ADD COLUMN refused_at DOUBLE")
            try db.execute(sql: "ALTER TABLE peer_outbox ADD COLUMN refusal TEXT")
        }
    }

    private func ensureLink(_ db: Database, _ local: String, _ peer: String) throws {
        try db.execute(sql: "INSERT INTO peer_links (local_region, peer_region) VALUES (?, ?) ON CONFLICT DO NOTHING",
                       arguments: [local, peer])
    }

    public func enqueuePeerMessage(_ m: NewPeerMessage, now: Double) throws -> UInt64 {
        try db.write { db in try insertPeerMessage(m, db, now: now) }
    }

    /// Gives `m` the link's next sequence and inserts it, in the caller's transaction (alone,
    /// or with the batch that made it: StoreChange.queuePeerMessage).
    func insertPeerMessage(_ m: NewPeerMessage, _ db: Database, now: Double) throws -> UInt64 {
        try ensureLink(db, m.localRegion, m.peerRegion)
        try db.execute(sql: """
            UPDATE peer_links SET last_sent_sequence = last_sent_sequence + 1, version = version + 1
            WHERE local_region = ? AND peer_region = ?
            """, arguments: [m.localRegion, m.peerRegion])
        let next = try Int64.fetchOne(db, sql: "SELECT last_sent_sequence FROM peer_links WHERE local_region = ? AND peer_region = ?",
                                      arguments: [m.localRegion, m.peerRegion]) ?? 0
        let sequence = UInt64(next)
        let sealed = try PeerSealedSecrets.seal(m.secrets, rootKey: rootKey, local: m.localRegion, peer: m.peerRegion, sequence: sequence)
        try db.execute(sql: """
            INSERT INTO peer_outbox (local_region, peer_region, sequence, kind, body, sealed_secrets, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """, arguments: [m.localRegion, m.peerRegion, next, m.kind, m.body, sealed, now])
        return sequence
    }

    public func pendingPeerMessages(localRegion: String, peerRegion: String, limit: Int) throws -> [PeerOutboxMessage] {
        let rows = try db.read { db in
            try Row.fetchAll(db, sql: """
                SELECT sequence, kind, body, sealed_secrets, created_at FROM peer_outbox
                WHERE local_region = ? AND peer_region = ? AND refused_at IS NULL ORDER BY sequence LIMIT ?
                """, arguments: [localRegion, peerRegion, max(0, limit)])
        }
        return try rows.map { row in
            let sequence = UInt64(max(0, row["sequence"] as Int64))
            return PeerOutboxMessage(localRegion: localRegion, peerRegion: peerRegion, sequence: sequence, kind: row["kind"], body: row["body"],
                                     secrets: try PeerSealedSecrets.open(row["sealed_secrets"], rootKey: rootKey, local: localRegion,
                                                                         peer: peerRegion, sequence: sequence),
                                     createdAt: row["created_at"])
        }
    }

    public func removePeerMessage(localRegion: String, peerRegion: String, sequence: UInt64) throws {
        let s = try peerSequenceColumn(sequence)
        try db.write { db in
            try db.execute(sql: "DELETE FROM peer_outbox WHERE local_region = ? AND peer_region = ? AND sequence = ?",
                           arguments: [localRegion, peerRegion, s])
        }
    }

    public func recordPeerMessageAccepted(localRegion: String, peerRegion: String, sequence: UInt64, now: Double) throws {
        let s = try peerSequenceColumn(sequence)
        try db.write { db in
            try ensureLink(db, localRegion, peerRegion)
            try db.execute(sql: """
                UPDATE peer_links SET last_received_sequence = ?, last_received_at = ?, version = version + 1
                WHERE local_region = ? AND peer_region = ? AND last_received_sequence = ?
                """, arguments: [s, now, localRegion, peerRegion, s - 1])
            guard db.changesCount == 1 else {
                let stored = try Int64.fetchOne(db, sql: "SELECT last_received_sequence FROM peer_links WHERE local_region = ? AND peer_region = ?",
                                                arguments: [localRegion, peerRegion]) ?? 0
                throw PeerSequenceConflict(localRegion: localRegion, peerRegion: peerRegion, lastAccepted: UInt64(max(0, stored)), offered: sequence)
            }
        }
    }

    public func recordPeerDeliveryAttempt(localRegion: String, peerRegion: String, error: String?, now: Double) throws {
        try db.write { db in
            try ensureLink(db, localRegion, peerRegion)
            if let error {
                try db.execute(sql: """
                    UPDATE peer_links SET last_error = ?, last_error_at = ?, version = version + 1 WHERE local_region = ? AND peer_region = ?
                    """, arguments: [error, now, localRegion, peerRegion])
            } else {
                try db.execute(sql: """
                    UPDATE peer_links SET last_success_at = ?, version = version + 1 WHERE local_region = ? AND peer_region = ?
                    """, arguments: [now, localRegion, peerRegion])
            }
        }
    }

    public func peerLinks() throws -> [PeerLinkRecord] {
        try db.read { db in
            try Row.fetchAll(db, sql: """
                SELECT l.*,
                    (SELECT COUNT(*) FROM peer_outbox o WHERE o.local_region = l.local_region AND o.peer_region = l.peer_region
                        AND o.refused_at IS NULL) AS pending,
                    (SELECT COUNT(*) FROM peer_outbox o WHERE o.local_region = l.local_region AND o.peer_region = l.peer_region
                        AND o.refused_at IS NOT NULL) AS dead
                FROM peer_links l ORDER BY l.local_region, l.peer_region
                """).map { row in
                PeerLinkRecord(localRegion: row["local_region"], peerRegion: row["peer_region"],
                               lastSentSequence: UInt64(max(0, row["last_sent_sequence"] as Int64)),
                               lastReceivedSequence: UInt64(max(0, row["last_received_sequence"] as Int64)),
                               lastReceivedAt: row["last_received_at"], lastSuccessAt: row["last_success_at"],
                               lastError: row["last_error"], lastErrorAt: row["last_error_at"],
                               pending: row["pending"], deadLetters: row["dead"], version: row["version"])
            }
        }
    }

    public func deadLetterPeerMessage(localRegion: String, peerRegion: String, sequence: UInt64, reason: String, now: Double) throws {
        let s = try peerSequenceColumn(sequence)
        try db.write { db in
            try db.execute(sql: """
                UPDATE peer_outbox SET refused_at = ?, refusal = ? WHERE local_region = ? AND peer_region = ? AND sequence = ?
                """, arguments: [now, reason, localRegion, peerRegion, s])
        }
    }

    public func peerDeadLetters(localRegion: String, peerRegion: String, limit: Int) throws -> [PeerDeadLetter] {
        try db.read { db in
            try Row.fetchAll(db, sql: """
                SELECT sequence, kind, refusal, created_at, refused_at FROM peer_outbox
                WHERE local_region = ? AND peer_region = ? AND refused_at IS NOT NULL ORDER BY sequence LIMIT ?
                """, arguments: [localRegion, peerRegion, max(0, limit)]).map { row in
                PeerDeadLetter(sequence: UInt64(max(0, row["sequence"] as Int64)), kind: row["kind"], reason: row["refusal"] ?? "",
                               createdAt: row["created_at"], refusedAt: row["refused_at"])
            }
        }
    }
}
