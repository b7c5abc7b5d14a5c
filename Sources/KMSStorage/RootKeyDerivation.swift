import Crypto

extension RootKey {
    /// A 256-bit key for one purpose, derived from the root key with HKDF-SHA256 (RFC 5869;
    /// `label` as the info, no salt). Keys for different labels are independent, so a key
    /// derived for session tokens can seal nothing that the root key's own seals could be
    /// confused with; every node with the same root key derives the same key.
    public func derivedKey(label: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: key, info: Array(label.utf8), outputByteCount: 32)
    }
}
