import IAMPolicy

/// Who is calling, established by authentication: the account and region every key
/// lookup is scoped to, and the principal that authorization and audit name.
public struct Caller: Sendable {
    public let account: String
    public let region: String
    public let accessKeyId: String
    public let principalArn: String
    public let sourceIP: String
    public let userAgent: String
    /// The principal as the policy engine sees it (kind, user ID, tags, role of a session).
    public let principal: RequestPrincipal
    /// The caller's identity-based policies (a user's inline, attached and group policies;
    /// a session's role policies), compiled when loaded. Empty for an account root, which
    /// IAM policies do not govern.
    public let identityPolicies: [CompiledPolicy]
    /// An assumed-role session's session policies (Policy, PolicyArns); nil when the session
    /// has none, so nothing narrows it.
    public let sessionPolicies: [CompiledPolicy]?
    /// Whether the request came over TLS (aws:SecureTransport).
    public let secureTransport: Bool
    /// When a trusted service calls on this caller's behalf (TrustedServices, kms:ViaService):
    /// "NAME.REGION.amazonaws.com", the kms:ViaService value; nil for a direct call.
    public let viaService: String?
    /// CloudTrail's userIdentity.invokedBy (and sourceIPAddress): "NAME.amazonaws.com".
    public let invokedBy: String?

    public init(account: String, region: String, accessKeyId: String, principalArn: String? = nil,
                sourceIP: String = "", userAgent: String = "", principal: RequestPrincipal? = nil,
                identityPolicies: [CompiledPolicy] = [], sessionPolicies: [CompiledPolicy]? = nil,
                secureTransport: Bool = false, viaService: String? = nil, invokedBy: String? = nil) {
        self.account = account
        self.region = region
        self.accessKeyId = accessKeyId
        let arn = principalArn ?? principal?.arn ?? "arn:aws:iam::\(account):root"
        self.principalArn = arn
        self.sourceIP = sourceIP
        self.userAgent = userAgent
        self.principal = principal ?? (arn == "arn:aws:iam::\(account):root"
            ? .root(account) : .user(arn))
        self.identityPolicies = identityPolicies
        self.sessionPolicies = sessionPolicies
        self.secureTransport = secureTransport
        self.viaService = viaService
        self.invokedBy = invokedBy
    }
}
