/// AES-256-GCM under one version of a symmetric key, producing and opening `CiphertextBlob`s.
/// Format v2 (written) derives a key per message from the material and a random salt;
/// format v1 (read, and written only for benchmarks) used the material directly.
public enum SymmetricCipher {
    public static func encrypt(plaintext: [UInt8], account: String, keyId: String, material: KeyMaterial,
                               context: [String: String]?,
                               format: UInt8 = CiphertextBlob.formatVersion) throws(KMSError) -> [UInt8] {
        let randomSize = CiphertextBlob.randomFieldSize(format: format)
        var out = CiphertextBlob.header(format: format, account: account, keyId: keyId, materialVersion: material.version,
                                        reservingExtra: randomSize + plaintext.count + CiphertextBlob.tagSize)
        let aad = EncryptionContext.appendCanonicalBytes(context, to: out)
        // 32 bytes, fresh from the CSPRNG for every blob: the v2 salt, or (first 12) the v1 nonce.
        var random = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        do {
            try withUnsafeMutableBytes(of: &random) { buffer in
                let field = UnsafeMutableRawBufferPointer(rebasing: buffer[..<randomSize])
                NonceSource.shared.fill(field)
                out.append(contentsOf: field)
                try plaintext.withUnsafeBytes { plain in
                    try aad.withUnsafeBytes { aadBytes in
                        if format == CiphertextBlob.formatVersion1 {
                            guard let aes = material.aesKey else { throw KMSError.internalError }
                            try aes.seal(plain, nonce: UnsafeRawBufferPointer(field), authenticating: aadBytes, appendingTo: &out)
                        } else {
                            guard let cipher = material.messageKeyCipher else { throw KMSError.internalError }
                            try cipher.seal(plain, salt: UnsafeRawBufferPointer(field), authenticating: aadBytes, appendingTo: &out)
                        }
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
        // The header as it arrived is what was authenticated (parse checked its layout).
        let aad = EncryptionContext.appendCanonicalBytes(context, to: blob.headerBytes)
        do {
            return try blob.bytes.withUnsafeBytes { all in
                let ciphertext = UnsafeRawBufferPointer(rebasing: all[blob.ciphertextBytes.indices])
                let tag = UnsafeRawBufferPointer(rebasing: all[blob.tagBytes.indices])
                let random = UnsafeRawBufferPointer(rebasing: all[blob.randomBytes.indices])
                return try aad.withUnsafeBytes { aadBytes in
                    if blob.format == CiphertextBlob.formatVersion1 {
                        guard let aes = material.aesKey else { throw KMSError.invalidCiphertext }
                        return try aes.open(ciphertext, tag: tag, nonce: random, authenticating: aadBytes)
                    }
                    guard let cipher = material.messageKeyCipher else { throw KMSError.invalidCiphertext }
                    return try cipher.open(ciphertext, tag: tag, salt: random, authenticating: aadBytes)
                }
            }
        } catch {
            throw KMSError.invalidCiphertext
        }
    }
}
