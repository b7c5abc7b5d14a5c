import Crypto

/// The ciphertext of a key in an external key store: double encryption as AWS specifies it,
/// KMS's own key material first (an ordinary v2 blob), then the external key over that blob
/// (the proxy's Encrypt). Format 3:
///
///     0x03 | account (12) | keyIdLength (1) | keyId | materialVersion (4)      (the v2 header, format 3)
///          | ivLength (1) | iv | metadataLength (1) | ciphertextMetadata | tag (16) | proxy ciphertext
///
/// The header and a digest of the encryption context are the proxy call's AAD, so the proxy
/// layer too refuses a blob relabelled with another key or context.
public struct ExternalKeyStoreCiphertext: Sendable, Equatable {
    public static let format: UInt8 = 3
    public let account: String
    public let keyId: String
    public let materialVersion: UInt32
    public let header: [UInt8]
    public let parts: XKSCiphertextParts

    public init(account: String, keyId: String, materialVersion: UInt32, parts: XKSCiphertextParts) {
        self.account = account
        self.keyId = keyId
        self.materialVersion = materialVersion
        self.header = CiphertextBlob.header(format: Self.format, account: account, keyId: keyId, materialVersion: materialVersion)
        self.parts = parts
    }

    public var bytes: [UInt8] {
        var out = header
        out.append(UInt8(parts.iv.count))
        out += parts.iv
        out.append(UInt8(parts.metadata.count))
        out += parts.metadata
        out += parts.tag
        out += parts.ciphertext
        return out
    }

    /// The AAD sent to the proxy: header || SHA-256(canonical encryption context).
    public static func aad(header: [UInt8], context: [String: String]?) -> [UInt8] {
        header + Array(SHA256.hash(data: EncryptionContext.canonicalBytes(context)))
    }

    public static func parse(_ bytes: [UInt8]) -> ExternalKeyStoreCiphertext? {
        guard bytes.count >= 14, bytes[0] == format, bytes[1..<13].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        let idLength = Int(bytes[13])
        var p = 14 + idLength
        guard idLength > 0, bytes.count >= p + 4 + 1,
              bytes[14..<p].allSatisfy({ $0 == UInt8(ascii: "-") || ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x7A) })
        else { return nil }
        let account = String(decoding: bytes[1..<13], as: UTF8.self)
        let keyId = String(decoding: bytes[14..<p], as: UTF8.self)
        let version = UInt32(bytes[p]) << 24 | UInt32(bytes[p + 1]) << 16 | UInt32(bytes[p + 2]) << 8 | UInt32(bytes[p + 3])
        p += 4
        let ivLength = Int(bytes[p]); p += 1
        guard ivLength == 12 || ivLength == 16, bytes.count >= p + ivLength + 1 else { return nil }
        let iv = Array(bytes[p..<(p + ivLength)]); p += ivLength
        let metaLength = Int(bytes[p]); p += 1
        guard metaLength <= 20, bytes.count >= p + metaLength + 16 + 1 else { return nil }
        let meta = Array(bytes[p..<(p + metaLength)]); p += metaLength
        let tag = Array(bytes[p..<(p + 16)]); p += 16
        let ciphertext = Array(bytes[p...])
        return ExternalKeyStoreCiphertext(account: account, keyId: keyId, materialVersion: version,
                                          parts: XKSCiphertextParts(ciphertext: ciphertext, metadata: meta, iv: iv, tag: tag))
    }
}
