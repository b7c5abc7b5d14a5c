/// AES-256-GCM under one version of a symmetric key, producing and opening `CiphertextBlob`s.
public enum SymmetricCipher {
    public static func encrypt(plaintext: [UInt8], account: String, keyId: String, material: KeyMaterial,
                               context: [String: String]?) throws(KMSError) -> [UInt8] {
        guard let aes = material.aesKey else { throw KMSError.internalError }
        var out = CiphertextBlob.header(account: account, keyId: keyId, materialVersion: material.version,
                                        reservingExtra: CiphertextBlob.nonceSize + plaintext.count + CiphertextBlob.tagSize)
        let aad = EncryptionContext.appendCanonicalBytes(context, to: out)
        var nonce = (UInt64(0), UInt32(0))  // 12 bytes, fresh from the CSPRNG for every blob
        withUnsafeMutableBytes(of: &nonce) { NonceSource.shared.fill($0) }
        do {
            try withUnsafeBytes(of: &nonce) { nonceBytes in
                out.append(contentsOf: nonceBytes)
                try plaintext.withUnsafeBytes { plain in
                    try aad.withUnsafeBytes { aadBytes in
                        try aes.seal(plain, nonce: nonceBytes, authenticating: aadBytes, appendingTo: &out)
                    }
                }
            }
        } catch {
            throw KMSError.internalError
        }
        return out
    }

    /// Opens a parsed blob; any failure (wrong context, tampering) is InvalidCiphertextException.
    public static func decrypt(blob: CiphertextBlob, material: KeyMaterial,
                               context: [String: String]?) throws(KMSError) -> [UInt8] {
        guard let aes = material.aesKey else { throw KMSError.invalidCiphertext }
        // The header as it arrived is what was authenticated (parse checked its layout).
        let aad = EncryptionContext.appendCanonicalBytes(context, to: blob.headerBytes)
        do {
            return try blob.bytes.withUnsafeBytes { all in
                let ciphertext = UnsafeRawBufferPointer(rebasing: all[blob.ciphertextBytes.indices])
                let tag = UnsafeRawBufferPointer(rebasing: all[blob.tagBytes.indices])
                let nonce = UnsafeRawBufferPointer(rebasing: all[blob.nonceBytes.indices])
                return try aad.withUnsafeBytes { aadBytes in
                    try aes.open(ciphertext, tag: tag, nonce: nonce, authenticating: aadBytes)
                }
            }
        } catch {
            throw KMSError.invalidCiphertext
        }
    }
}
