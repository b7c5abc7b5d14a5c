/// AWS resource names for KMS keys and aliases: arn:aws:kms:REGION:ACCOUNT:key/ID.
public struct ARN: Sendable, Equatable {
    public let region: String
    public let account: String
    /// "key/<id>" or "alias/<name>".
    public let resource: String

    public init(region: String, account: String, resource: String) {
        self.region = region
        self.account = account
        self.resource = resource
    }

    public static func key(_ keyId: String, region: String, account: String) -> String {
        "arn:aws:kms:\(region):\(account):key/\(keyId)"
    }

    public static func alias(_ aliasName: String, region: String, account: String) -> String {
        "arn:aws:kms:\(region):\(account):\(aliasName)"
    }

    /// Parses a KMS ARN; nil when the text is not one.
    public static func parse(_ text: String) -> ARN? {
        let parts = text.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", parts[1].hasPrefix("aws"), parts[2] == "kms" else { return nil }
        let region = String(parts[3]), account = String(parts[4]), resource = String(parts[5])
        guard !region.isEmpty, account.count == 12, account.allSatisfy(\.isASCIIDigit),
              resource.hasPrefix("key/") || resource.hasPrefix("alias/") else { return nil }
        return ARN(region: region, account: account, resource: resource)
    }

    public var string: String { "arn:aws:kms:\(region):\(account):\(resource)" }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
