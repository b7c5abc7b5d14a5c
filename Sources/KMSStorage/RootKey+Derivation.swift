import Crypto

extension RootKey {
    /// A key for one purpose (e.g. "grant-token-v1"), derived from the root key with
    /// HKDF-SHA256: every node holding the root key derives the same one, and it is never
    /// stored. Distinct purposes give independent keys; the root key never leaves sealing.
    public func derivedKey(purpose: String) -> [UInt8] {
        let derived = HKDF<SHA256>.deriveKey(inputKeyMaterial: key, salt: Array("swift-kms derived key".utf8),
                                             info: Array(purpose.utf8), outputByteCount: 32)
        return derived.withUnsafeBytes { Array($0) }
    }
}
