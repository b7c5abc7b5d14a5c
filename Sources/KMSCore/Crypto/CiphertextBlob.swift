/// The self-describing ciphertext of symmetric operations (format in docs/CIPHERTEXT.md):
///
///     v2: 0x02 | account (12 ASCII digits) | keyIdLength (1) | keyId (ASCII) | materialVersion (4, big endian)
///              | salt (32) | ciphertext | tag (16)        (AES-256-GCM under a key derived from the salt)
///     v1: 0x01 | ... same header ...                      | nonce (12) | ciphertext | tag (16)
///                                                         (AES-256-GCM directly under the material; read only)
///
/// Everything before the salt or nonce is the header; it is authenticated together with
/// the encryption context, so a blob cannot be re-labelled with another key or version.
/// The region is deliberately absent: multi-Region replicas share key ID and material.
public struct CiphertextBlob: Sendable, Equatable {
    /// The format written by Encrypt and friends.
    public static let formatVersion: UInt8 = 2
    /// The first format: a random nonce directly under the key material. Still decrypts;
    /// written only by the benchmark-only `--ciphertext-format 1`.
    public static let formatVersion1: UInt8 = 1
    public static let nonceSize = 12
    public static let saltSize = 32
    public static let tagSize = 16

    public let format: UInt8
    public let account: String
    public let keyId: String
    public let materialVersion: UInt32
    /// The whole blob; the fields below are views into it, so opening a blob copies nothing.
    public let bytes: [UInt8]
    let headerLength: Int

    /// Bytes of the per-message random field: the GCM nonce (v1) or the KDF salt (v2).
    public static func randomFieldSize(format: UInt8) -> Int { format == formatVersion1 ? nonceSize : saltSize }
    var randomFieldSize: Int { Self.randomFieldSize(format: format) }

    /// The per-message random field (v1 nonce, v2 salt).
    public var nonce: [UInt8] { Array(randomBytes) }
    public var ciphertext: [UInt8] { Array(ciphertextBytes) }
    public var tag: [UInt8] { Array(tagBytes) }

    var headerBytes: ArraySlice<UInt8> { bytes[..<headerLength] }
    var randomBytes: ArraySlice<UInt8> { bytes[headerLength..<(headerLength + randomFieldSize)] }
    var ciphertextBytes: ArraySlice<UInt8> { bytes[(headerLength + randomFieldSize)..<(bytes.count - Self.tagSize)] }
    var tagBytes: ArraySlice<UInt8> { bytes[(bytes.count - Self.tagSize)...] }

    /// Assembles a blob from its fields (tests use it to relabel one).
    public init(format: UInt8 = formatVersion, account: String, keyId: String, materialVersion: UInt32,
                nonce: [UInt8], ciphertext: [UInt8], tag: [UInt8]) {
        var out = Self.header(format: format, account: account, keyId: keyId, materialVersion: materialVersion,
                              reservingExtra: nonce.count + ciphertext.count + tag.count)
        let headerLength = out.count
        out.append(contentsOf: nonce)
        out.append(contentsOf: ciphertext)
        out.append(contentsOf: tag)
        self.init(format: format, account: account, keyId: keyId, materialVersion: materialVersion, bytes: out,
                  headerLength: headerLength)
    }

    private init(format: UInt8, account: String, keyId: String, materialVersion: UInt32, bytes: [UInt8], headerLength: Int) {
        self.format = format
        self.account = account
        self.keyId = keyId
        self.materialVersion = materialVersion
        self.bytes = bytes
        self.headerLength = headerLength
    }

    public static func header(format: UInt8 = formatVersion, account: String, keyId: String, materialVersion: UInt32,
                              reservingExtra extra: Int = 0) -> [UInt8] {
        var out: [UInt8] = []
        // One allocation for the header and, when the caller says how much, what follows it.
        out.reserveCapacity(1 + account.utf8.count + 1 + keyId.utf8.count + 4 + extra)
        out.append(format)
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

    /// Parses a blob of either format; nil for anything that is not one of ours (the
    /// caller answers InvalidCiphertextException without saying why).
    public static func parse(_ bytes: [UInt8]) -> CiphertextBlob? {
        guard bytes.count >= 14, bytes[0] == formatVersion || bytes[0] == formatVersion1,
              bytes[1..<13].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        let format = bytes[0]
        let idLength = Int(bytes[13])
        let fixed = 14 + idLength + 4 + randomFieldSize(format: format) + tagSize
        guard idLength > 0, bytes.count >= fixed,
              bytes[14..<(14 + idLength)].allSatisfy({ $0 == UInt8(ascii: "-") || ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x7A) })
        else { return nil }
        let account = String(decoding: bytes[1..<13], as: UTF8.self)
        let keyId = String(decoding: bytes[14..<(14 + idLength)], as: UTF8.self)  // ASCII, checked above
        let p = 14 + idLength
        let version = UInt32(bytes[p]) << 24 | UInt32(bytes[p + 1]) << 16 | UInt32(bytes[p + 2]) << 8 | UInt32(bytes[p + 3])
        return CiphertextBlob(format: format, account: account, keyId: keyId, materialVersion: version, bytes: bytes,
                              headerLength: p + 4)
    }
}
