/// The ciphertext of a key in an AWS_CLOUDHSM key store: AES-256-GCM run in the token under
/// the key's token object, behind the usual header so Decrypt finds the key. Format 4:
///
///     0x04 | account (12) | keyIdLength (1) | keyId | materialVersion (4, always 1)
///          | nonce (12) | ciphertext | tag (16)
///
/// The AAD is the header followed by the canonical encryption context, exactly as for the
/// other formats, so neither can be changed without the token refusing the tag.
public struct CloudHsmCiphertext: Sendable, Equatable {
    public static let format: UInt8 = 4
    /// A token key has one value for its life (AWS does not rotate keys in CloudHSM key stores).
    public static let materialVersion: UInt32 = 1
    static let nonceSize = 12
    static let tagSize = 16

    public let account: String
    public let keyId: String
    public let header: [UInt8]
    /// nonce | ciphertext | tag, as the token's seal returns it.
    public let sealed: [UInt8]

    public init(account: String, keyId: String, sealed: [UInt8]) {
        self.account = account
        self.keyId = keyId
        self.header = CiphertextBlob.header(format: Self.format, account: account, keyId: keyId, materialVersion: Self.materialVersion)
        self.sealed = sealed
    }

    public var bytes: [UInt8] { header + sealed }

    public static func header(account: String, keyId: String) -> [UInt8] {
        CiphertextBlob.header(format: format, account: account, keyId: keyId, materialVersion: materialVersion)
    }

    /// The AAD the token authenticates: header || canonical encryption context.
    public static func aad(header: [UInt8], context: [String: String]?) -> [UInt8] {
        EncryptionContext.appendCanonicalBytes(context, to: header)
    }

    /// Nil for anything not shaped as a format-4 blob (the caller answers InvalidCiphertextException).
    public static func parse(_ bytes: [UInt8]) -> CloudHsmCiphertext? {
        guard bytes.count >= 14, bytes[0] == format, bytes[1..<13].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        let idLength = Int(bytes[13])
        let p = 14 + idLength
        guard idLength > 0, bytes.count >= p + 4 + nonceSize + tagSize,
              bytes[14..<p].allSatisfy({ $0 == UInt8(ascii: "-") || ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x7A) })
        else { return nil }
        let version = UInt32(bytes[p]) << 24 | UInt32(bytes[p + 1]) << 16 | UInt32(bytes[p + 2]) << 8 | UInt32(bytes[p + 3])
        guard version == materialVersion else { return nil }
        let account = String(decoding: bytes[1..<13], as: UTF8.self)
        let keyId = String(decoding: bytes[14..<p], as: UTF8.self)
        return CloudHsmCiphertext(account: account, keyId: keyId, sealed: Array(bytes[(p + 4)...]))
    }
}
