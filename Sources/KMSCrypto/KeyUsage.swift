/// AWS KMS `KeyUsageType`.
public enum KeyUsage: String, Sendable, CaseIterable, Codable {
    case signVerify = "SIGN_VERIFY"
    case encryptDecrypt = "ENCRYPT_DECRYPT"
    case generateVerifyMac = "GENERATE_VERIFY_MAC"
    case keyAgreement = "KEY_AGREEMENT"
}
