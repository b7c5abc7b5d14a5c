/// An alias: a friendly name ("alias/...") pointing at one key in the same account and region.
public struct Alias: Sendable, Equatable {
    public let aliasName: String
    public let account: String
    public let region: String
    public var targetKeyId: String
    public let creationDate: Double
    public var lastUpdatedDate: Double

    public init(aliasName: String, account: String, region: String, targetKeyId: String, creationDate: Double, lastUpdatedDate: Double) {
        self.aliasName = aliasName
        self.account = account
        self.region = region
        self.targetKeyId = targetKeyId
        self.creationDate = creationDate
        self.lastUpdatedDate = lastUpdatedDate
    }

    public var arn: String { ARN.alias(aliasName, region: region, account: account) }
}
