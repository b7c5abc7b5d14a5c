import Crypto

/// AES-256-GCM under one version of a symmetric key, producing and opening `CiphertextBlob`s.
public enum SymmetricCipher {
    public static func encrypt(plaintext: [UInt8], account: String, keyId: String, material: KeyMaterial,
                               context: [String: String]?) throws(KMSError) -> [UInt8] {
        let header = CiphertextBlob.header(account: account, keyId: keyId, materialVersion: material.version)
        let aad = header + EncryptionContext.canonicalBytes(context)
        do {
            let sealed = try AES.GCM.seal(plaintext, using: material.symmetricKey,
                                          nonce: NonceSource.shared.nonce(), authenticating: aad)
            var out = header
            out.reserveCapacity(header.count + 12 + plaintext.count + 16)
            out.append(contentsOf: sealed.nonce)
            out.append(contentsOf: sealed.ciphertext)
            out.append(contentsOf: sealed.tag)
            return out
        } catch {
            throw KMSError.internalError
        }
    }

    /// Opens a parsed blob; any failure (wrong context, tampering) is InvalidCiphertextException.
    public static func decrypt(blob: CiphertextBlob, material: KeyMaterial,
                               context: [String: String]?) throws(KMSError) -> [UInt8] {
        let aad = blob.header + EncryptionContext.canonicalBytes(context)
        do {
            let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: blob.nonce), ciphertext: blob.ciphertext, tag: blob.tag)
            let plain = try AES.GCM.open(box, using: material.symmetricKey, authenticating: aad)
            return [UInt8](plain)
        } catch {
            throw KMSError.invalidCiphertext
        }
    }

    /// CSPRNG bytes through swift-crypto (BoringSSL's RAND_bytes, seeded by the OS).
    public static func randomBytes(_ count: Int) -> [UInt8] {
        guard count > 0 else { return [] }
        return SymmetricKey(size: SymmetricKeySize(bitCount: count * 8)).withUnsafeBytes { Array($0) }
    }
}
