import COpenSSL

/// SM2 (GB/T 32918 / GM/T 0003) through OpenSSL 3's "SM2" key type:
/// - SM2DSA: RAW messages are signed as e = SM3(Z_A || M), with Z_A computed from the
///   default distinguishing ID "1234567812345678" (GM/T 0009), as AWS KMS does; DIGEST
///   messages are taken to be e itself (32 bytes). Signatures are DER SEQUENCE { r, s }.
/// - SM2PKE: ciphertext is the GM/T 0009 ASN.1 form SEQUENCE { x, y, C3 hash, C2 }, which
///   is what OpenSSL emits and AWS KMS accepts.
/// - ECDH on the SM2 curve: the raw x-coordinate of d·Q. OpenSSL 3.0's SM2 key type has no
///   key exchange and refuses to import SM2 keys as plain EC keys, so the point
///   multiplication is done with the EC_POINT API (constant-time ladder), as OpenSSL's own
///   ECDH does it (the SM2 cofactor is 1).
struct SM2PrivateKey: PrivateKeyImplementation {
    let spec: KeySpec = .sm2
    let key: OpenSSLKey
    let sm2PublicKey: SM2PublicKey

    var publicKey: any PublicKeyImplementation { sm2PublicKey }

    static func generate() throws -> SM2PrivateKey {
        let key = try OpenSSLKey.generate(type: "SM2") { EVP_PKEY_CTX_set_group_name($0, ECCurve.sm2.groupName) }
        return try SM2PrivateKey(key: key)
    }

    init(pkcs8: [UInt8]) throws {
        let key: OpenSSLKey
        do { key = try OpenSSLKey.fromPKCS8(pkcs8) } catch { throw KMSCryptoError.invalidPrivateKey }
        try self.init(key: key)
    }

    private init(key: OpenSSLKey) throws {
        // OpenSSL 3 decodes id-ecPublicKey + the SM2 curve OID as the SM2 key type.
        guard key.isA("SM2") else { throw KMSCryptoError.invalidPrivateKey }
        self.key = key
        sm2PublicKey = try SM2PublicKey(key: key, point: SM2.uncompressedPoint(of: key), spki: key.spkiDER())
    }

    func pkcs8() throws -> [UInt8] {
        try key.pkcs8DER()
    }

    func sign(message: [UInt8], messageType: MessageType, algorithm: SigningAlgorithm) throws -> [UInt8] {
        let e = try sm2PublicKey.signedDigest(message: message, messageType: messageType)
        return try key.sign(digest: e)
    }

    func decrypt(_ ciphertext: [UInt8], algorithm: EncryptionAlgorithm) throws -> [UInt8] {
        try key.decrypt(ciphertext)
    }

    func deriveSharedSecret(peerPublicKeyDER: [UInt8]) throws -> [UInt8] {
        let point = try ECPeerKey.point(fromSPKI: peerPublicKeyDER, curve: .sm2)
        return try SM2.sharedSecret(privateKey: key, peerPoint: point)
    }
}

struct SM2PublicKey: PublicKeyImplementation {
    let spec: KeySpec = .sm2
    let key: OpenSSLKey
    let spki: [UInt8]
    /// Z_A for the default distinguishing ID: fixed per key, so computed once.
    let identityHash: [UInt8]

    init(key: OpenSSLKey, point: [UInt8], spki: [UInt8]) throws {
        self.key = key
        self.spki = spki
        identityHash = try SM2.identityHash(publicPoint: point)
    }

    init(spki: [UInt8]) throws {
        let key: OpenSSLKey
        do { key = try OpenSSLKey.fromSPKI(spki) } catch { throw KMSCryptoError.invalidPublicKey }
        guard key.isA("SM2") else { throw KMSCryptoError.invalidPublicKey }
        try self.init(key: key, point: SM2.uncompressedPoint(of: key), spki: spki)
    }

    /// e for SM2DSA: SM3(Z_A || M) for RAW, the message itself for DIGEST.
    func signedDigest(message: [UInt8], messageType: MessageType) throws -> [UInt8] {
        if messageType == .digest { return message }
        return try HashAlgorithm.sm3.hash(identityHash + message)
    }

    func verify(signature: [UInt8], message: [UInt8], messageType: MessageType, algorithm: SigningAlgorithm) -> Bool {
        guard let e = try? signedDigest(message: message, messageType: messageType) else { return false }
        return key.verify(signature: signature, digest: e)
    }

    func encrypt(_ plaintext: [UInt8], algorithm: EncryptionAlgorithm) throws -> [UInt8] {
        try key.encrypt(plaintext)
    }
}

enum SM2 {
    /// The distinguishing ID AWS KMS uses for SM2DSA with RAW messages (GM/T 0009-2012).
    static let defaultDistinguishingID = Array("1234567812345678".utf8)

    /// sm2p256v1 parameters a, b, xG, yG (GB/T 32918.5), as hashed into Z_A.
    static let curveParameters: [UInt8] = hex(
        "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC"
            + "28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93"
            + "32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7"
            + "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0")

    /// Z_A = SM3(ENTL_A || ID_A || a || b || xG || yG || xA || yA), ENTL_A being the ID
    /// length in bits as two big-endian bytes.
    static func identityHash(
        publicPoint: [UInt8],
        distinguishingID: [UInt8] = defaultDistinguishingID
    ) throws -> [UInt8] {
        guard publicPoint.count == 65, publicPoint.first == 0x04, distinguishingID.count < 8192 else {
            throw KMSCryptoError.invalidPublicKey
        }
        let bits = distinguishingID.count * 8
        let entl: [UInt8] = [UInt8(truncatingIfNeeded: bits >> 8), UInt8(truncatingIfNeeded: bits)]
        return try HashAlgorithm.sm3.hash(entl + distinguishingID + curveParameters + publicPoint.dropFirst())
    }

    /// The uncompressed encoding (04 || x || y) of an SM2 public key.
    static func uncompressedPoint(of key: OpenSSLKey) throws -> [UInt8] {
        let point = try key.octetStringParameter("pub")
        if point.count == 65, point.first == 0x04 { return point }
        return try withGroup { group, bnContext in
            let decoded = try decode(point, group: group, bnContext: bnContext)
            defer { EC_POINT_free(decoded) }
            var out = [UInt8](repeating: 0, count: 65)
            let written = EC_POINT_point2oct(group, decoded, POINT_CONVERSION_UNCOMPRESSED, &out, out.count, bnContext)
            guard written == 65 else { throw KMSCryptoError.invalidPublicKey }
            return out
        }
    }

    /// ECDH: x(d·Q), 32 bytes, for our private key d and a peer point Q.
    static func sharedSecret(privateKey: OpenSSLKey, peerPoint: [UInt8]) throws -> [UInt8] {
        var d: OpaquePointer? = nil
        guard EVP_PKEY_get_bn_param(privateKey.pkey, "priv", &d) == 1, let d else {
            throw OpenSSL.failure("EVP_PKEY_get_bn_param")
        }
        defer { BN_clear_free(d) }
        BN_set_flags(d, BN_FLG_CONSTTIME)
        return try withGroup { group, bnContext in
            let peer: OpaquePointer
            do { peer = try decode(peerPoint, group: group, bnContext: bnContext) } catch {
                throw KMSCryptoError.invalidPeerPublicKey
            }
            defer { EC_POINT_free(peer) }
            guard let product = EC_POINT_new(group) else { throw OpenSSL.failure("EC_POINT_new") }
            defer { EC_POINT_clear_free(product) }
            // One point and no generator term: OpenSSL uses its constant-time ladder.
            guard EC_POINT_mul(group, product, nil, peer, d, bnContext) == 1,
                  EC_POINT_is_at_infinity(group, product) == 0
            else { throw KMSCryptoError.invalidPeerPublicKey }
            guard let x = BN_new() else { throw OpenSSL.failure("BN_new") }
            defer { BN_clear_free(x) }
            guard EC_POINT_get_affine_coordinates(group, product, x, nil, bnContext) == 1 else {
                throw OpenSSL.failure("EC_POINT_get_affine_coordinates")
            }
            var secret = [UInt8](repeating: 0, count: ECCurve.sm2.coordinateLength)
            guard BN_bn2binpad(x, &secret, Int32(secret.count)) == Int32(secret.count) else {
                throw OpenSSL.failure("BN_bn2binpad")
            }
            return secret
        }
    }

    /// Decodes an encoded point on the SM2 curve; OpenSSL rejects points off the curve.
    private static func decode(_ bytes: [UInt8], group: OpaquePointer, bnContext: OpaquePointer) throws -> OpaquePointer {
        guard let point = EC_POINT_new(group) else { throw OpenSSL.failure("EC_POINT_new") }
        guard EC_POINT_oct2point(group, point, bytes, bytes.count, bnContext) == 1,
              EC_POINT_is_at_infinity(group, point) == 0
        else {
            EC_POINT_free(point)
            throw OpenSSL.failure("EC_POINT_oct2point")
        }
        return point
    }

    private static func withGroup<T>(_ body: (OpaquePointer, OpaquePointer) throws -> T) throws -> T {
        guard let group = EC_GROUP_new_by_curve_name(NID_sm2) else { throw OpenSSL.failure("EC_GROUP_new_by_curve_name") }
        defer { EC_GROUP_free(group) }
        guard let bnContext = BN_CTX_new() else { throw OpenSSL.failure("BN_CTX_new") }
        defer { BN_CTX_free(bnContext) }
        return try body(group, bnContext)
    }

    private static func hex(_ string: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var high: UInt8? = nil
        for scalar in string.unicodeScalars {
            guard let nibble = UInt8(String(scalar), radix: 16) else { continue }
            if let h = high { bytes.append(h << 4 | nibble); high = nil } else { high = nibble }
        }
        return bytes
    }
}
