import COpenSSL
import Crypto
import KMSCore

/// scrypt's cost parameters and salt, stored in the root record beside the data (not secret).
/// Argon2id is not in OpenSSL 3.0; scrypt (RFC 7914) is, as EVP_PBE_scrypt.
struct ScryptParameters: Codable, Equatable {
    var n: UInt64
    var r: UInt64
    var p: UInt64
    var salt: String

    /// N = 2^15, r = 8, p = 1: 32 MiB and about 0.1 s per start, RFC 7914's interactive
    /// setting raised to what OWASP recommends for scrypt.
    static func fresh() -> ScryptParameters {
        let salt = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        return ScryptParameters(n: 1 << 15, r: 8, p: 1, salt: Base64.encode(salt))
    }
}

enum Scrypt {
    /// The 256-bit root key for `passphrase`. Parameters read from the data dir are bounded so
    /// an edited record cannot make the start allocate without limit.
    static func derive(passphrase: [UInt8], parameters: ScryptParameters) throws -> [UInt8] {
        guard let salt = Base64.decode(parameters.salt), salt.count >= 8,
              parameters.n >= 1 << 14, parameters.n <= 1 << 20, parameters.n & (parameters.n - 1) == 0,
              (1...32).contains(parameters.r), (1...16).contains(parameters.p) else {
            throw StorageError("The root record's scrypt parameters are out of range.")
        }
        let maxmem = 128 * parameters.n * parameters.r * parameters.p + (1 << 20)
        var out = [UInt8](repeating: 0, count: 32)
        let ok = passphrase.withUnsafeBufferPointer { pass in
            pass.withMemoryRebound(to: CChar.self) { chars in
                EVP_PBE_scrypt(chars.baseAddress, chars.count, salt, salt.count,
                               parameters.n, parameters.r, parameters.p, maxmem, &out, out.count)
            }
        }
        guard ok == 1 else { throw StorageError("scrypt failed (EVP_PBE_scrypt).") }
        return out
    }
}
