/// AWS KMS `DataKeyPairSpec` (GenerateDataKeyPair, GenerateDataKeyPairWithoutPlaintext).
public enum DataKeyPairSpec: String, Sendable, CaseIterable, Codable {
    case rsa2048 = "RSA_2048"
    case rsa3072 = "RSA_3072"
    case rsa4096 = "RSA_4096"
    case eccNISTP256 = "ECC_NIST_P256"
    case eccNISTP384 = "ECC_NIST_P384"
    case eccNISTP521 = "ECC_NIST_P521"
    case eccSECGP256K1 = "ECC_SECG_P256K1"
    case sm2 = "SM2"
    case eccNISTEdwards25519 = "ECC_NIST_EDWARDS25519"

    /// The KeySpec with the same key material (the raw values coincide).
    public var keySpec: KeySpec {
        switch self {
        case .rsa2048: return .rsa2048
        case .rsa3072: return .rsa3072
        case .rsa4096: return .rsa4096
        case .eccNISTP256: return .eccNISTP256
        case .eccNISTP384: return .eccNISTP384
        case .eccNISTP521: return .eccNISTP521
        case .eccSECGP256K1: return .eccSECGP256K1
        case .sm2: return .sm2
        case .eccNISTEdwards25519: return .eccNISTEdwards25519
        }
    }
}
