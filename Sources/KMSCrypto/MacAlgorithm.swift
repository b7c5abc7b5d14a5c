/// AWS KMS `MacAlgorithmSpec`.
public enum MacAlgorithm: String, Sendable, CaseIterable, Codable {
    case hmacSHA224 = "HMAC_SHA_224"
    case hmacSHA256 = "HMAC_SHA_256"
    case hmacSHA384 = "HMAC_SHA_384"
    case hmacSHA512 = "HMAC_SHA_512"

    /// Length of the MAC (the hash output) in bytes.
    public var macLength: Int {
        switch self {
        case .hmacSHA224: return 28
        case .hmacSHA256: return 32
        case .hmacSHA384: return 48
        case .hmacSHA512: return 64
        }
    }

    var hash: HashAlgorithm {
        switch self {
        case .hmacSHA224: return .sha224
        case .hmacSHA256: return .sha256
        case .hmacSHA384: return .sha384
        case .hmacSHA512: return .sha512
        }
    }
}
