/// The shape of an AWS region name, as botocore's partitions define it (`regionRegex` of
/// every partition in botocore/data/partitions.json):
///
///     aws         (us|eu|ap|sa|ca|me|af|il|mx)-<word>-<digits>     us-east-1, ap-southeast-7
///     aws-cn      cn-<word>-<digits>                               cn-northwest-1
///     aws-us-gov  us-gov-<word>-<digits>                           us-gov-west-1
///     aws-iso*    us-iso-, us-isob-, us-isof-, eu-isoe-<word>-<digits>
///     aws-eusc    eusc-de-<word>-<digits>                          eusc-de-east-1
///
/// The region ends up in every ARN the server writes, so anything else (`us:222222222222`,
/// `../x`, an empty string) is refused as AWS refuses a credential scoped to an unknown region.
/// Words are lower-case letters and digits (botocore's `\w` also admits upper case and '_',
/// which no real region uses).
public enum RegionName {
    /// Longest accepted name: real ones are at most 16 bytes; the bound keeps echoing it cheap.
    public static let maxLength = 32

    /// Checks the bytes right to left: `<digits>`, then `<word>`, then the partition prefix
    /// before them. No allocation (it runs on every request).
    public static func isValid(_ name: String) -> Bool {
        let count = name.utf8.count
        guard count >= 6, count <= maxLength else { return false }
        var name = name
        return name.withUTF8 { b in
            guard let lastDash = b.lastIndex(of: 0x2D), lastDash + 1 < b.count, lastDash > 0,
                  let wordDash = UnsafeBufferPointer(rebasing: b[..<lastDash]).lastIndex(of: 0x2D),
                  wordDash + 1 < lastDash
            else { return false }
            for i in (lastDash + 1)..<b.count where !isDigit(b[i]) { return false }
            for i in (wordDash + 1)..<lastDash where !isDigit(b[i]) && !(b[i] >= 0x61 && b[i] <= 0x7A) { return false }
            return isPartition(UnsafeBufferPointer(rebasing: b[..<wordDash]))
        }
    }

    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    /// us eu ap sa ca me af il mx (aws), cn (aws-cn), and the longer partition prefixes.
    static func isPartition(_ p: UnsafeBufferPointer<UInt8>) -> Bool {
        switch p.count {
        case 2:
            switch UInt16(p[0]) << 8 | UInt16(p[1]) {
            case 0x7573, 0x6575, 0x6170, 0x7361, 0x6361, 0x6D65, 0x6166, 0x696C, 0x6D78, 0x636E: return true
            default: return false
            }
        case 6: return equal(p, "us-gov") || equal(p, "us-iso")
        case 7: return equal(p, "us-isob") || equal(p, "us-isof") || equal(p, "eu-isoe") || equal(p, "eusc-de")
        default: return false
        }
    }

    static func equal(_ p: UnsafeBufferPointer<UInt8>, _ literal: StaticString) -> Bool {
        guard p.count == literal.utf8CodeUnitCount else { return false }
        let l = literal.utf8Start
        for i in 0..<p.count where p[i] != l[i] { return false }
        return true
    }
}
