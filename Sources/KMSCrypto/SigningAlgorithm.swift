/// AWS KMS `SigningAlgorithmSpec`.
public enum SigningAlgorithm: String, Sendable, CaseIterable, Codable {
    case rsassaPSSSHA256 = "RSASSA_PSS_SHA_256"
    case rsassaPSSSHA384 = "RSASSA_PSS_SHA_384"
    case rsassaPSSSHA512 = "RSASSA_PSS_SHA_512"
    case rsassaPKCS1v15SHA256 = "RSASSA_PKCS1_V1_5_SHA_256"
    case rsassaPKCS1v15SHA384 = "RSASSA_PKCS1_V1_5_SHA_384"
    case rsassaPKCS1v15SHA512 = "RSASSA_PKCS1_V1_5_SHA_512"
    case ecdsaSHA256 = "ECDSA_SHA_256"
    case ecdsaSHA384 = "ECDSA_SHA_384"
    case ecdsaSHA512 = "ECDSA_SHA_512"
    case sm2DSA = "SM2DSA"
    case mlDSASHAKE256 = "ML_DSA_SHAKE_256"
    case ed25519SHA512 = "ED25519_SHA_512"
    case ed25519PHSHA512 = "ED25519_PH_SHA_512"

    /// The MessageTypes AWS KMS accepts with this algorithm. Ed25519 is strict both ways:
    /// ED25519_SHA_512 needs RAW, ED25519_PH_SHA_512 needs DIGEST (AWS API reference,
    /// Sign/MessageType); ML-DSA takes RAW or EXTERNAL_MU, never DIGEST.
    public var supportedMessageTypes: [MessageType] {
        switch self {
        case .ed25519SHA512: return [.raw]
        case .ed25519PHSHA512: return [.digest]
        case .mlDSASHAKE256: return [.raw, .externalMu]
        default: return [.raw, .digest]
        }
    }

    /// Required byte length of a DIGEST (or EXTERNAL_MU) message, or nil if that
    /// MessageType is not accepted.
    public func requiredMessageLength(for messageType: MessageType) -> Int? {
        guard messageType != .raw, supportedMessageTypes.contains(messageType) else { return nil }
        if messageType == .externalMu { return 64 }
        return hash?.digestLength
    }

    /// The hash named by the algorithm (SM3 for SM2DSA); nil for ML-DSA (SHAKE256 is
    /// internal to ML-DSA).
    var hash: HashAlgorithm? {
        switch self {
        case .rsassaPSSSHA256, .rsassaPKCS1v15SHA256, .ecdsaSHA256: return .sha256
        case .rsassaPSSSHA384, .rsassaPKCS1v15SHA384, .ecdsaSHA384: return .sha384
        case .rsassaPSSSHA512, .rsassaPKCS1v15SHA512, .ecdsaSHA512: return .sha512
        case .ed25519SHA512, .ed25519PHSHA512: return .sha512
        case .sm2DSA: return .sm3
        case .mlDSASHAKE256: return nil
        }
    }

    var isRSAPSS: Bool {
        self == .rsassaPSSSHA256 || self == .rsassaPSSSHA384 || self == .rsassaPSSSHA512
    }

    var isRSAPKCS1: Bool {
        self == .rsassaPKCS1v15SHA256 || self == .rsassaPKCS1v15SHA384 || self == .rsassaPKCS1v15SHA512
    }

    /// Checks the MessageType and, for DIGEST/EXTERNAL_MU, the message length.
    func validate(message: [UInt8], messageType: MessageType) throws {
        guard supportedMessageTypes.contains(messageType) else {
            throw KMSCryptoError.unsupportedMessageType(algorithm: self, messageType: messageType)
        }
        if let expected = requiredMessageLength(for: messageType), message.count != expected {
            throw KMSCryptoError.invalidMessageLength(
                messageType: messageType, expected: expected, actual: message.count)
        }
    }
}
