/// Lowercase hexadecimal, two digits a byte: the spelling of every random or digest-derived
/// identifier KMSCore makes (key material IDs, grant tokens, mrk- and cks- suffixes).
enum Hex {
    static let digits = Array("0123456789abcdef".utf8)

    static func lower(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
