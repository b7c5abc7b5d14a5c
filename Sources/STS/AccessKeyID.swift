import Crypto

/// Access key IDs as AWS makes them: a four-letter prefix (ASIA for temporary credentials),
/// then 16 base32 characters whose first bits encode the account ID (bits 1...40 of the
/// first 6 bytes, shifted left by 7), so GetAccessKeyInfo can answer for any key.
public enum AccessKeyID {
    static let base32 = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

    public static func make(prefix: String, account: String) -> String {
        var bytes = random(10)
        let id = UInt64(account) ?? 0
        var head = UInt64(bytes[0]) << 40 & 0x8000_0000_0000 | (id & 0xFF_FFFF_FFFF) << 7 | UInt64(bytes[5] & 0x7F)
        for i in (0..<6).reversed() {
            bytes[i] = UInt8(truncatingIfNeeded: head)
            head >>= 8
        }
        return prefix + encode(bytes)
    }

    /// The account encoded in a key ID made this way (and by AWS); nil when it is not one.
    public static func account(of accessKeyId: String) -> String? {
        let chars = Array(accessKeyId.utf8)
        guard chars.count == 20 else { return nil }
        var acc: UInt64 = 0
        // The first 6 bytes are the first 48 bits: 9.6 characters, so read 10 and drop 2 bits.
        for c in chars[4..<14] {
            guard let v = base32.firstIndex(of: c) else { return nil }
            acc = acc << 5 | UInt64(v)
        }
        let head = acc >> 2
        let id = (head & 0x7FFF_FFFF_FF80) >> 7
        guard id < 1_000_000_000_000 else { return nil }
        let digits = String(id)
        return String(repeating: "0", count: 12 - digits.count) + digits
    }

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        var acc: UInt32 = 0, bits = 0
        for b in bytes {
            acc = acc << 8 | UInt32(b)
            bits += 8
            while bits >= 5 {
                bits -= 5
                out.append(base32[Int(acc >> UInt32(bits) & 31)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func random(_ n: Int) -> [UInt8] {
        SymmetricKey(size: SymmetricKeySize(bitCount: n * 8)).withUnsafeBytes { Array($0) }
    }

    /// A 40-character secret access key from the system CSPRNG (AWS's length and alphabet).
    public static func newSecret() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        return String(decoding: random(40).map { alphabet[Int($0 & 63)] }, as: UTF8.self)
    }
}
