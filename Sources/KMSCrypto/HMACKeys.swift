import COpenSSL
import Crypto

/// HMAC_224/256/384/512 keys (GENERATE_VERIFY_MAC). Keys are raw bytes; generated keys
/// have the hash output length (28/32/48/64 bytes). HMAC-SHA-256/384/512 use swift-crypto;
/// HMAC-SHA-224 uses OpenSSL because swift-crypto has no SHA-224.
public enum HMACKey {
    /// Key length in bytes AWS KMS generates for an HMAC key spec; nil for other specs.
    public static func keyLength(for spec: KeySpec) -> Int? {
        spec.macAlgorithm?.macLength
    }

    /// Key lengths accepted for a spec: from the hash length up to the hash block size
    /// (64 bytes for SHA-224/256, 128 for SHA-384/512), the range AWS accepts for imported
    /// HMAC key material. Shorter keys weaken HMAC; longer ones would be hashed first.
    public static func validKeyLengths(for spec: KeySpec) -> ClosedRange<Int>? {
        guard let algorithm = spec.macAlgorithm else { return nil }
        let blockSize = algorithm == .hmacSHA224 || algorithm == .hmacSHA256 ? 64 : 128
        return algorithm.macLength...blockSize
    }

    /// Fresh random key material for an HMAC key spec.
    public static func generate(_ spec: KeySpec) throws -> [UInt8] {
        guard let length = keyLength(for: spec) else { throw KMSCryptoError.unsupportedKeySpec(spec) }
        let key = SymmetricKey(size: SymmetricKeySize(bitCount: length * 8))
        return key.withUnsafeBytes { Array($0) }
    }

    /// GenerateMac: HMAC of `message` under `key`. The algorithm must be the spec's one.
    public static func mac(spec: KeySpec, algorithm: MacAlgorithm, key: [UInt8], message: [UInt8]) throws -> [UInt8] {
        try validate(spec: spec, algorithm: algorithm, key: key)
        return try authenticationCode(algorithm: algorithm, key: key, message: message)
    }

    /// VerifyMac: whether `mac` is the HMAC of `message`, compared in constant time.
    /// A MAC of the wrong length is simply invalid (false).
    public static func verify(
        spec: KeySpec, algorithm: MacAlgorithm, key: [UInt8], message: [UInt8], mac: [UInt8]
    ) throws -> Bool {
        try validate(spec: spec, algorithm: algorithm, key: key)
        var expected = try authenticationCode(algorithm: algorithm, key: key, message: message)
        defer { secureZero(&expected) }
        return constantTimeEquals(expected, mac)
    }

    static func validate(spec: KeySpec, algorithm: MacAlgorithm, key: [UInt8]) throws {
        guard spec.isHMAC else { throw KMSCryptoError.unsupportedKeySpec(spec) }
        guard spec.macAlgorithm == algorithm else {
            throw KMSCryptoError.incompatibleAlgorithm(keySpec: spec, algorithm: algorithm.rawValue)
        }
        guard let lengths = validKeyLengths(for: spec), lengths.contains(key.count) else {
            throw KMSCryptoError.invalidMacKey
        }
    }

    /// Plain HMAC (RFC 2104) with any key length and no key-spec policy, e.g. for RFC 4231
    /// vectors. KMS operations should use `mac(spec:...)` / `verify(spec:...)`.
    public static func authenticationCode(algorithm: MacAlgorithm, key: [UInt8], message: [UInt8]) throws -> [UInt8] {
        let symmetricKey = SymmetricKey(data: key)
        switch algorithm {
        case .hmacSHA256: return Array(HMAC<SHA256>.authenticationCode(for: message, using: symmetricKey))
        case .hmacSHA384: return Array(HMAC<SHA384>.authenticationCode(for: message, using: symmetricKey))
        case .hmacSHA512: return Array(HMAC<SHA512>.authenticationCode(for: message, using: symmetricKey))
        case .hmacSHA224: return try openSSLHMAC(digestName: "SHA224", key: key, message: message, length: 28)
        }
    }

    private static func openSSLHMAC(digestName: String, key: [UInt8], message: [UInt8], length: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: length)
        var written = 0
        let result = key.withUnsafeBufferPointer { k in
            message.withUnsafeBufferPointer { m in
                out.withUnsafeMutableBufferPointer { o in
                    // EVP_Q_mac needs a non-null key pointer even for an empty key.
                    withUnsafePointer(to: UInt8(0)) { empty in
                        EVP_Q_mac(nil, "HMAC", nil, digestName, nil,
                                  k.baseAddress ?? empty, k.count,
                                  m.baseAddress ?? empty, m.count,
                                  o.baseAddress, o.count, &written)
                    }
                }
            }
        }
        guard result != nil, written == length else { throw OpenSSL.failure("EVP_Q_mac") }
        return out
    }
}

/// Equality whose running time depends only on the lengths, not on where bytes differ.
func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for i in a.indices { difference |= a[i] ^ b[i] }
    return difference == 0
}
