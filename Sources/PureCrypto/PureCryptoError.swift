/// Why a PureCrypto operation refused its input. Messages never contain key material.
public enum PureCryptoError: Error, Sendable, Equatable {
    /// A seed (ML-DSA ξ or Ed25519 private key) was not 32 bytes.
    case invalidSeedLength(expected: Int, actual: Int)
    /// A public key had the wrong length for its algorithm or parameter set.
    case invalidPublicKeyLength(expected: Int, actual: Int)
    /// A context string was longer than 255 bytes (FIPS 204 and RFC 8032 both cap it there).
    case contextTooLong(length: Int)
    /// An external μ was not 64 bytes.
    case invalidMuLength(actual: Int)
    /// A prehash for Ed25519ph was not a 64-byte SHA-512 digest.
    case invalidPrehashLength(actual: Int)
    /// ML-DSA signing exhausted its rejection-sampling budget (probability far below 2^-100).
    case signingFailed
}
