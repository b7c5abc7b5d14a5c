import Crypto
import Foundation

/// Why a session token was refused. The server words each as AWS does for the protocol of
/// the request (KMS: UnrecognizedClientException / ExpiredTokenException; query services:
/// InvalidClientTokenId / ExpiredToken).
public enum SessionTokenError: Error, Sendable, Equatable {
    /// Not a token this server sealed, tampered with, or used with another access key ID.
    case invalid
    /// Authentic, but past its expiration.
    case expired

    public static let invalidMessage = "The security token included in the request is invalid."
    public static let expiredMessage = "The security token included in the request is expired"
}

/// Seals and opens session tokens: AES-256-GCM under a key derived from the root key, with
/// a fresh random nonce per token. The token is opaque (nothing readable in it) and
/// tamper-proof (the tag covers every byte); it names no database row, so it is verified on
/// any node without a lookup.
///
/// Layout (then base64url, no padding): version | nonce (12) | ciphertext | tag (16), with the
/// version and associated data authenticated.
/// - Version 2 (sealed now): the ciphertext is CompactSessionToken's binary layout, and the
///   associated data includes the access key ID, which binds the token to its key without
///   carrying it. An AssumeRole token is about 170 characters instead of 570.
/// - Version 1 (sealed before): JSON of STSSession. Still opened, so sessions issued before
///   an upgrade keep working until they expire.
public struct SessionTokenSealer: Sendable {
    static let version: UInt8 = 1
    static let associatedData = Array("swift-kms sts session token v1".utf8)
    static let compactVersion: UInt8 = 2
    static let compactAssociatedData = Array("swift-kms sts session token v2".utf8)
    /// Longer tokens are refused before any decoding: bounded work for any header.
    public static let maxTokenLength = 16 * 1024

    let key: SymmetricKey

    /// `key` is 256 bits, derived from the root key for this purpose only (see
    /// RootKey.derivedKey(label:)): a token key never seals anything else.
    public init(key: SymmetricKey) {
        self.key = key
    }

    /// A version-2 token for `session`, bound to its access key ID.
    public func seal(_ session: STSSession) throws -> String {
        let payload = CompactSessionToken.encode(session)
        let box = try AES.GCM.seal(payload, using: key, nonce: AES.GCM.Nonce(),
                                   authenticating: Self.compactAAD(accessKeyId: session.accessKeyId))
        return Self.frame(Self.compactVersion, box, count: payload.count)
    }

    /// A version-1 token (JSON), as servers before version 2 sealed them: kept so tests prove
    /// such tokens still open.
    func sealVersion1(_ session: STSSession) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let payload = try encoder.encode(session)
        let box = try AES.GCM.seal(payload, using: key, nonce: AES.GCM.Nonce(),
                                   authenticating: [Self.version] + Self.associatedData)
        return Self.frame(Self.version, box, count: payload.count)
    }

    static func frame(_ version: UInt8, _ box: AES.GCM.SealedBox, count: Int) -> String {
        var bytes: [UInt8] = [version]
        bytes.reserveCapacity(1 + 12 + count + 16)
        bytes.append(contentsOf: box.nonce)
        bytes.append(contentsOf: box.ciphertext)
        bytes.append(contentsOf: box.tag)
        return Base64URL.encode(bytes)
    }

    static func compactAAD(accessKeyId: String) -> [UInt8] {
        [compactVersion] + compactAssociatedData + Array(accessKeyId.utf8)
    }

    /// The session inside `token`, if this server sealed it for `accessKeyId` and nobody
    /// changed a bit of it. Expiry is not checked here (see `verify`); a version-1 token's
    /// binding to its key is checked by `check`.
    public func open(_ token: String, accessKeyId: String) throws(SessionTokenError) -> STSSession {
        guard token.utf8.count <= Self.maxTokenLength, let bytes = Base64URL.decode(token),
              bytes.count > 1 + 12 + 16 else { throw .invalid }
        let aad: [UInt8]
        switch bytes[0] {
        case Self.compactVersion: aad = Self.compactAAD(accessKeyId: accessKeyId)
        case Self.version: aad = [Self.version] + Self.associatedData
        default: throw .invalid
        }
        let plaintext: Data
        do {
            let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: bytes[1..<13]),
                                            ciphertext: bytes[13..<(bytes.count - 16)],
                                            tag: bytes[(bytes.count - 16)...])
            plaintext = try AES.GCM.open(box, using: key, authenticating: aad)
        } catch {
            throw .invalid
        }
        if bytes[0] == Self.compactVersion {
            guard let session = CompactSessionToken.decode([UInt8](plaintext), accessKeyId: accessKeyId) else { throw .invalid }
            return session
        }
        guard let session = try? JSONDecoder().decode(STSSession.self, from: plaintext) else { throw .invalid }
        return session
    }

    /// Opens the token and checks that it belongs to `accessKeyId` and has not expired.
    public func verify(_ token: String, accessKeyId: String, now: Double) throws(SessionTokenError) -> STSSession {
        let session = try open(token, accessKeyId: accessKeyId)
        try Self.check(session, accessKeyId: accessKeyId, now: now)
        return session
    }

    /// The checks every use of a session makes, cached or not: the binding to the request's
    /// access key ID (constant time), then the expiry.
    public static func check(_ session: STSSession, accessKeyId: String, now: Double) throws(SessionTokenError) {
        guard ConstantTime.equal(session.accessKeyId, accessKeyId) else { throw .invalid }
        guard now < session.expires else { throw .expired }
    }
}

enum ConstantTime {
    static func equal(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in x.indices { diff |= x[i] ^ y[i] }
        return diff == 0
    }
}

/// RFC 4648 §5 base64url without padding: tokens travel in headers and form fields.
enum Base64URL {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    static let inverse: [UInt8] = {
        var t = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { t[Int(c)] = UInt8(i) }
        return t
    }()

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var i = 0
        while i + 3 <= bytes.count {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [alphabet[Int(v >> 18 & 63)], alphabet[Int(v >> 12 & 63)], alphabet[Int(v >> 6 & 63)], alphabet[Int(v & 63)]]
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let v = UInt32(bytes[i]) << 16
            out += [alphabet[Int(v >> 18 & 63)], alphabet[Int(v >> 12 & 63)]]
        } else if rest == 2 {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [alphabet[Int(v >> 18 & 63)], alphabet[Int(v >> 12 & 63)], alphabet[Int(v >> 6 & 63)]]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Strict: only the alphabet, no padding, no non-canonical trailing bits.
    static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count * 3 / 4)
        var acc: UInt32 = 0, bits = 0
        for c in chars {
            let v = inverse[Int(c)]
            guard v != 0xFF else { return nil }
            acc = acc << 6 | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
            }
        }
        // Leftover bits must be zero, so each token has exactly one spelling.
        guard acc & ((1 << UInt32(bits)) - 1) == 0 else { return nil }
        return out
    }
}
