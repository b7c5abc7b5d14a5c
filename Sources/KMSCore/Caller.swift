/// Who is calling, established by authentication: the account and region every key
/// lookup is scoped to, and the principal that authorization and audit name.
public struct Caller: Sendable {
    public let account: String
    public let region: String
    public let accessKeyId: String
    public let principalArn: String
    public let sourceIP: String
    public let userAgent: String

    public init(account: String, region: String, accessKeyId: String, principalArn: String? = nil,
                sourceIP: String = "", userAgent: String = "") {
        self.account = account
        self.region = region
        self.accessKeyId = accessKeyId
        self.principalArn = principalArn ?? "arn:aws:iam::\(account):root"
        self.sourceIP = sourceIP
        self.userAgent = userAgent
    }
}
