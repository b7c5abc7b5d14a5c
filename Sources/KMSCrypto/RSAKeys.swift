import COpenSSL

/// RSA_2048/3072/4096 through OpenSSL: PKCS#1 v1.5 and PSS signatures (PSS salt length =
/// digest length, MGF1 with the same hash, as AWS documents) and OAEP with SHA-1 or
/// SHA-256 for both the label hash and MGF1, empty label. OpenSSL rather than
/// swift-crypto because swift-crypto's RSA cannot sign a caller-supplied digest.
struct RSAPrivateKey: PrivateKeyImplementation {
    let spec: KeySpec
    let key: OpenSSLKey
    let rsaPublicKey: RSAPublicKey

    var publicKey: any PublicKeyImplementation { rsaPublicKey }

    static func generate(spec: KeySpec) throws -> RSAPrivateKey {
        guard let bits = spec.rsaModulusBits else { throw KMSCryptoError.unsupportedKeySpec(spec) }
        let key = try OpenSSLKey.generate(type: "RSA") { EVP_PKEY_CTX_set_rsa_keygen_bits($0, Int32(bits)) }
        return try RSAPrivateKey(spec: spec, key: key)
    }

    init(spec: KeySpec, pkcs8: [UInt8]) throws {
        let key: OpenSSLKey
        do { key = try OpenSSLKey.fromPKCS8(pkcs8) } catch { throw KMSCryptoError.invalidPrivateKey }
        try self.init(spec: spec, key: key)
    }

    private init(spec: KeySpec, key: OpenSSLKey) throws {
        // "RSA" excludes RSA-PSS-restricted keys, which could not do OAEP or PKCS#1 v1.5.
        guard key.isA("RSA"), key.bits == spec.rsaModulusBits else { throw KMSCryptoError.invalidPrivateKey }
        self.spec = spec
        self.key = key
        self.rsaPublicKey = RSAPublicKey(spec: spec, key: key, spki: try key.spkiDER())
    }

    func pkcs8() throws -> [UInt8] {
        try key.pkcs8DER()
    }

    func sign(message: [UInt8], messageType: MessageType, algorithm: SigningAlgorithm) throws -> [UInt8] {
        let digest = try algorithm.digest(of: message, messageType: messageType)
        return try key.sign(digest: digest) { RSAPadding.configureSignature($0, algorithm: algorithm) }
    }

    /// AWS KMS decrypts a ciphertext made offline with OAEP SHA-256 (MGF1 SHA-256) even when
    /// Decrypt names RSAES_OAEP_SHA_1 (observed on AWS; issue 12, section 6): so a SHA-1
    /// request whose OAEP decoding fails is tried once more with SHA-256. Both failures
    /// answer the same error, so the second attempt tells a caller nothing new.
    func decrypt(_ ciphertext: [UInt8], algorithm: EncryptionAlgorithm) throws -> [UInt8] {
        do {
            return try key.decrypt(ciphertext) { RSAPadding.configureOAEP($0, algorithm: algorithm) }
        } catch where algorithm == .rsaesOAEPSHA1 {
            return try key.decrypt(ciphertext) { RSAPadding.configureOAEP($0, algorithm: .rsaesOAEPSHA256) }
        }
    }
}

/// An RSA public key (from a private key, or parsed from SPKI).
struct RSAPublicKey: PublicKeyImplementation {
    let spec: KeySpec
    let key: OpenSSLKey
    let spki: [UInt8]

    init(spec: KeySpec, key: OpenSSLKey, spki: [UInt8]) {
        self.spec = spec
        self.key = key
        self.spki = spki
    }

    init(spec: KeySpec, spki: [UInt8]) throws {
        let key: OpenSSLKey
        do { key = try OpenSSLKey.fromSPKI(spki) } catch { throw KMSCryptoError.invalidPublicKey }
        guard key.isA("RSA"), key.bits == spec.rsaModulusBits else { throw KMSCryptoError.invalidPublicKey }
        self.init(spec: spec, key: key, spki: spki)
    }

    func verify(signature: [UInt8], message: [UInt8], messageType: MessageType, algorithm: SigningAlgorithm) -> Bool {
        guard let digest = try? algorithm.digest(of: message, messageType: messageType) else { return false }
        return key.verify(signature: signature, digest: digest) { RSAPadding.configureSignature($0, algorithm: algorithm) }
    }

    func encrypt(_ plaintext: [UInt8], algorithm: EncryptionAlgorithm) throws -> [UInt8] {
        try key.encrypt(plaintext) { RSAPadding.configureOAEP($0, algorithm: algorithm) }
    }
}

/// EVP_PKEY_CTX settings for the AWS RSA algorithms.
enum RSAPadding {
    static func configureSignature(_ ctx: OpaquePointer, algorithm: SigningAlgorithm) -> Bool {
        guard let md = algorithm.hash?.openSSLDigest else { return false }
        if algorithm.isRSAPKCS1 {
            return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0
                && EVP_PKEY_CTX_set_signature_md(ctx, md) > 0
        }
        guard algorithm.isRSAPSS else { return false }
        return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) > 0
            && EVP_PKEY_CTX_set_signature_md(ctx, md) > 0
            && EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) > 0
            && EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST) > 0
    }

    static func configureOAEP(_ ctx: OpaquePointer, algorithm: EncryptionAlgorithm) -> Bool {
        guard let md = algorithm.oaepHash?.openSSLDigest else { return false }
        return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) > 0
            && EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) > 0
            && EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) > 0
    }
}
