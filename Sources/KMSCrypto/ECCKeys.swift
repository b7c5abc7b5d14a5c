import Crypto
import Foundation

/// ECC_NIST_P256/P384/P521 through swift-crypto (BoringSSL): ECDSA with the hash AWS pairs
/// with each curve (SHA-256/384/512), DER signatures, and raw ECDH shared secrets.
/// swift-crypto measured faster than OpenSSL 3.0's per-call EVP_PKEY_CTX for P-256 signing.
struct NISTCurvePrivateKey: PrivateKeyImplementation {
    enum Key: Sendable {
        case p256(P256.Signing.PrivateKey)
        case p384(P384.Signing.PrivateKey)
        case p521(P521.Signing.PrivateKey)
    }

    let spec: KeySpec
    let key: Key
    let nistPublicKey: NISTCurvePublicKey

    var publicKey: any PublicKeyImplementation { nistPublicKey }

    static func generate(spec: KeySpec) throws -> NISTCurvePrivateKey {
        switch spec {
        case .eccNISTP256: return NISTCurvePrivateKey(spec: spec, key: .p256(P256.Signing.PrivateKey()))
        case .eccNISTP384: return NISTCurvePrivateKey(spec: spec, key: .p384(P384.Signing.PrivateKey()))
        case .eccNISTP521: return NISTCurvePrivateKey(spec: spec, key: .p521(P521.Signing.PrivateKey()))
        default: throw KMSCryptoError.unsupportedKeySpec(spec)
        }
    }

    /// Parses PKCS#8 whose AlgorithmIdentifier names `spec`'s curve. The OID is checked
    /// here because swift-crypto's DER initializers accept any curve's 32-byte scalar
    /// (a secp256k1 or SM2 key would load as P-256).
    init(spec: KeySpec, pkcs8: [UInt8]) throws {
        guard let curve = spec.curve,
              let info = try? PrivateKeyInfo(derEncoded: pkcs8),
              info.algorithm == AlgorithmIdentifier(algorithm: OID.ecPublicKey, parameters: .namedCurve(curve.oid))
        else { throw KMSCryptoError.invalidPrivateKey }
        do {
            switch spec {
            case .eccNISTP256: self.init(spec: spec, key: .p256(try P256.Signing.PrivateKey(derRepresentation: pkcs8)))
            case .eccNISTP384: self.init(spec: spec, key: .p384(try P384.Signing.PrivateKey(derRepresentation: pkcs8)))
            case .eccNISTP521: self.init(spec: spec, key: .p521(try P521.Signing.PrivateKey(derRepresentation: pkcs8)))
            default: throw KMSCryptoError.unsupportedKeySpec(spec)
            }
        } catch {
            throw KMSCryptoError.invalidPrivateKey
        }
    }

    private init(spec: KeySpec, key: Key) {
        self.spec = spec
        self.key = key
        switch key {
        case .p256(let k): nistPublicKey = NISTCurvePublicKey(spec: spec, key: .p256(k.publicKey))
        case .p384(let k): nistPublicKey = NISTCurvePublicKey(spec: spec, key: .p384(k.publicKey))
        case .p521(let k): nistPublicKey = NISTCurvePublicKey(spec: spec, key: .p521(k.publicKey))
        }
    }

    func pkcs8() throws -> [UInt8] {
        switch key {
        case .p256(let k): return Array(k.derRepresentation)
        case .p384(let k): return Array(k.derRepresentation)
        case .p521(let k): return Array(k.derRepresentation)
        }
    }

    func sign(message: [UInt8], messageType: MessageType, algorithm: SigningAlgorithm) throws -> [UInt8] {
        // For RAW, swift-crypto hashes with the curve's own SHA, which is the one AWS pairs.
        let raw = messageType == .raw
        switch key {
        case .p256(let k):
            if raw { return Array(try k.signature(for: message).derRepresentation) }
            guard let d = PrecomputedDigest<DigestLength32>(message) else { throw lengthError(message, 32) }
            return Array(try k.signature(for: d).derRepresentation)
        case .p384(let k):
            if raw { return Array(try k.signature(for: message).derRepresentation) }
            guard let d = PrecomputedDigest<DigestLength48>(message) else { throw lengthError(message, 48) }
            return Array(try k.signature(for: d).derRepresentation)
        case .p521(let k):
            if raw { return Array(try k.signature(for: message).derRepresentation) }
            guard let d = PrecomputedDigest<DigestLength64>(message) else { throw lengthError(message, 64) }
            return Array(try k.signature(for: d).derRepresentation)
        }
    }

    func deriveSharedSecret(peerPublicKeyDER: [UInt8]) throws -> [UInt8] {
        guard let curve = spec.curve else { throw KMSCryptoError.unsupportedKeySpec(spec) }
        let point = try ECPeerKey.point(fromSPKI: peerPublicKeyDER, curve: curve)
        let compressed = point.first != 0x04
        do {
            let secret: SharedSecret
            switch key {
            case .p256(let k):
                let peer = compressed
                    ? try P256.KeyAgreement.PublicKey(compressedRepresentation: point)
                    : try P256.KeyAgreement.PublicKey(x963Representation: point)
                secret = try P256.KeyAgreement.PrivateKey(rawRepresentation: k.rawRepresentation)
                    .sharedSecretFromKeyAgreement(with: peer)
            case .p384(let k):
                let peer = compressed
                    ? try P384.KeyAgreement.PublicKey(compressedRepresentation: point)
                    : try P384.KeyAgreement.PublicKey(x963Representation: point)
                secret = try P384.KeyAgreement.PrivateKey(rawRepresentation: k.rawRepresentation)
                    .sharedSecretFromKeyAgreement(with: peer)
            case .p521(let k):
                let peer = compressed
                    ? try P521.KeyAgreement.PublicKey(compressedRepresentation: point)
                    : try P521.KeyAgreement.PublicKey(x963Representation: point)
                secret = try P521.KeyAgreement.PrivateKey(rawRepresentation: k.rawRepresentation)
                    .sharedSecretFromKeyAgreement(with: peer)
            }
            return secret.withUnsafeBytes { Array($0) }
        } catch {
            throw KMSCryptoError.invalidPeerPublicKey
        }
    }

    private func lengthError(_ message: [UInt8], _ expected: Int) -> KMSCryptoError {
        .invalidMessageLength(messageType: .digest, expected: expected, actual: message.count)
    }
}

struct NISTCurvePublicKey: PublicKeyImplementation {
    enum Key: Sendable {
        case p256(P256.Signing.PublicKey)
        case p384(P384.Signing.PublicKey)
        case p521(P521.Signing.PublicKey)
    }

    let spec: KeySpec
    let key: Key
    let spki: [UInt8]

    init(spec: KeySpec, key: Key) {
        self.spec = spec
        self.key = key
        switch key {
        case .p256(let k): spki = Array(k.derRepresentation)
        case .p384(let k): spki = Array(k.derRepresentation)
        case .p521(let k): spki = Array(k.derRepresentation)
        }
    }

    init(spec: KeySpec, spki: [UInt8]) throws {
        guard let curve = spec.curve,
              let info = try? SubjectPublicKeyInfo(derEncoded: spki),
              info.algorithm == AlgorithmIdentifier(algorithm: OID.ecPublicKey, parameters: .namedCurve(curve.oid))
        else { throw KMSCryptoError.invalidPublicKey }
        do {
            switch spec {
            case .eccNISTP256: self.init(spec: spec, key: .p256(try P256.Signing.PublicKey(derRepresentation: spki)))
            case .eccNISTP384: self.init(spec: spec, key: .p384(try P384.Signing.PublicKey(derRepresentation: spki)))
            case .eccNISTP521: self.init(spec: spec, key: .p521(try P521.Signing.PublicKey(derRepresentation: spki)))
            default: throw KMSCryptoError.unsupportedKeySpec(spec)
            }
        } catch {
            throw KMSCryptoError.invalidPublicKey
        }
    }

    func verify(signature: [UInt8], message: [UInt8], messageType: MessageType, algorithm: SigningAlgorithm) -> Bool {
        let raw = messageType == .raw
        switch key {
        case .p256(let k):
            guard let sig = try? P256.Signing.ECDSASignature(derRepresentation: signature) else { return false }
            if raw { return k.isValidSignature(sig, for: message) }
            guard let d = PrecomputedDigest<DigestLength32>(message) else { return false }
            return k.isValidSignature(sig, for: d)
        case .p384(let k):
            guard let sig = try? P384.Signing.ECDSASignature(derRepresentation: signature) else { return false }
            if raw { return k.isValidSignature(sig, for: message) }
            guard let d = PrecomputedDigest<DigestLength48>(message) else { return false }
            return k.isValidSignature(sig, for: d)
        case .p521(let k):
            guard let sig = try? P521.Signing.ECDSASignature(derRepresentation: signature) else { return false }
            if raw { return k.isValidSignature(sig, for: message) }
            guard let d = PrecomputedDigest<DigestLength64>(message) else { return false }
            return k.isValidSignature(sig, for: d)
        }
    }
}

/// Extracts the EC point from a peer's SPKI for ECDH, insisting on id-ecPublicKey with
/// the same named curve as our key (AWS requires both keys on one curve).
enum ECPeerKey {
    static func point(fromSPKI der: [UInt8], curve: ECCurve) throws -> [UInt8] {
        guard let spki = try? SubjectPublicKeyInfo(derEncoded: der),
              spki.algorithm == AlgorithmIdentifier(algorithm: OID.ecPublicKey, parameters: .namedCurve(curve.oid))
        else { throw KMSCryptoError.invalidPeerPublicKey }
        let point = spki.key
        let uncompressed = point.count == 1 + 2 * curve.coordinateLength && point.first == 0x04
        let compressed = point.count == 1 + curve.coordinateLength && (point.first == 0x02 || point.first == 0x03)
        guard uncompressed || compressed else { throw KMSCryptoError.invalidPeerPublicKey }
        return point
    }
}
