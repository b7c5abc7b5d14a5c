/// An alias: a friendly name ("alias/...") pointing at one key in the same account and region.
public struct Alias: Sendable, Equatable {
    public let aliasName: String
    public let account: String
    public let region: String
    public var targetKeyId: String
    public let creationDate: Double
    public var lastUpdatedDate: Double
    /// The version of this alias's row in the store (0: not stored yet); see `StoreChange`.
    public var storeVersion: Int64

    public init(aliasName: String, account: String, region: String, targetKeyId: String, creationDate: Double, lastUpdatedDate: Double,
                storeVersion: Int64 = 0) {
        self.aliasName = aliasName
        self.account = account
        self.region = region
        self.targetKeyId = targetKeyId
        self.creationDate = creationDate
        self.lastUpdatedDate = lastUpdatedDate
        self.storeVersion = storeVersion
    }

    public var arn: String { ARN.alias(aliasName, region: region, account: account) }
}
