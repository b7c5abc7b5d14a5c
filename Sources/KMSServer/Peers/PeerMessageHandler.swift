import Crypto
import Foundation
import KMSCore
import KMSStorage

/// One message as the receiver applies it: authenticated, in order, secrets unwrapped.
struct PeerInboundMessage: Sendable {
    let sender: String
    let receiver: String
    let sequence: UInt64
    let kind: String
    let body: String
    let secrets: [[UInt8]]
}

/// What a message kind does on the receiving deployment. The link guarantees order and
/// refuses replays, but two nodes of a PostgreSQL cluster may both apply a message that
/// reached both before either recorded it, and a crash between applying and recording
/// makes the sender deliver it again: `apply` must therefore be idempotent (a replica
/// created if absent, a material version inserted if absent, ...).
protocol PeerMessageHandler: Sendable {
    var kind: String { get }
    /// Applies the message; returns a JSON reply (no secrets), carried in the signed ack.
    func apply(_ message: PeerInboundMessage, keys: PeerLinkKeys) throws -> String
    /// On the sender, once the peer acknowledged: checks the reply (throws what is wrong).
    func checkReply(_ reply: String, to message: PeerOutboxMessage, keys: PeerLinkKeys) throws
}

extension PeerMessageHandler {
    func checkReply(_ reply: String, to message: PeerOutboxMessage, keys: PeerLinkKeys) throws {}
}

/// The message kinds this deployment understands, by name; anything else is refused.
struct PeerMessageHandlers: Sendable {
    private var byKind: [String: any PeerMessageHandler] = [:]

    init(_ handlers: [any PeerMessageHandler] = [LinkCheck()]) {
        for h in handlers { byKind[h.kind] = h }
    }

    mutating func register(_ handler: any PeerMessageHandler) { byKind[handler.kind] = handler }

    subscript(kind: String) -> (any PeerMessageHandler)? { byKind[kind] }
}

/// `link-check`: proves the link works end to end and that both sides hold the same peer
/// key. The sender wraps a fresh 32-byte nonce for the receiver; the receiver unwraps it
/// and answers HMAC-SHA256(link-check key, nonce); the sender checks that in constant time.
/// Nothing but the wrapped nonce is on the wire, and nothing is stored but the sequence.
/// Sent by `kms admin peers --check` (queued in the outbox, so it also proves delivery).
struct LinkCheck: PeerMessageHandler {
    static let kind = "link-check"
    var kind: String { Self.kind }

    static func newMessage(localRegion: String, peerRegion: String, now: Double) -> NewPeerMessage {
        NewPeerMessage(localRegion: localRegion, peerRegion: peerRegion, kind: kind,
                       body: "{\"requestedAt\":\(Int64(now * 1000))}", secrets: [PeerRandom.bytes(32)])
    }

    static func confirmation(nonce: [UInt8], keys: PeerLinkKeys) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: nonce, using: keys.linkCheck))
    }

    func apply(_ message: PeerInboundMessage, keys: PeerLinkKeys) throws -> String {
        guard message.secrets.count == 1, message.secrets[0].count == 32 else {
            throw PeerLinkError.malformed("link-check carries one 32-byte nonce")
        }
        return "{\"confirmation\":\"\(Base64.encode(Self.confirmation(nonce: message.secrets[0], keys: keys)))\"}"
    }

    func checkReply(_ reply: String, to message: PeerOutboxMessage, keys: PeerLinkKeys) throws {
        guard let object = try? JSONSerialization.jsonObject(with: Data(reply.utf8)) as? [String: Any],
              let text = object["confirmation"] as? String, let given = Base64.decode(text), given.count == 32,
              let nonce = message.secrets.first else {
            throw PeerLinkError.authentication("link-check: the peer's reply has no confirmation")
        }
        guard HMAC<SHA256>.isValidAuthenticationCode(given, authenticating: nonce, using: keys.linkCheck) else {
            throw PeerLinkError.authentication("link-check: the peer's confirmation is wrong (it does not hold this peer key)")
        }
    }
}
