import COpenSSL

/// Owns one OpenSSL `EVP_PKEY` (RSA, EC, SM2) and frees it on deinit.
///
/// An `EVP_PKEY` is never mutated after construction and every operation below creates
/// its own `EVP_PKEY_CTX`, which OpenSSL documents as safe for concurrent use; hence
/// `@unchecked Sendable`. Failures throw `KMSCryptoError.backendFailure` naming the OpenSSL
/// call only, never key bytes or OpenSSL's error strings (which may echo input data).
final class OpenSSLKey: @unchecked Sendable {
    let pkey: OpaquePointer

    /// Takes ownership of an `EVP_PKEY*` that the caller must not free.
    init(taking pkey: OpaquePointer) {
        self.pkey = pkey
    }

    deinit {
        EVP_PKEY_free(pkey)
    }

    // MARK: - Construction

    /// Generates a key of OpenSSL type `name` ("RSA", "EC", "SM2"); `configure` sets
    /// keygen parameters (bits, group) on the context.
    static func generate(
        type name: String,
        configure: (OpaquePointer) -> Int32
    ) throws -> OpenSSLKey {
        guard let ctx = EVP_PKEY_CTX_new_from_name(nil, name, nil) else {
            throw OpenSSL.failure("EVP_PKEY_CTX_new_from_name")
        }
        defer { EVP_PKEY_CTX_free(ctx) }
        guard EVP_PKEY_keygen_init(ctx) == 1 else { throw OpenSSL.failure("EVP_PKEY_keygen_init") }
        guard configure(ctx) == 1 else { throw OpenSSL.failure("keygen parameters") }
        var out: OpaquePointer? = nil
        guard EVP_PKEY_generate(ctx, &out) == 1, let key = out else {
            throw OpenSSL.failure("EVP_PKEY_generate")
        }
        return OpenSSLKey(taking: key)
    }

    /// Parses a PKCS#8 PrivateKeyInfo (DER). Trailing bytes are rejected.
    static func fromPKCS8(_ der: [UInt8]) throws -> OpenSSLKey {
        let info: OpaquePointer? = der.withUnsafeBufferPointer { buf -> OpaquePointer? in
            guard let start = buf.baseAddress else { return nil }
            var p: UnsafePointer<UInt8>? = start
            let parsed = d2i_PKCS8_PRIV_KEY_INFO(nil, &p, buf.count)
            if parsed != nil, p.map({ start.distance(to: $0) }) != buf.count {
                PKCS8_PRIV_KEY_INFO_free(parsed)
                return nil
            }
            return parsed
        }
        guard let info else { throw OpenSSL.failure("d2i_PKCS8_PRIV_KEY_INFO") }
        defer { PKCS8_PRIV_KEY_INFO_free(info) }
        guard let key = EVP_PKCS82PKEY(info) else { throw OpenSSL.failure("EVP_PKCS82PKEY") }
        return OpenSSLKey(taking: key)
    }

    /// Parses a DER SubjectPublicKeyInfo. Trailing bytes are rejected.
    static func fromSPKI(_ der: [UInt8]) throws -> OpenSSLKey {
        let key: OpaquePointer? = der.withUnsafeBufferPointer { buf -> OpaquePointer? in
            guard let start = buf.baseAddress else { return nil }
            var p: UnsafePointer<UInt8>? = start
            let parsed = d2i_PUBKEY(nil, &p, buf.count)
            if parsed != nil, p.map({ start.distance(to: $0) }) != buf.count {
                EVP_PKEY_free(parsed)
                return nil
            }
            return parsed
        }
        guard let key else { throw OpenSSL.failure("d2i_PUBKEY") }
        return OpenSSLKey(taking: key)
    }

    // MARK: - Encodings

    /// PKCS#8 PrivateKeyInfo DER (unencrypted).
    func pkcs8DER() throws -> [UInt8] {
        guard let info = EVP_PKEY2PKCS8(pkey) else { throw OpenSSL.failure("EVP_PKEY2PKCS8") }
        defer { PKCS8_PRIV_KEY_INFO_free(info) }
        let length = i2d_PKCS8_PRIV_KEY_INFO(info, nil)
        guard length > 0 else { throw OpenSSL.failure("i2d_PKCS8_PRIV_KEY_INFO") }
        var out = [UInt8](repeating: 0, count: Int(length))
        let written = out.withUnsafeMutableBufferPointer { buf -> Int32 in
            var p = buf.baseAddress
            return i2d_PKCS8_PRIV_KEY_INFO(info, &p)
        }
        guard written == length else {
            secureZero(&out)
            throw OpenSSL.failure("i2d_PKCS8_PRIV_KEY_INFO")
        }
        return out
    }

    /// SubjectPublicKeyInfo DER.
    func spkiDER() throws -> [UInt8] {
        let length = i2d_PUBKEY(pkey, nil)
        guard length > 0 else { throw OpenSSL.failure("i2d_PUBKEY") }
        var out = [UInt8](repeating: 0, count: Int(length))
        let written = out.withUnsafeMutableBufferPointer { buf -> Int32 in
            var p = buf.baseAddress
            return i2d_PUBKEY(pkey, &p)
        }
        guard written == length else { throw OpenSSL.failure("i2d_PUBKEY") }
        return out
    }

    /// An octet-string parameter (e.g. "pub", the encoded EC point).
    func octetStringParameter(_ name: String) throws -> [UInt8] {
        var length = 0
        guard EVP_PKEY_get_octet_string_param(pkey, name, nil, 0, &length) == 1, length > 0 else {
            throw OpenSSL.failure("EVP_PKEY_get_octet_string_param")
        }
        var out = [UInt8](repeating: 0, count: length)
        let ok = out.withUnsafeMutableBufferPointer {
            EVP_PKEY_get_octet_string_param(pkey, name, $0.baseAddress, length, &length)
        }
        guard ok == 1 else { throw OpenSSL.failure("EVP_PKEY_get_octet_string_param") }
        return Array(out.prefix(length))
    }

    /// A UTF-8 string parameter (e.g. "group", the EC curve name), nil if absent.
    func utf8StringParameter(_ name: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 80)
        var length = 0
        guard EVP_PKEY_get_utf8_string_param(pkey, name, &buffer, buffer.count, &length) == 1 else {
            ERR_clear_error()
            return nil
        }
        return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    var bits: Int { Int(EVP_PKEY_get_bits(pkey)) }

    func isA(_ name: String) -> Bool { EVP_PKEY_is_a(pkey, name) == 1 }

    // MARK: - Operations (each with its own EVP_PKEY_CTX)

    /// Signs an already-hashed input (`EVP_PKEY_sign`). `configure` sets padding/digest.
    func sign(digest: [UInt8], configure: (OpaquePointer) -> Bool = { _ in true }) throws -> [UInt8] {
        try withContext { ctx in
            guard EVP_PKEY_sign_init(ctx) == 1, configure(ctx) else { throw OpenSSL.failure("EVP_PKEY_sign_init") }
            return try OpenSSL.twoPass("EVP_PKEY_sign") { out, outLength in
                digest.withUnsafeBufferPointer { EVP_PKEY_sign(ctx, out, &outLength, $0.baseAddress, $0.count) }
            }
        }
    }

    /// Verifies a signature over an already-hashed input. Any failure, including a
    /// malformed signature, is `false`.
    func verify(signature: [UInt8], digest: [UInt8], configure: (OpaquePointer) -> Bool = { _ in true }) -> Bool {
        let result: Bool? = try? withContext { ctx in
            guard EVP_PKEY_verify_init(ctx) == 1, configure(ctx) else { return false }
            let rc = signature.withUnsafeBufferPointer { sig in
                digest.withUnsafeBufferPointer { dgst in
                    EVP_PKEY_verify(ctx, sig.baseAddress, sig.count, dgst.baseAddress, dgst.count)
                }
            }
            return rc == 1
        }
        ERR_clear_error()
        return result ?? false
    }

    /// Public-key encryption (`EVP_PKEY_encrypt`).
    func encrypt(_ plaintext: [UInt8], configure: (OpaquePointer) -> Bool = { _ in true }) throws -> [UInt8] {
        try withContext { ctx in
            guard EVP_PKEY_encrypt_init(ctx) == 1, configure(ctx) else { throw OpenSSL.failure("EVP_PKEY_encrypt_init") }
            return try OpenSSL.twoPass("EVP_PKEY_encrypt") { out, outLength in
                plaintext.withUnsafeBufferPointer { EVP_PKEY_encrypt(ctx, out, &outLength, $0.baseAddress, $0.count) }
            }
        }
    }

    /// Private-key decryption; any failure (bad padding, wrong key, malformed input) is
    /// reported as `invalidCiphertext` without detail, to avoid a padding oracle.
    func decrypt(_ ciphertext: [UInt8], configure: (OpaquePointer) -> Bool = { _ in true }) throws -> [UInt8] {
        do {
            return try withContext { ctx in
                guard EVP_PKEY_decrypt_init(ctx) == 1, configure(ctx) else { throw OpenSSL.failure("EVP_PKEY_decrypt_init") }
                return try OpenSSL.twoPass("EVP_PKEY_decrypt") { out, outLength in
                    ciphertext.withUnsafeBufferPointer { EVP_PKEY_decrypt(ctx, out, &outLength, $0.baseAddress, $0.count) }
                }
            }
        } catch {
            ERR_clear_error()
            throw KMSCryptoError.invalidCiphertext
        }
    }

    private func withContext<T>(_ body: (OpaquePointer) throws -> T) throws -> T {
        guard let ctx = EVP_PKEY_CTX_new_from_pkey(nil, pkey, nil) else {
            throw OpenSSL.failure("EVP_PKEY_CTX_new_from_pkey")
        }
        defer { EVP_PKEY_CTX_free(ctx) }
        return try body(ctx)
    }
}

/// Small helpers shared by the OpenSSL-backed code.
enum OpenSSL {
    /// Clears OpenSSL's thread-local error queue and builds the error to throw.
    static func failure(_ function: String) -> KMSCryptoError {
        ERR_clear_error()
        return .backendFailure(function)
    }

    /// Runs the usual OpenSSL "query length, then fill" protocol.
    static func twoPass(
        _ function: String,
        _ call: (UnsafeMutablePointer<UInt8>?, inout Int) -> Int32
    ) throws -> [UInt8] {
        var length = 0
        guard call(nil, &length) == 1, length > 0 else { throw failure(function) }
        var out = [UInt8](repeating: 0, count: length)
        let rc = out.withUnsafeMutableBufferPointer { call($0.baseAddress, &length) }
        guard rc == 1 else {
            secureZero(&out)
            throw failure(function)
        }
        if length < out.count { out.removeSubrange(length...) }
        return out
    }

    /// Hashes with an OpenSSL digest (used for SHA-224 and SM3, which swift-crypto lacks).
    static func digest(_ data: [UInt8], md: OpaquePointer?) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let rc = data.withUnsafeBufferPointer {
            EVP_Digest($0.baseAddress, $0.count, &out, &length, md, nil)
        }
        guard rc == 1 else { throw failure("EVP_Digest") }
        return Array(out.prefix(Int(length)))
    }
}

/// Overwrites a buffer that held secret bytes before it is released.
func secureZero(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { raw in
        guard let base = raw.baseAddress else { return }
        OPENSSL_cleanse(base, raw.count)
    }
}
