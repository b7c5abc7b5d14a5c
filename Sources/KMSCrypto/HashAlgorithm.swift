import COpenSSL
import Crypto

/// Hash functions used inside the signature, OAEP and HMAC algorithms. swift-crypto
/// provides SHA-1/2; SHA-224 and SM3 come from OpenSSL.
enum HashAlgorithm: Sendable {
    case sha1, sha224, sha256, sha384, sha512, sm3

    var digestLength: Int {
        switch self {
        case .sha1: return 20
        case .sha224: return 28
        case .sha256, .sm3: return 32
        case .sha384: return 48
        case .sha512: return 64
        }
    }

    /// OpenSSL's EVP_MD for this hash (legacy getters return static objects that are
    /// safe to share between threads).
    var openSSLDigest: OpaquePointer? {
        switch self {
        case .sha1: return EVP_sha1()
        case .sha224: return EVP_sha224()
        case .sha256: return EVP_sha256()
        case .sha384: return EVP_sha384()
        case .sha512: return EVP_sha512()
        case .sm3: return EVP_sm3()
        }
    }

    func hash(_ data: [UInt8]) throws -> [UInt8] {
        switch self {
        case .sha1: return Array(Insecure.SHA1.hash(data: data))
        case .sha256: return Array(SHA256.hash(data: data))
        case .sha384: return Array(SHA384.hash(data: data))
        case .sha512: return Array(SHA512.hash(data: data))
        case .sha224, .sm3: return try OpenSSL.digest(data, md: openSSLDigest)
        }
    }
}
