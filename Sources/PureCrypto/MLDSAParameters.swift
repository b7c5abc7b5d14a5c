// The three ML-DSA parameter sets of FIPS 204, Table 1, and the sizes they imply.

/// An ML-DSA security level.
public enum MLDSAParameterSet: Sendable, Hashable, CaseIterable {
    case mldsa44, mldsa65, mldsa87

    /// Length of an encoded public key (pkEncode).
    public var publicKeyByteCount: Int { parameters.publicKeyByteCount }
    /// Length of an encoded signature (sigEncode).
    public var signatureByteCount: Int { parameters.signatureByteCount }

    var parameters: MLDSAParameters {
        switch self {
        case .mldsa44:
            MLDSAParameters(k: 4, l: 4, eta: 2, tau: 39, lambda: 128, gamma1Bits: 17, gamma2: (MLDSAField.q - 1) / 88, omega: 80)
        case .mldsa65:
            MLDSAParameters(k: 6, l: 5, eta: 4, tau: 49, lambda: 192, gamma1Bits: 19, gamma2: (MLDSAField.q - 1) / 32, omega: 55)
        case .mldsa87:
            MLDSAParameters(k: 8, l: 7, eta: 2, tau: 60, lambda: 256, gamma1Bits: 19, gamma2: (MLDSAField.q - 1) / 32, omega: 75)
        }
    }
}

/// FIPS 204 constants for one parameter set, with the derived encoding widths.
struct MLDSAParameters: Sendable {
    /// Rows (k) and columns (l) of the matrix A.
    let k: Int
    let l: Int
    /// Bound on the secret coefficients.
    let eta: Int32
    /// Number of ±1 coefficients in the challenge polynomial.
    let tau: Int
    /// Collision strength in bits; the commitment hash c̃ is λ/4 bytes.
    let lambda: Int
    /// γ1 = 2^gamma1Bits, the range of the masking vector y.
    let gamma1Bits: Int
    /// Low-order rounding range.
    let gamma2: Int32
    /// Maximum number of 1s in the hint.
    let omega: Int

    var gamma1: Int32 { 1 << Int32(gamma1Bits) }
    var beta: Int32 { Int32(tau) * eta }
    var challengeByteCount: Int { lambda / 4 }
    /// Bits per coefficient of z in a signature: bitlen(2γ1 - 1).
    var zBits: Int { gamma1Bits + 1 }
    /// Bits per coefficient of w1: bitlen((q-1)/(2γ2) - 1).
    var w1Bits: Int { gamma2 == (MLDSAField.q - 1) / 88 ? 6 : 4 }
    /// Bits per coefficient of s1 and s2 in the private key: bitlen(2η).
    var etaBits: Int { eta == 2 ? 3 : 4 }

    var publicKeyByteCount: Int { 32 + k * 320 }
    var signatureByteCount: Int { challengeByteCount + l * 32 * zBits + omega + k }
    var privateKeyByteCount: Int { 128 + 32 * ((k + l) * etaBits + 13 * k) }
}
