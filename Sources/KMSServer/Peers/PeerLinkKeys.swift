import Crypto
import Foundation

/// The keys of one direction of a link, derived from the shared peer key with HKDF-SHA256
/// (salt "swift-kms peer link v1", info naming purpose and direction), never stored:
/// - wrap: AES-256-GCM key that wraps secrets `sender` sends to `receiver`;
/// - mac: HMAC-SHA256 key authenticating `sender`'s messages to `receiver`;
/// - ack: HMAC-SHA256 key authenticating `receiver`'s answers to those messages;
/// - linkCheck: HMAC-SHA256 key of the link-check confirmation.
/// Each direction has its own keys, so a message cannot be reflected back to its sender.
struct PeerLinkKeys: Sendable {
    let keyId: String
    let sender: String
    let receiver: String
    let wrap: SymmetricKey
    let mac: SymmetricKey
    let ack: SymmetricKey
    let linkCheck: SymmetricKey

    static let salt = Array("swift-kms peer link v1".utf8)

    init(peerKey: PeerKey, sender: String, receiver: String) {
        func derive(_ purpose: String) -> SymmetricKey {
            HKDF<SHA256>.deriveKey(inputKeyMaterial: peerKey.secret, salt: Self.salt,
                                   info: Array("\(purpose)|\(sender)|\(receiver)".utf8), outputByteCount: 32)
        }
        keyId = peerKey.keyId
        self.sender = sender
        self.receiver = receiver
        wrap = derive("wrap")
        mac = derive("mac")
        ack = derive("ack")
        linkCheck = derive("link-check")
    }
}

/// Length-prefixed fields (4-byte big-endian length, then the bytes): the one unambiguous
/// encoding every MAC and AAD of the link is computed over.
struct PeerCanonicalBytes {
    private(set) var bytes: [UInt8] = []

    init(_ domain: String) { append(domain) }

    mutating func append(_ s: String) { append(Array(s.utf8)) }

    mutating func append(_ b: [UInt8]) {
        let n = UInt32(truncatingIfNeeded: b.count)
        bytes += [UInt8(n >> 24), UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)]
        bytes += b
    }
}
