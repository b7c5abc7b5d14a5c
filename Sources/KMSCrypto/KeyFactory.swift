/// Maps a key spec to the family implementing it.
enum KeyFactory {
    static func generate(_ spec: KeySpec) throws -> any PrivateKeyImplementation {
        switch spec.family {
        case .rsa: return try RSAPrivateKey.generate(spec: spec)
        case .ecc: return spec == .eccSECGP256K1 ? try Secp256k1PrivateKey.generate() : try NISTCurvePrivateKey.generate(spec: spec)
        case .sm2: return try SM2PrivateKey.generate()
        case .ed25519: return try Ed25519PrivateKey.generate()
        case .mlDSA: return try MLDSAPrivateKeyImpl.generate(spec: spec)
        case .hmac, .symmetric: throw KMSCryptoError.unsupportedKeySpec(spec)
        }
    }

    static func privateKey(_ spec: KeySpec, pkcs8: [UInt8]) throws -> any PrivateKeyImplementation {
        switch spec.family {
        case .rsa: return try RSAPrivateKey(spec: spec, pkcs8: pkcs8)
        case .ecc: return spec == .eccSECGP256K1 ? try Secp256k1PrivateKey(pkcs8: pkcs8) : try NISTCurvePrivateKey(spec: spec, pkcs8: pkcs8)
        case .sm2: return try SM2PrivateKey(pkcs8: pkcs8)
        case .ed25519: return try Ed25519PrivateKey(pkcs8: pkcs8)
        case .mlDSA: return try MLDSAPrivateKeyImpl(spec: spec, pkcs8: pkcs8)
        case .hmac, .symmetric: throw KMSCryptoError.unsupportedKeySpec(spec)
        }
    }

    static func publicKey(_ spec: KeySpec, spki: [UInt8]) throws -> any PublicKeyImplementation {
        switch spec.family {
        case .rsa: return try RSAPublicKey(spec: spec, spki: spki)
        case .ecc: return spec == .eccSECGP256K1 ? try Secp256k1PublicKey(spki: spki) : try NISTCurvePublicKey(spec: spec, spki: spki)
        case .sm2: return try SM2PublicKey(spki: spki)
        case .ed25519: return try Ed25519PublicKey(spki: spki)
        case .mlDSA: return try MLDSAPublicKeyImpl(spec: spec, spki: spki)
        case .hmac, .symmetric: throw KMSCryptoError.unsupportedKeySpec(spec)
        }
    }
}
