import Crypto
import PureCrypto

/// ECC_NIST_EDWARDS25519. ED25519_SHA_512 (pure Ed25519, RAW only) through swift-crypto;
/// ED25519_PH_SHA_512 (Ed25519ph, empty context, DIGEST only) through PureCrypto.
///
/// Ed25519ph follows the AWS API reference (Sign, MessageType): with DIGEST "KMS still
/// performs the SHA-512 prehash ... the input is hashed twice". The 64-byte DIGEST is
/// therefore the Ed25519ph *message*: the signature is over PH(digest) = SHA-512(digest),
/// and any RFC 8032 Ed25519ph verifier given `digest` as the message accepts it.
struct Ed25519PrivateKey: PrivateKeyImplementation {
    let spec: KeySpec = .eccNISTEdwards25519
    let key: Curve25519.Signing.PrivateKey
    let edPublicKey: Ed25519PublicKey

    var publicKey: any PublicKeyImplementation { edPublicKey }

    static func generate() throws -> Ed25519PrivateKey {
        try Ed25519PrivateKey(key: Curve25519.Signing.PrivateKey())
    }

    /// RFC 8410: PrivateKeyInfo { id-Ed25519, OCTET STRING { OCTET STRING seed(32) } }.
    init(pkcs8: [UInt8]) throws {
        do {
            let info = try PrivateKeyInfo(derEncoded: pkcs8)
            guard info.algorithm == AlgorithmIdentifier(algorithm: OID.ed25519, parameters: .absent) else {
                throw KMSCryptoError.invalidPrivateKey
            }
            var seed = try DERValue.parseOctetString(info.privateKey)
            defer { secureZero(&seed) }
            try self.init(key: Curve25519.Signing.PrivateKey(rawRepresentation: seed))
        } catch {
            throw KMSCryptoError.invalidPrivateKey
        }
    }

    private init(key: Curve25519.Signing.PrivateKey) throws {
        self.key = key
        edPublicKey = try Ed25519PublicKey(rawPublicKey: Array(key.publicKey.rawRepresentation))
    }

    func pkcs8() throws -> [UInt8] {
        var seed = Array(key.rawRepresentation)
        defer { secureZero(&seed) }
        return try PrivateKeyInfo(
            algorithm: AlgorithmIdentifier(algorithm: OID.ed25519, parameters: .absent),
            privateKey: DERValue.octetString(seed)
        ).derEncoded()
    }

    func sign(message: [UInt8], messageType: MessageType, algorithm: SigningAlgorithm) throws -> [UInt8] {
        switch algorithm {
        case .ed25519SHA512:
            return Array(try key.signature(for: message))
        case .ed25519PHSHA512:
            var seed = Array(key.rawRepresentation)
            defer { secureZero(&seed) }
            do {
                return try Ed25519ph.sign(seed: seed, message: message)
            } catch {
                throw KMSCryptoError.backendFailure("Ed25519ph.sign")
            }
        default:
            throw KMSCryptoError.incompatibleAlgorithm(keySpec: spec, algorithm: algorithm.rawValue)
        }
    }
}

struct Ed25519PublicKey: PublicKeyImplementation {
    let spec: KeySpec = .eccNISTEdwards25519
    let key: Curve25519.Signing.PublicKey
    let raw: [UInt8]
    let spki: [UInt8]

    init(rawPublicKey: [UInt8]) throws {
        key = try Curve25519.Signing.PublicKey(rawRepresentation: rawPublicKey)
        raw = rawPublicKey
        spki = try SubjectPublicKeyInfo(
            algorithm: AlgorithmIdentifier(algorithm: OID.ed25519, parameters: .absent), key: rawPublicKey
        ).derEncoded()
    }

    init(spki: [UInt8]) throws {
        guard let info = try? SubjectPublicKeyInfo(derEncoded: spki),
              info.algorithm == AlgorithmIdentifier(algorithm: OID.ed25519, parameters: .absent),
              info.key.count == 32
        else { throw KMSCryptoError.invalidPublicKey }
        do { try self.init(rawPublicKey: info.key) } catch { throw KMSCryptoError.invalidPublicKey }
    }

    func verify(signature: [UInt8], message: [UInt8], messageType: MessageType, algorithm: SigningAlgorithm) -> Bool {
        switch algorithm {
        case .ed25519SHA512:
            return key.isValidSignature(signature, for: message)
        case .ed25519PHSHA512:
            return Ed25519ph.verify(publicKey: raw, signature: signature, message: message)
        default:
            return false
        }
    }
}
