import COpenSSL

/// ECC_SECG_P256K1 through OpenSSL (swift-crypto has no secp256k1): ECDSA_SHA_256 only,
/// DER signatures. OpenSSL's ECDSA verify rejects non-DER signature encodings.
struct Secp256k1PrivateKey: PrivateKeyImplementation {
    let spec: KeySpec = .eccSECGP256K1
    let key: OpenSSLKey
    let k1PublicKey: Secp256k1PublicKey

    var publicKey: any PublicKeyImplementation { k1PublicKey }

    static func generate() throws -> Secp256k1PrivateKey {
        let key = try OpenSSLKey.generate(type: "EC") { EVP_PKEY_CTX_set_group_name($0, ECCurve.secp256k1.groupName) }
        return try Secp256k1PrivateKey(key: key)
    }

    init(pkcs8: [UInt8]) throws {
        let key: OpenSSLKey
        do { key = try OpenSSLKey.fromPKCS8(pkcs8) } catch { throw KMSCryptoError.invalidPrivateKey }
        try self.init(key: key)
    }

    private init(key: OpenSSLKey) throws {
        guard key.isA("EC"), key.utf8StringParameter("group") == ECCurve.secp256k1.groupName else {
            throw KMSCryptoError.invalidPrivateKey
        }
        self.key = key
        k1PublicKey = Secp256k1PublicKey(key: key, spki: try key.spkiDER())
    }

    func pkcs8() throws -> [UInt8] {
        try key.pkcs8DER()
    }

    func sign(message: [UInt8], messageType: MessageType, algorithm: SigningAlgorithm) throws -> [UInt8] {
        let digest = try algorithm.digest(of: message, messageType: messageType)
        return try key.sign(digest: digest)
    }
}

struct Secp256k1PublicKey: PublicKeyImplementation {
    let spec: KeySpec = .eccSECGP256K1
    let key: OpenSSLKey
    let spki: [UInt8]

    init(key: OpenSSLKey, spki: [UInt8]) {
        self.key = key
        self.spki = spki
    }

    init(spki: [UInt8]) throws {
        let key: OpenSSLKey
        do { key = try OpenSSLKey.fromSPKI(spki) } catch { throw KMSCryptoError.invalidPublicKey }
        guard key.isA("EC"), key.utf8StringParameter("group") == ECCurve.secp256k1.groupName else {
            throw KMSCryptoError.invalidPublicKey
        }
        self.init(key: key, spki: spki)
    }

    func verify(signature: [UInt8], message: [UInt8], messageType: MessageType, algorithm: SigningAlgorithm) -> Bool {
        guard let digest = try? algorithm.digest(of: message, messageType: messageType) else { return false }
        return key.verify(signature: signature, digest: digest)
    }
}
