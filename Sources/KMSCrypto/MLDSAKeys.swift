import Crypto
import SwiftASN1
import PureCrypto

/// ML_DSA_44/65/87 with ML_DSA_SHAKE_256: pure ML-DSA (FIPS 204 Algorithm 2, empty
/// context, hedged) for RAW, and signing a caller-computed 64-byte μ for EXTERNAL_MU.
/// swift-crypto covers RAW for ML-DSA-65/87; it has no ML-DSA-44 and no external-μ API,
/// so PureCrypto does those. Keys are stored as the 32-byte seed ξ (RFC 9881 seed form).
struct MLDSAPrivateKeyImpl: PrivateKeyImplementation {
    enum SwiftCryptoKey: Sendable {
        case mldsa65(MLDSA65.PrivateKey)
        case mldsa87(MLDSA87.PrivateKey)
    }

    let spec: KeySpec
    let pureKey: PureCrypto.MLDSAPrivateKey
    let swiftCryptoKey: SwiftCryptoKey?
    let mlPublicKey: MLDSAPublicKeyImpl

    var publicKey: any PublicKeyImplementation { mlPublicKey }

    static func generate(spec: KeySpec) throws -> MLDSAPrivateKeyImpl {
        var seed = [UInt8](repeating: 0, count: 32)
        defer { secureZero(&seed) }
        var generator = SystemRandomNumberGenerator()
        for i in seed.indices { seed[i] = generator.next() }
        return try MLDSAPrivateKeyImpl(spec: spec, seed: seed)
    }

    /// PrivateKeyInfo { id-ml-dsa-NN, OCTET STRING { [0] IMPLICIT OCTET STRING seed } }
    /// (the "both" form with an expanded key is accepted too; only the seed is used).
    init(spec: KeySpec, pkcs8: [UInt8]) throws {
        guard let parameters = MLDSASpec(spec) else { throw KMSCryptoError.unsupportedKeySpec(spec) }
        do {
            let info = try PrivateKeyInfo(derEncoded: pkcs8)
            guard info.algorithm == AlgorithmIdentifier(algorithm: parameters.oid, parameters: .absent) else {
                throw KMSCryptoError.invalidPrivateKey
            }
            var seed = try DERValue.parseSeedChoice(info.privateKey)
            defer { secureZero(&seed) }
            try self.init(spec: spec, seed: seed)
        } catch {
            throw KMSCryptoError.invalidPrivateKey
        }
    }

    init(spec: KeySpec, seed: [UInt8]) throws {
        guard let parameters = MLDSASpec(spec) else { throw KMSCryptoError.unsupportedKeySpec(spec) }
        self.spec = spec
        do {
            pureKey = try PureCrypto.MLDSAPrivateKey(seed: seed, parameterSet: parameters.parameterSet)
        } catch {
            throw KMSCryptoError.invalidPrivateKey
        }
        switch spec {
        case .mlDSA65:
            swiftCryptoKey = .mldsa65(try MLDSA65.PrivateKey(seedRepresentation: seed, publicKey: nil))
        case .mlDSA87:
            swiftCryptoKey = .mldsa87(try MLDSA87.PrivateKey(seedRepresentation: seed, publicKey: nil))
        default:
            swiftCryptoKey = nil
        }
        mlPublicKey = try MLDSAPublicKeyImpl(spec: spec, pureKey: pureKey.publicKey)
        // Both implementations derive the key from ξ (FIPS 204 KeyGen_internal); if they
        // ever disagreed, RAW and EXTERNAL_MU signatures would not verify under one SPKI.
        let swiftCryptoPublicKey: [UInt8]?
        switch swiftCryptoKey {
        case .mldsa65(let key): swiftCryptoPublicKey = Array(key.publicKey.rawRepresentation)
        case .mldsa87(let key): swiftCryptoPublicKey = Array(key.publicKey.rawRepresentation)
        case nil: swiftCryptoPublicKey = nil
        }
        if let swiftCryptoPublicKey, swiftCryptoPublicKey != pureKey.publicKey.rawRepresentation {
            throw KMSCryptoError.backendFailure("ML-DSA key derivation mismatch")
        }
    }

    func pkcs8() throws -> [UInt8] {
        guard let parameters = MLDSASpec(spec) else { throw KMSCryptoError.unsupportedKeySpec(spec) }
        return try PrivateKeyInfo(
            algorithm: AlgorithmIdentifier(algorithm: parameters.oid, parameters: .absent),
            privateKey: DERValue.seedChoice(pureKey.seed)
        ).derEncoded()
    }

    func sign(message: [UInt8], messageType: MessageType, algorithm: SigningAlgorithm) throws -> [UInt8] {
        do {
            if messageType == .externalMu { return try pureKey.signature(forMu: message) }
            switch swiftCryptoKey {
            case .mldsa65(let key): return Array(try key.signature(for: message))
            case .mldsa87(let key): return Array(try key.signature(for: message))
            case nil: return try pureKey.signature(for: message)
            }
        } catch let error as KMSCryptoError {
            throw error
        } catch {
            throw KMSCryptoError.backendFailure("ML-DSA sign")
        }
    }
}

struct MLDSAPublicKeyImpl: PublicKeyImplementation {
    enum SwiftCryptoKey: Sendable {
        case mldsa65(MLDSA65.PublicKey)
        case mldsa87(MLDSA87.PublicKey)
    }

    let spec: KeySpec
    let pureKey: PureCrypto.MLDSAPublicKey
    let swiftCryptoKey: SwiftCryptoKey?
    let spki: [UInt8]

    init(spec: KeySpec, pureKey: PureCrypto.MLDSAPublicKey) throws {
        guard let parameters = MLDSASpec(spec) else { throw KMSCryptoError.unsupportedKeySpec(spec) }
        self.spec = spec
        self.pureKey = pureKey
        let raw = pureKey.rawRepresentation
        switch spec {
        case .mlDSA65: swiftCryptoKey = .mldsa65(try MLDSA65.PublicKey(rawRepresentation: raw))
        case .mlDSA87: swiftCryptoKey = .mldsa87(try MLDSA87.PublicKey(rawRepresentation: raw))
        default: swiftCryptoKey = nil
        }
        // IETF LAMPS (RFC 9881): AlgorithmIdentifier without parameters, raw key as BIT STRING.
        spki = try SubjectPublicKeyInfo(
            algorithm: AlgorithmIdentifier(algorithm: parameters.oid, parameters: .absent), key: raw
        ).derEncoded()
    }

    init(spec: KeySpec, spki: [UInt8]) throws {
        guard let parameters = MLDSASpec(spec),
              let info = try? SubjectPublicKeyInfo(derEncoded: spki),
              info.algorithm == AlgorithmIdentifier(algorithm: parameters.oid, parameters: .absent),
              let pureKey = try? PureCrypto.MLDSAPublicKey(rawRepresentation: info.key, parameterSet: parameters.parameterSet)
        else { throw KMSCryptoError.invalidPublicKey }
        do { try self.init(spec: spec, pureKey: pureKey) } catch { throw KMSCryptoError.invalidPublicKey }
    }

    func verify(signature: [UInt8], message: [UInt8], messageType: MessageType, algorithm: SigningAlgorithm) -> Bool {
        if messageType == .externalMu { return pureKey.isValidSignature(signature, forMu: message) }
        switch swiftCryptoKey {
        case .mldsa65(let key): return key.isValidSignature(signature, for: message)
        case .mldsa87(let key): return key.isValidSignature(signature, for: message)
        case nil: return pureKey.isValidSignature(signature, for: message)
        }
    }
}

/// Per-spec ML-DSA constants.
struct MLDSASpec {
    let oid: SwiftASN1.ASN1ObjectIdentifier
    let parameterSet: MLDSAParameterSet

    init?(_ spec: KeySpec) {
        switch spec {
        case .mlDSA44: (oid, parameterSet) = (OID.mlDSA44, .mldsa44)
        case .mlDSA65: (oid, parameterSet) = (OID.mlDSA65, .mldsa65)
        case .mlDSA87: (oid, parameterSet) = (OID.mlDSA87, .mldsa87)
        default: return nil
        }
    }
}
