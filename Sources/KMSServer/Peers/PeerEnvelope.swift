import Crypto
import Foundation
import KMSCore

/// One message on the link (docs/ARCHITECTURE.md "Peer link"), as sent in the body of
/// POST /_peer/v1/messages:
///
///     {"version": 1, "keyId": "pk-...", "sender": "us-east-1", "receiver": "eu-west-1",
///      "sequence": 7, "kind": "link-check", "sentAt": 1764450000123,
///      "body": "<JSON text, no secrets>", "secrets": ["<base64 nonce|ciphertext|tag>"],
///      "mac": "<base64 HMAC-SHA256>"}
///
/// Secrets are AES-256-GCM under the direction's wrap key, AAD = canonical(
/// "kms-peer-secret-v1", keyId, sender, receiver, sequence, kind, index). The MAC is
/// HMAC-SHA256 under the direction's mac key over canonical("kms-peer-message-v1", keyId,
/// sender, receiver, sequence, kind, sentAt, body, count of secrets, each wrapped secret).
/// `sentAt` is milliseconds since the epoch; `sequence` counts from 1 per direction.
struct PeerEnvelope: Codable, Sendable, Equatable {
    var version: Int
    var keyId: String
    var sender: String
    var receiver: String
    var sequence: UInt64
    var kind: String
    var sentAt: Int64
    var body: String
    var secrets: [String]
    var mac: String

    static let currentVersion = 1
    /// Bounds on what a receiver parses (the listener bounds the body to 256 KiB already).
    static let maxSecrets = 64
    static let maxSecretBytes = 16 * 1024

    /// Wraps `secrets` for the receiver and authenticates everything.
    static func seal(keys: PeerLinkKeys, sequence: UInt64, kind: String, body: String, secrets: [[UInt8]],
                     sentAt: Int64) throws -> PeerEnvelope {
        let wrapped = try secrets.enumerated().map { i, secret in
            let box = try AES.GCM.seal(secret, using: keys.wrap,
                                       authenticating: secretAAD(keys: keys, sequence: sequence, kind: kind, index: i))
            guard let combined = box.combined else { throw PeerLinkError.malformed("sealing failed") }
            return Base64.encode(combined)
        }
        var e = PeerEnvelope(version: currentVersion, keyId: keys.keyId, sender: keys.sender, receiver: keys.receiver,
                             sequence: sequence, kind: kind, sentAt: sentAt, body: body, secrets: wrapped, mac: "")
        e.mac = Base64.encode(e.computeMAC(keys.mac))
        return e
    }

    static func secretAAD(keys: PeerLinkKeys, sequence: UInt64, kind: String, index: Int) -> [UInt8] {
        var c = PeerCanonicalBytes("kms-peer-secret-v1")
        c.append(keys.keyId); c.append(keys.sender); c.append(keys.receiver)
        c.append(String(sequence)); c.append(kind); c.append(String(index))
        return c.bytes
    }

    /// The bytes the MAC covers: every field but the MAC itself.
    func macInput() -> [UInt8] {
        var c = PeerCanonicalBytes("kms-peer-message-v1")
        c.append(keyId); c.append(sender); c.append(receiver); c.append(String(sequence)); c.append(kind)
        c.append(String(sentAt)); c.append(body); c.append(String(secrets.count))
        for s in secrets { c.append(s) }
        return c.bytes
    }

    func computeMAC(_ key: SymmetricKey) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: macInput(), using: key))
    }

    /// Whether the MAC is right, compared in constant time.
    func hasValidMAC(_ key: SymmetricKey) -> Bool {
        guard let given = Base64.decode(mac), given.count == 32 else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(given, authenticating: macInput(), using: key)
    }

    /// The secrets in clear; call only once the MAC is checked.
    func unwrapSecrets(_ keys: PeerLinkKeys) throws -> [[UInt8]] {
        try secrets.enumerated().map { i, text in
            guard let combined = Base64.decode(text), combined.count <= Self.maxSecretBytes + 28 else {
                throw PeerLinkError.malformed("a wrapped secret is not base64 or too large")
            }
            do {
                let box = try AES.GCM.SealedBox(combined: combined)
                return Array(try AES.GCM.open(box, using: keys.wrap,
                                              authenticating: Self.secretAAD(keys: keys, sequence: sequence, kind: kind, index: i)))
            } catch {
                throw PeerLinkError.authentication("a wrapped secret did not open under the link's key")
            }
        }
    }

    func encoded() throws -> [UInt8] { Array(try JSONEncoder().encode(self)) }

    static func decode(_ bytes: [UInt8]) throws -> PeerEnvelope {
        let e: PeerEnvelope
        do { e = try JSONDecoder().decode(PeerEnvelope.self, from: Data(bytes)) }
        catch { throw PeerLinkError.malformed("not a peer link message") }
        guard e.version == currentVersion else { throw PeerLinkError.malformed("unsupported peer message version \(e.version)") }
        guard e.secrets.count <= maxSecrets else { throw PeerLinkError.malformed("too many secrets in one message") }
        guard e.sequence > 0, e.sequence < UInt64(Int64.max) else { throw PeerLinkError.malformed("sequence out of range") }
        return e
    }
}

/// The receiver's authenticated answer to one message: applied now, or applied before
/// (a duplicate: nothing applied again). `reply` is the handler's JSON answer (no secrets).
struct PeerAck: Codable, Sendable, Equatable {
    var status: String
    var sequence: UInt64
    var lastAccepted: UInt64
    var reply: String
    var mac: String
    /// Set on refusals (the AWS-style error shape); absent on an ack.
    var __type: String?
    var message: String?

    static let applied = "applied", duplicate = "duplicate"
    /// The handler refused the message for good: the receiver recorded its sequence (the link
    /// moves on) and the sender sets the message aside as a dead letter. `reply` says why.
    static let refused = "refused"

    /// `keys` is the message's direction (sender → receiver); the ack is MACed under its ack key.
    static func make(keys: PeerLinkKeys, status: String, sequence: UInt64, lastAccepted: UInt64, reply: String) -> PeerAck {
        var a = PeerAck(status: status, sequence: sequence, lastAccepted: lastAccepted, reply: reply, mac: "")
        a.mac = Base64.encode(Array(HMAC<SHA256>.authenticationCode(for: a.canonical(keys), using: keys.ack)))
        return a
    }

    func canonical(_ keys: PeerLinkKeys) -> [UInt8] {
        var c = PeerCanonicalBytes("kms-peer-ack-v1")
        c.append(keys.keyId); c.append(keys.receiver); c.append(keys.sender)
        c.append(String(sequence)); c.append(status); c.append(String(lastAccepted)); c.append(reply)
        return c.bytes
    }

    func isValid(_ keys: PeerLinkKeys) -> Bool {
        guard let given = Base64.decode(mac), given.count == 32 else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(given, authenticating: canonical(keys), using: keys.ack)
    }
}

/// Why a message was refused; each maps to an HTTP status and an AWS-style error code.
enum PeerLinkError: Error, Sendable, Equatable, CustomStringConvertible {
    case malformed(String)
    case tooLarge
    case authentication(String)
    case wrongReceiver(String)
    case unknownSender(String)
    case expired
    case unknownKind(String)
    case handlerFailed(String)
    case outOfOrder(expected: UInt64, got: UInt64)
    /// The message is authentic and in order but can never be applied here (its content):
    /// answered with a signed `refused` ack, never retried (a dead letter on the sender).
    case refused(String)

    var code: String {
        switch self {
        case .malformed: "PeerMalformedMessage"
        case .tooLarge: "PeerMessageTooLarge"
        case .authentication: "PeerAuthenticationFailed"
        case .wrongReceiver: "PeerWrongReceiver"
        case .unknownSender: "PeerUnknownSender"
        case .expired: "PeerMessageExpired"
        case .unknownKind: "PeerUnknownMessageKind"
        case .handlerFailed: "PeerHandlerFailed"
        case .outOfOrder: "PeerSequenceOutOfOrder"
        case .refused: "PeerMessageRefused"
        }
    }

    var status: Int {
        switch self {
        case .malformed, .expired, .unknownKind: 400
        case .tooLarge: 413
        case .authentication, .wrongReceiver, .unknownSender: 403
        case .handlerFailed: 500
        case .outOfOrder: 409
        case .refused: 422
        }
    }

    var description: String {
        switch self {
        case .malformed(let m): m
        case .tooLarge: "the message is larger than a peer message may be"
        case .authentication(let m): m
        case .wrongReceiver(let r): "the message is addressed to \(r), which this deployment is not"
        case .unknownSender(let s): "\(s) is not a peer of this deployment"
        case .expired: "the message's timestamp is outside the accepted window (clock skew, or a replay)"
        case .unknownKind(let k): "unknown peer message kind \(k); nothing was applied"
        case .handlerFailed(let m): "the message could not be applied: \(m)"
        case .refused(let m): "the message can never be applied here: \(m)"
        case .outOfOrder(let expected, let got): "sequence \(got) out of order: \(expected) is the next this deployment accepts"
        }
    }
}
