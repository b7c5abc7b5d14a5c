import Foundation
import KMSCore

/// The durable half of the peer link between two deployments (issue 13 §3): per link
/// (this deployment's region, the peer's region) the last sequence number given to an
/// outgoing message, the last one accepted from the peer, the sender's view of the link
/// (last success, last error), and the outbox of messages not yet acknowledged.
///
/// Both backends hold the same rows (SQLite v4-peer-link, PostgreSQL migration 8). Secrets
/// in the outbox are sealed under the root key, bound to their link, sequence and index.
public protocol PeerLinkStore: Sendable {
    /// Gives the message the link's next sequence number and queues it, in one transaction.
    func enqueuePeerMessage(_ message: NewPeerMessage, now: Double) throws -> UInt64
    /// The link's queued messages in sequence order (at most `limit`), secrets unsealed.
    func pendingPeerMessages(localRegion: String, peerRegion: String, limit: Int) throws -> [PeerOutboxMessage]
    /// The peer acknowledged `sequence`: the message leaves the outbox (gone already: no-op).
    func removePeerMessage(localRegion: String, peerRegion: String, sequence: UInt64) throws
    /// Records that `sequence` from the peer was applied; conditional on the stored last
    /// accepted sequence being `sequence - 1` (StoreConflict otherwise: a replay, a gap, or
    /// another node that accepted it first).
    func recordPeerMessageAccepted(localRegion: String, peerRegion: String, sequence: UInt64, now: Double) throws
    /// The sender's outcome of a delivery attempt (nil error: success).
    func recordPeerDeliveryAttempt(localRegion: String, peerRegion: String, error: String?, now: Double) throws
    /// Every link this store knows, with its pending message count.
    func peerLinks() throws -> [PeerLinkRecord]
    /// The peer refused `sequence` for good (a signed refusal): the message leaves the queue
    /// and stays as a dead letter with the reason, for `kms admin peers`.
    func deadLetterPeerMessage(localRegion: String, peerRegion: String, sequence: UInt64, reason: String, now: Double) throws
    /// The link's dead letters, oldest first (at most `limit`; secrets are not read).
    func peerDeadLetters(localRegion: String, peerRegion: String, limit: Int) throws -> [PeerDeadLetter]
}

/// A message the peer refused for good (PeerLinkStore.deadLetterPeerMessage).
public struct PeerDeadLetter: Sendable, Equatable {
    public var sequence: UInt64
    public var kind: String
    public var reason: String
    public var createdAt: Double
    public var refusedAt: Double

    public init(sequence: UInt64, kind: String, reason: String, createdAt: Double, refusedAt: Double) {
        self.sequence = sequence
        self.kind = kind
        self.reason = reason
        self.createdAt = createdAt
        self.refusedAt = refusedAt
    }
}

// NewPeerMessage is in KMSCore (PeerOutboxChange.swift): a store batch can queue one.

public struct PeerOutboxMessage: Sendable, Equatable {
    public var localRegion: String
    public var peerRegion: String
    public var sequence: UInt64
    public var kind: String
    public var body: String
    public var secrets: [[UInt8]]
    public var createdAt: Double

    public init(localRegion: String, peerRegion: String, sequence: UInt64, kind: String, body: String, secrets: [[UInt8]],
                createdAt: Double) {
        self.localRegion = localRegion
        self.peerRegion = peerRegion
        self.sequence = sequence
        self.kind = kind
        self.body = body
        self.secrets = secrets
        self.createdAt = createdAt
    }
}

/// One link as stored: sequences both ways, the last delivery outcome, the queue length.
public struct PeerLinkRecord: Sendable, Equatable {
    public var localRegion: String
    public var peerRegion: String
    /// The last sequence number given to an outgoing message (0: none yet).
    public var lastSentSequence: UInt64
    /// The last sequence number accepted from the peer (0: none yet).
    public var lastReceivedSequence: UInt64
    public var lastReceivedAt: Double?
    public var lastSuccessAt: Double?
    public var lastError: String?
    public var lastErrorAt: Double?
    public var pending: Int
    /// Messages the peer refused for good (dead letters), not in `pending`.
    public var deadLetters: Int = 0
    /// Row version (optimistic concurrency, as keys and aliases).
    public var version: Int64

    public init(localRegion: String, peerRegion: String, lastSentSequence: UInt64 = 0, lastReceivedSequence: UInt64 = 0,
                lastReceivedAt: Double? = nil, lastSuccessAt: Double? = nil, lastError: String? = nil, lastErrorAt: Double? = nil,
                pending: Int = 0, deadLetters: Int = 0, version: Int64 = 0) {
        self.localRegion = localRegion
        self.peerRegion = peerRegion
        self.lastSentSequence = lastSentSequence
        self.lastReceivedSequence = lastReceivedSequence
        self.lastReceivedAt = lastReceivedAt
        self.lastSuccessAt = lastSuccessAt
        self.lastError = lastError
        self.lastErrorAt = lastErrorAt
        self.pending = pending
        self.deadLetters = deadLetters
        self.version = version
    }
}

extension SealingContext {
    /// A secret queued for a peer, bound to its link, sequence and place in the message.
    static func peerOutboxSecret(_ local: String, _ peer: String, _ sequence: UInt64, _ index: Int) -> String {
        "peer-outbox|\(local)|\(peer)|\(sequence)|\(index)"
    }
}

/// The outbox's sealed secrets column: a JSON array of base64 sealed values.
enum PeerSealedSecrets {
    static func seal(_ secrets: [[UInt8]], rootKey: RootKey, local: String, peer: String, sequence: UInt64) throws -> String {
        let sealed = try secrets.enumerated().map { i, s in
            Base64.encode(try rootKey.seal(s, context: SealingContext.peerOutboxSecret(local, peer, sequence, i)))
        }
        return String(decoding: try JSONEncoder().encode(sealed), as: UTF8.self)
    }

    static func open(_ column: String, rootKey: RootKey, local: String, peer: String, sequence: UInt64) throws -> [[UInt8]] {
        let sealed = try JSONDecoder().decode([String].self, from: Data(column.utf8))
        return try sealed.enumerated().map { i, s in
            guard let bytes = Base64.decode(s) else { throw StorageError("A sealed peer outbox secret is not base64.") }
            return try rootKey.open(bytes, context: SealingContext.peerOutboxSecret(local, peer, sequence, i))
        }
    }
}

/// A sequence number that cannot be stored (SQLite and PostgreSQL integers are signed 64-bit).
func peerSequenceColumn(_ s: UInt64) throws -> Int64 {
    guard let v = Int64(exactly: s) else { throw StorageError("peer sequence \(s) out of range") }
    return v
}

/// A conditional peer-link write found another stored sequence than it was based on: the
/// message was accepted already (a replay or a second delivery), or one before it is missing.
public struct PeerSequenceConflict: Error, Sendable, Equatable, CustomStringConvertible {
    public let localRegion: String
    public let peerRegion: String
    /// The last sequence the store holds as accepted from the peer.
    public let lastAccepted: UInt64
    public let offered: UInt64

    public var description: String {
        "peer link \(localRegion)<-\(peerRegion): sequence \(offered) offered, \(lastAccepted) is the last accepted"
    }
}
