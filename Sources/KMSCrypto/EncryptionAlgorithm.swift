/// AWS KMS `EncryptionAlgorithmSpec`. SYMMETRIC_DEFAULT is listed for completeness
/// (DescribeKey) but is implemented by the core, not here.
public enum EncryptionAlgorithm: String, Sendable, CaseIterable, Codable {
    case symmetricDefault = "SYMMETRIC_DEFAULT"
    case rsaesOAEPSHA1 = "RSAES_OAEP_SHA_1"
    case rsaesOAEPSHA256 = "RSAES_OAEP_SHA_256"
    case sm2PKE = "SM2PKE"

    /// Hash used by OAEP (for both the label hash and MGF1, as AWS documents).
    var oaepHash: HashAlgorithm? {
        switch self {
        case .rsaesOAEPSHA1: return .sha1
        case .rsaesOAEPSHA256: return .sha256
        case .symmetricDefault, .sm2PKE: return nil
        }
    }

    /// The largest plaintext AWS KMS accepts for this algorithm with `spec`, or nil if the
    /// pair is not valid. RSA: k - 2·hLen - 2 (RFC 8017 7.1.1), e.g. RSA_2048 with
    /// SHA-256 = 190. SM2PKE: 1024. SYMMETRIC_DEFAULT: 4096.
    public func maxPlaintextLength(for spec: KeySpec) -> Int? {
        switch (self, spec) {
        case (.symmetricDefault, .symmetricDefault):
            return 4096
        case (.rsaesOAEPSHA1, _), (.rsaesOAEPSHA256, _):
            guard let bits = spec.rsaModulusBits, let hash = oaepHash else { return nil }
            return bits / 8 - 2 * hash.digestLength - 2
        case (.sm2PKE, .sm2):
            return 1024
        default:
            return nil
        }
    }
}
