/// The self-describing ciphertext of symmetric operations (format in docs/CIPHERTEXT.md):
///
///     0x01 | account (12 ASCII digits) | keyIdLength (1) | keyId (ASCII) | materialVersion (4, big endian)
///          | nonce (12) | ciphertext | tag (16)
///
/// Everything before the nonce is the header; it is authenticated together with the
/// encryption context, so a blob cannot be re-labelled with another key or version.
/// The region is deliberately absent: multi-Region replicas share key ID and material.
public struct CiphertextBlob: Sendable, Equatable {
    public static let formatVersion: UInt8 = 1
    public static let nonceSize = 12
    public static let tagSize = 16

    public let account: String
    public let keyId: String
    public let materialVersion: UInt32
    /// The whole blob; the fields below are views into it, so opening a blob copies nothing.
    public let bytes: [UInt8]
    let headerLength: Int

    public var nonce: [UInt8] { Array(nonceBytes) }
    public var ciphertext: [UInt8] { Array(ciphertextBytes) }
    public var tag: [UInt8] { Array(tagBytes) }

    var headerBytes: ArraySlice<UInt8> { bytes[..<headerLength] }
    var nonceBytes: ArraySlice<UInt8> { bytes[headerLength..<(headerLength + Self.nonceSize)] }
    var ciphertextBytes: ArraySlice<UInt8> { bytes[(headerLength + Self.nonceSize)..<(bytes.count - Self.tagSize)] }
    var tagBytes: ArraySlice<UInt8> { bytes[(bytes.count - Self.tagSize)...] }

    public init(account: String, keyId: String, materialVersion: UInt32, nonce: [UInt8], ciphertext: [UInt8], tag: [UInt8]) {
        var out = Self.header(account: account, keyId: keyId, materialVersion: materialVersion,
                              reservingExtra: nonce.count + ciphertext.count + tag.count)
        let headerLength = out.count
        out.append(contentsOf: nonce)
        out.append(contentsOf: ciphertext)
        out.append(contentsOf: tag)
        self.init(account: account, keyId: keyId, materialVersion: materialVersion, bytes: out, headerLength: headerLength)
    }

    private init(account: String, keyId: String, materialVersion: UInt32, bytes: [UInt8], headerLength: Int) {
        self.account = account
        self.keyId = keyId
        self.materialVersion = materialVersion
        self.bytes = bytes
        self.headerLength = headerLength
    }

    public static func header(account: String, keyId: String, materialVersion: UInt32, reservingExtra extra: Int = 0) -> [UInt8] {
        var out: [UInt8] = []
        // One allocation for the header and, when the caller says how much, what follows it.
        out.reserveCapacity(1 + account.utf8.count + 1 + keyId.utf8.count + 4 + extra)
        out.append(formatVersion)
        append(account, to: &out)
        out.append(UInt8(truncatingIfNeeded: keyId.utf8.count))
        append(keyId, to: &out)
        out.append(UInt8(truncatingIfNeeded: materialVersion >> 24))
        out.append(UInt8(truncatingIfNeeded: materialVersion >> 16))
        out.append(UInt8(truncatingIfNeeded: materialVersion >> 8))
        out.append(UInt8(truncatingIfNeeded: materialVersion))
        return out
    }

    /// A string's UTF-8 bytes in one copy (appending a UTF8View goes byte by byte).
    private static func append(_ text: String, to out: inout [UInt8]) {
        var text = text
        text.withUTF8 { out.append(contentsOf: $0) }
    }

    /// Parses a blob; nil for anything that is not one of ours (the caller answers
    /// InvalidCiphertextException without saying why).
    public static func parse(_ bytes: [UInt8]) -> CiphertextBlob? {
        guard bytes.count >= 14, bytes[0] == formatVersion, bytes[1..<13].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        let idLength = Int(bytes[13])
        let fixed = 14 + idLength + 4 + nonceSize + tagSize
        guard idLength > 0, bytes.count >= fixed,
              bytes[14..<(14 + idLength)].allSatisfy({ $0 == UInt8(ascii: "-") || ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x7A) })
        else { return nil }
        let account = String(decoding: bytes[1..<13], as: UTF8.self)
        let keyId = String(decoding: bytes[14..<(14 + idLength)], as: UTF8.self)  // ASCII, checked above
        let p = 14 + idLength
        let version = UInt32(bytes[p]) << 24 | UInt32(bytes[p + 1]) << 16 | UInt32(bytes[p + 2]) << 8 | UInt32(bytes[p + 3])
        return CiphertextBlob(account: account, keyId: keyId, materialVersion: version, bytes: bytes, headerLength: p + 4)
    }
}
