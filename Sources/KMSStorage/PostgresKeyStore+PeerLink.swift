import Foundation
import KMSCore
import Logging
import PostgresNIO

/// The peer link in PostgreSQL (migration 8): the same rows as SQLite. Sequence numbers are
/// handed out by one row-locking UPDATE ... RETURNING, so nodes enqueuing at once never
/// share one; an accepted sequence is recorded by a conditional UPDATE, so of two nodes
/// receiving the same message exactly one records it.
extension PostgresKeyStore: PeerLinkStore {
    static func ensureLink(_ conn: PostgresConnection, _ local: String, _ peer: String, logger: Logger) async throws {
        try await conn.query("""
            INSERT INTO peer_links (local_region, peer_region) VALUES (\(local), \(peer)) ON CONFLICT DO NOTHING
            """, logger: logger)
    }

    public func enqueuePeerMessage(_ m: NewPeerMessage, now: Double) throws -> UInt64 {
        let rootKey = rootKey
        return try wait { [client, logger] in
            try await client.withTransaction(logger: logger) { conn in
                try await Self.insertPeerMessage(m, on: conn, rootKey: rootKey, now: now, logger: logger)
            }
        }
    }

    /// Gives `m` the link's next sequence and inserts it, in the caller's transaction (alone,
    /// or with the batch that made it: StoreChange.queuePeerMessage). The UPDATE locks the
    /// link's row until commit, so sequences become visible in order and a rolled-back batch
    /// leaves no gap.
    static func insertPeerMessage(_ m: NewPeerMessage, on conn: PostgresConnection, rootKey: RootKey, now: Double,
                                  logger: Logger) async throws -> UInt64 {
        try await ensureLink(conn, m.localRegion, m.peerRegion, logger: logger)
        let rows = try await conn.query("""
            UPDATE peer_links SET last_sent_sequence = last_sent_sequence + 1, version = version + 1
            WHERE local_region = \(m.localRegion) AND peer_region = \(m.peerRegion) RETURNING last_sent_sequence
            """, logger: logger).collect()
        guard let next = try rows.first?.decode(Int64.self) else { throw StorageError("peer link row missing") }
        let sealed = try PeerSealedSecrets.seal(m.secrets, rootKey: rootKey, local: m.localRegion, peer: m.peerRegion,
                                                sequence: UInt64(next))
        try await conn.query("""
            INSERT INTO peer_outbox (local_region, peer_region, sequence, kind, body, sealed_secrets, created_at)
            VALUES (\(m.localRegion), \(m.peerRegion), \(next), \(m.kind), \(m.body), \(sealed), \(now))
            """, logger: logger)
        return UInt64(next)
    }

    public func pendingPeerMessages(localRegion: String, peerRegion: String, limit: Int) throws -> [PeerOutboxMessage] {
        let limit = Int64(max(0, limit))
        let rows = try wait { [client, logger] in
            try await client.query("""
                SELECT sequence, kind, body, sealed_secrets, created_at FROM peer_outbox
                WHERE local_region = \(localRegion) AND peer_region = \(peerRegion) AND refused_at IS NULL
                ORDER BY sequence LIMIT \(limit)
                """, logger: logger).collect()
        }
        return try rows.map { row in
            let (seq, kind, body, sealed, createdAt) = try row.decode((Int64, String, String, String, Double).self)
            let sequence = UInt64(max(0, seq))
            return PeerOutboxMessage(localRegion: localRegion, peerRegion: peerRegion, sequence: sequence, kind: kind, body: body,
                                     secrets: try PeerSealedSecrets.open(sealed, rootKey: rootKey, local: localRegion, peer: peerRegion,
                                                                         sequence: sequence),
                                     createdAt: createdAt)
        }
    }

    public func removePeerMessage(localRegion: String, peerRegion: String, sequence: UInt64) throws {
        let s = try peerSequenceColumn(sequence)
        try wait { [client, logger] in
            try await client.query("""
                DELETE FROM peer_outbox WHERE local_region = \(localRegion) AND peer_region = \(peerRegion) AND sequence = \(s)
                """, logger: logger)
            return ()
        }
    }

    public func recordPeerMessageAccepted(localRegion: String, peerRegion: String, sequence: UInt64, now: Double) throws {
        let s = try peerSequenceColumn(sequence)
        let previous = s - 1
        let stored: Int64? = try wait { [client, logger] in
            try await client.withTransaction(logger: logger) { conn in
                try await Self.ensureLink(conn, localRegion, peerRegion, logger: logger)
                let updated = try await conn.query("""
                    UPDATE peer_links SET last_received_sequence = \(s), last_received_at = \(now), version = version + 1
                    WHERE local_region = \(localRegion) AND peer_region = \(peerRegion) AND last_received_sequence = \(previous)
                    RETURNING version
                    """, logger: logger).collect()
                if updated.count == 1 { return nil }
                let rows = try await conn.query("""
                    SELECT last_received_sequence FROM peer_links WHERE local_region = \(localRegion) AND peer_region = \(peerRegion)
                    """, logger: logger).collect()
                return try rows.first?.decode(Int64.self) ?? 0
            }
        }
        if let stored {
            throw PeerSequenceConflict(localRegion: localRegion, peerRegion: peerRegion, lastAccepted: UInt64(max(0, stored)), offered: sequence)
        }
    }

    public func recordPeerDeliveryAttempt(localRegion: String, peerRegion: String, error: String?, now: Double) throws {
        try wait { [client, logger] in
            try await client.withTransaction(logger: logger) { conn in
                try await Self.ensureLink(conn, localRegion, peerRegion, logger: logger)
                if let error {
                    try await conn.query("""
                        UPDATE peer_links SET last_error = \(error), last_error_at = \(now), version = version + 1
                        WHERE local_region = \(localRegion) AND peer_region = \(peerRegion)
                        """, logger: logger)
                } else {
                    try await conn.query("""
                        UPDATE peer_links SET last_success_at = \(now), version = version + 1
                        WHERE local_region = \(localRegion) AND peer_region = \(peerRegion)
                        """, logger: logger)
                }
            }
        }
    }

    public func peerLinks() throws -> [PeerLinkRecord] {
        let rows = try wait { [client, logger] in
            try await client.query("""
                SELECT l.local_region, l.peer_region, l.last_sent_sequence, l.last_received_sequence, l.last_received_at,
                       l.last_success_at, l.last_error, l.last_error_at, l.version,
                       (SELECT COUNT(*) FROM peer_outbox o WHERE o.local_region = l.local_region AND o.peer_region = l.peer_region
                            AND o.refused_at IS NULL),
                       (SELECT COUNT(*) FROM peer_outbox o WHERE o.local_region = l.local_region AND o.peer_region = l.peer_region
                            AND o.refused_at IS NOT NULL)
                FROM peer_links l ORDER BY l.local_region, l.peer_region
                """, logger: logger).collect()
        }
        return try rows.map { row in
            let (local, peer, sent, received, receivedAt, successAt, error, errorAt, version, pending, dead) =
                try row.decode((String, String, Int64, Int64, Double?, Double?, String?, Double?, Int64, Int64, Int64).self)
            return PeerLinkRecord(localRegion: local, peerRegion: peer, lastSentSequence: UInt64(max(0, sent)),
                                  lastReceivedSequence: UInt64(max(0, received)), lastReceivedAt: receivedAt, lastSuccessAt: successAt,
                                  lastError: error, lastErrorAt: errorAt, pending: Int(pending), deadLetters: Int(dead), version: version)
        }
    }

    public func deadLetterPeerMessage(localRegion: String, peerRegion: String, sequence: UInt64, reason: String, now: Double) throws {
        let s = try peerSequenceColumn(sequence)
        try wait { [client, logger] in
            try await client.query("""
                UPDATE peer_outbox SET refused_at = \(now), refusal = \(reason)
                WHERE local_region = \(localRegion) AND peer_region = \(peerRegion) AND sequence = \(s)
                """, logger: logger)
            return ()
        }
    }

    public func peerDeadLetters(localRegion: String, peerRegion: String, limit: Int) throws -> [PeerDeadLetter] {
        let limit = Int64(max(0, limit))
        let rows = try wait { [client, logger] in
            try await client.query("""
                SELECT sequence, kind, refusal, created_at, refused_at FROM peer_outbox
                WHERE local_region = \(localRegion) AND peer_region = \(peerRegion) AND refused_at IS NOT NULL
                ORDER BY sequence LIMIT \(limit)
                """, logger: logger).collect()
        }
        return try rows.map { row in
            let (seq, kind, reason, createdAt, refusedAt) = try row.decode((Int64, String, String?, Double, Double).self)
            return PeerDeadLetter(sequence: UInt64(max(0, seq)), kind: kind, reason: reason ?? "", createdAt: createdAt, refusedAt: refusedAt)
        }
    }
}
