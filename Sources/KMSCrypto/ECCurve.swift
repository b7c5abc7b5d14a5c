import SwiftASN1

/// The short-Weierstrass curves used by ECDSA, ECDH and SM2.
enum ECCurve: Sendable {
    case p256, p384, p521, secp256k1, sm2

    /// OpenSSL group name.
    var groupName: String {
        switch self {
        case .p256: return "prime256v1"
        case .p384: return "secp384r1"
        case .p521: return "secp521r1"
        case .secp256k1: return "secp256k1"
        case .sm2: return "SM2"
        }
    }

    /// Named-curve OID used in SPKI / PKCS#8 (SM2: GM/T 0006 sm2p256v1).
    var oid: ASN1ObjectIdentifier {
        switch self {
        case .p256: return [1, 2, 840, 10045, 3, 1, 7]
        case .p384: return [1, 3, 132, 0, 34]
        case .p521: return [1, 3, 132, 0, 35]
        case .secp256k1: return [1, 3, 132, 0, 10]
        case .sm2: return [1, 2, 156, 10197, 1, 301]
        }
    }

    /// Byte length of a field element / scalar.
    var coordinateLength: Int {
        switch self {
        case .p256, .secp256k1, .sm2: return 32
        case .p384: return 48
        case .p521: return 66
        }
    }
}
