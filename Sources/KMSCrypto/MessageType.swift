/// AWS KMS `MessageType` for Sign/Verify.
public enum MessageType: String, Sendable, CaseIterable, Codable {
    /// The message itself; the signing algorithm hashes it.
    case raw = "RAW"
    /// An already computed digest (its length must equal the algorithm's hash length).
    case digest = "DIGEST"
    /// The 64-byte ML-DSA message representative μ (FIPS 204, section 6.2).
    case externalMu = "EXTERNAL_MU"
}
