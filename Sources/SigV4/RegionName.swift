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

    static let prefixes: [[UInt8]] = [
        "us-gov", "us-isob", "us-isof", "us-iso", "eu-isoe", "eusc-de",
        "us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx", "cn",
    ].map { Array($0.utf8) }

    public static func isValid(_ name: String) -> Bool {
        let utf8 = name.utf8
        guard utf8.count >= 6, utf8.count <= maxLength else { return false }
        var name = name
        return name.withUTF8 { bytes in
            prefixes.contains { prefix in
                bytes.starts(with: prefix) && isWordDashDigits(UnsafeBufferPointer(rebasing: bytes[prefix.count...]))
            }
        }
    }

    /// `-<[a-z0-9]+>-<[0-9]+>`, the part after the partition prefix.
    static func isWordDashDigits(_ rest: UnsafeBufferPointer<UInt8>) -> Bool {
        guard rest.count >= 4, rest[0] == 0x2D, let lastDash = rest.lastIndex(of: 0x2D), lastDash > 1 else { return false }
        let word = rest[1..<lastDash]
        let digits = rest[(lastDash + 1)...]
        return !digits.isEmpty
            && digits.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
            && word.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) }
    }
}
