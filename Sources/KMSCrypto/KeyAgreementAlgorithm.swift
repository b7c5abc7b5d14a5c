/// AWS KMS `KeyAgreementAlgorithmSpec`.
public enum KeyAgreementAlgorithm: String, Sendable, CaseIterable, Codable {
    case ecdh = "ECDH"
}
