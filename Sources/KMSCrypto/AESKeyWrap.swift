import COpenSSL

/// AES Key Wrap with Padding (RFC 5649), through OpenSSL's EVP_aes_*_wrap_pad: the inner
/// layer of the RSA_AES_KEY_WRAP_SHA_* import wrapping algorithms, where the key material
/// is wrapped under an ephemeral AES key and that key is RSA-OAEP-wrapped.
public enum AESKeyWrap {
    /// Unwraps `wrapped` under `kek` (16, 24 or 32 bytes). Any failure, including the
    /// RFC 5649 integrity check, is `invalidCiphertext` with no detail.
    public static func unwrapWithPadding(_ wrapped: [UInt8], kek: [UInt8]) throws(KMSCryptoError) -> [UInt8] {
        // RFC 5649: at least two 64-bit blocks, a whole number of blocks.
        guard wrapped.count >= 16, wrapped.count % 8 == 0 else { throw .invalidCiphertext }
        return try run(wrapped, kek: kek, encrypt: false)
    }

    /// Wraps `plaintext` under `kek` (tests and tools; the server only unwraps).
    public static func wrapWithPadding(_ plaintext: [UInt8], kek: [UInt8]) throws(KMSCryptoError) -> [UInt8] {
        guard !plaintext.isEmpty else { throw .invalidCiphertext }
        return try run(plaintext, kek: kek, encrypt: true)
    }

    private static func cipher(forKeyLength n: Int) -> OpaquePointer? {
        switch n {
        case 16: EVP_aes_128_wrap_pad()
        case 24: EVP_aes_192_wrap_pad()
        case 32: EVP_aes_256_wrap_pad()
        default: nil
        }
    }

    private static func run(_ input: [UInt8], kek: [UInt8], encrypt: Bool) throws(KMSCryptoError) -> [UInt8] {
        guard let cipher = cipher(forKeyLength: kek.count) else { throw .invalidCiphertext }
        guard let ctx = EVP_CIPHER_CTX_new() else { throw OpenSSL.failure("EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(ctx) }
        // Wrap modes must be allowed explicitly on an EVP context.
        EVP_CIPHER_CTX_set_flags(ctx, Int32(EVP_CIPHER_CTX_FLAG_WRAP_ALLOW))
        // Output: input + 15 bytes at most (padding to a block plus the 8-byte integrity block).
        var out = [UInt8](repeating: 0, count: input.count + 16)
        var written: Int32 = 0
        var final: Int32 = 0
        let ok = kek.withUnsafeBufferPointer { k in
            EVP_CipherInit_ex2(ctx, cipher, k.baseAddress, nil, encrypt ? 1 : 0, nil) == 1
                && out.withUnsafeMutableBufferPointer { o in
                    input.withUnsafeBufferPointer { i in
                        EVP_CipherUpdate(ctx, o.baseAddress, &written, i.baseAddress, Int32(i.count)) == 1
                            && EVP_CipherFinal_ex(ctx, o.baseAddress.map { $0 + Int(written) }, &final) == 1
                    }
                }
        }
        guard ok, written >= 0, final >= 0 else {
            secureZero(&out)
            ERR_clear_error()
            throw .invalidCiphertext
        }
        let count = Int(written) + Int(final)
        let result = Array(out[0..<count])
        secureZero(&out)
        return result
    }
}
