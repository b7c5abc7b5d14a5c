import IAMPolicy

/// A role as STS needs it, from the IAM store.
public struct STSRole: Sendable {
    /// arn:aws:iam::ACCOUNT:role/PATH/NAME
    public let arn: String
    public let name: String
    /// AROA...
    public let roleId: String
    public let account: String
    /// The AssumeRolePolicyDocument, compiled as a resource-based policy.
    public let trustPolicy: CompiledPolicy
    /// Seconds, 3600...43200.
    public let maxSessionDuration: Int
    public let tags: [String: String]

    public init(arn: String, name: String, roleId: String, account: String, trustPolicy: CompiledPolicy,
                maxSessionDuration: Int, tags: [String: String] = [:]) {
        self.arn = arn
        self.name = name
        self.roleId = roleId
        self.account = account
        self.trustPolicy = trustPolicy
        self.maxSessionDuration = maxSessionDuration
        self.tags = tags
    }
}

/// What STS reads from IAM: roles, OIDC providers, managed policies (for PolicyArns), and
/// which account an access key belongs to. The server implements it over the IAM store.
public protocol STSDirectory: Sendable {
    func role(arn: String) -> STSRole?
    /// The provider of `account` whose URL is `issuerHostPath` ("oidc.example.com/path").
    func oidcProvider(account: String, issuerHostPath: String) -> OIDCProviderConfig?
    /// A managed policy's default version, compiled as an identity policy.
    func managedPolicy(arn: String) -> CompiledPolicy?
    /// The account of a long-term access key (AKIA...), if the server knows it.
    func account(ofAccessKey accessKeyId: String) -> String?
}

/// The authenticated caller of an STS operation, as STS needs it.
public struct STSCaller: Sendable {
    public let principal: RequestPrincipal
    public let accessKeyId: String
    public let identityPolicies: [CompiledPolicy]
    public let sessionPolicies: [CompiledPolicy]?
    /// The session the caller's credentials come from, if they are temporary.
    public let session: STSSession?
    public let sourceIP: String

    public init(principal: RequestPrincipal, accessKeyId: String, identityPolicies: [CompiledPolicy] = [],
                sessionPolicies: [CompiledPolicy]? = nil, session: STSSession? = nil, sourceIP: String = "") {
        self.principal = principal
        self.accessKeyId = accessKeyId
        self.identityPolicies = identityPolicies
        self.sessionPolicies = sessionPolicies
        self.session = session
        self.sourceIP = sourceIP
    }
}
