/// AWS KMS `KeySpec`: all 17 values of the service model, raw values as AWS spells them.
public enum KeySpec: String, Sendable, CaseIterable, Codable {
    case rsa2048 = "RSA_2048"
    case rsa3072 = "RSA_3072"
    case rsa4096 = "RSA_4096"
    case eccNISTP256 = "ECC_NIST_P256"
    case eccNISTP384 = "ECC_NIST_P384"
    case eccNISTP521 = "ECC_NIST_P521"
    case eccSECGP256K1 = "ECC_SECG_P256K1"
    case symmetricDefault = "SYMMETRIC_DEFAULT"
    case hmac224 = "HMAC_224"
    case hmac256 = "HMAC_256"
    case hmac384 = "HMAC_384"
    case hmac512 = "HMAC_512"
    case sm2 = "SM2"
    case mlDSA44 = "ML_DSA_44"
    case mlDSA65 = "ML_DSA_65"
    case mlDSA87 = "ML_DSA_87"
    case eccNISTEdwards25519 = "ECC_NIST_EDWARDS25519"

    /// Asymmetric specs are the ones with a public key (everything but SYMMETRIC_DEFAULT and HMAC).
    public var isAsymmetric: Bool {
        switch self {
        case .symmetricDefault, .hmac224, .hmac256, .hmac384, .hmac512: return false
        default: return true
        }
    }

    public var isHMAC: Bool {
        macAlgorithm != nil
    }

    /// Key usages AWS KMS allows for this spec at CreateKey.
    public var validKeyUsages: [KeyUsage] {
        switch self {
        case .symmetricDefault: return [.encryptDecrypt]
        case .rsa2048, .rsa3072, .rsa4096: return [.encryptDecrypt, .signVerify]
        case .eccNISTP256, .eccNISTP384, .eccNISTP521: return [.signVerify, .keyAgreement]
        case .eccSECGP256K1, .eccNISTEdwards25519: return [.signVerify]
        case .mlDSA44, .mlDSA65, .mlDSA87: return [.signVerify]
        case .sm2: return [.encryptDecrypt, .signVerify, .keyAgreement]
        case .hmac224, .hmac256, .hmac384, .hmac512: return [.generateVerifyMac]
        }
    }

    /// Signing algorithms for DescribeKey/GetPublicKey; empty unless usage is SIGN_VERIFY.
    /// Order follows what AWS returns.
    public func signingAlgorithms(for usage: KeyUsage) -> [SigningAlgorithm] {
        guard usage == .signVerify, validKeyUsages.contains(usage) else { return [] }
        switch self {
        case .rsa2048, .rsa3072, .rsa4096:
            return [.rsassaPKCS1v15SHA256, .rsassaPKCS1v15SHA384, .rsassaPKCS1v15SHA512,
                    .rsassaPSSSHA256, .rsassaPSSSHA384, .rsassaPSSSHA512]
        case .eccNISTP256, .eccSECGP256K1: return [.ecdsaSHA256]
        case .eccNISTP384: return [.ecdsaSHA384]
        case .eccNISTP521: return [.ecdsaSHA512]
        case .eccNISTEdwards25519: return [.ed25519SHA512, .ed25519PHSHA512]
        case .mlDSA44, .mlDSA65, .mlDSA87: return [.mlDSASHAKE256]
        case .sm2: return [.sm2DSA]
        default: return []
        }
    }

    /// Encryption algorithms for DescribeKey/GetPublicKey; empty unless usage is ENCRYPT_DECRYPT.
    public func encryptionAlgorithms(for usage: KeyUsage) -> [EncryptionAlgorithm] {
        guard usage == .encryptDecrypt, validKeyUsages.contains(usage) else { return [] }
        switch self {
        case .symmetricDefault: return [.symmetricDefault]
        case .rsa2048, .rsa3072, .rsa4096: return [.rsaesOAEPSHA1, .rsaesOAEPSHA256]
        case .sm2: return [.sm2PKE]
        default: return []
        }
    }

    /// MAC algorithms; one per HMAC spec, empty otherwise.
    public var macAlgorithms: [MacAlgorithm] {
        macAlgorithm.map { [$0] } ?? []
    }

    /// Key agreement algorithms; empty unless usage is KEY_AGREEMENT.
    public func keyAgreementAlgorithms(for usage: KeyUsage) -> [KeyAgreementAlgorithm] {
        guard usage == .keyAgreement, validKeyUsages.contains(usage) else { return [] }
        return [.ecdh]
    }

    /// The HMAC algorithm of an HMAC spec.
    public var macAlgorithm: MacAlgorithm? {
        switch self {
        case .hmac224: return .hmacSHA224
        case .hmac256: return .hmacSHA256
        case .hmac384: return .hmacSHA384
        case .hmac512: return .hmacSHA512
        default: return nil
        }
    }

    /// RSA modulus size in bits, nil for non-RSA specs.
    public var rsaModulusBits: Int? {
        switch self {
        case .rsa2048: return 2048
        case .rsa3072: return 3072
        case .rsa4096: return 4096
        default: return nil
        }
    }

    /// The elliptic curve of ECDSA/ECDH/SM2 specs (not Ed25519).
    var curve: ECCurve? {
        switch self {
        case .eccNISTP256: return .p256
        case .eccNISTP384: return .p384
        case .eccNISTP521: return .p521
        case .eccSECGP256K1: return .secp256k1
        case .sm2: return .sm2
        default: return nil
        }
    }

    /// Which family of code implements the spec.
    var family: KeyFamily {
        switch self {
        case .rsa2048, .rsa3072, .rsa4096: return .rsa
        case .eccNISTP256, .eccNISTP384, .eccNISTP521, .eccSECGP256K1: return .ecc
        case .sm2: return .sm2
        case .eccNISTEdwards25519: return .ed25519
        case .mlDSA44, .mlDSA65, .mlDSA87: return .mlDSA
        case .hmac224, .hmac256, .hmac384, .hmac512: return .hmac
        case .symmetricDefault: return .symmetric
        }
    }
}

enum KeyFamily: Sendable {
    case rsa, ecc, sm2, ed25519, mlDSA, hmac, symmetric
}
