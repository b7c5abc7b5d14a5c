import IAMPolicy

/// What a session token carries, sealed: everything needed to authenticate a later request
/// made with the temporary credentials, with no database lookup. AWS's tokens are likewise
/// self-contained; ours are sealed under a key derived from the server's root key, so every
/// node that shares the root key accepts them and nobody can read or forge them.
public struct STSSession: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable {
        /// AssumeRole / AssumeRoleWithWebIdentity: arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION.
        case assumedRole
        /// GetSessionToken: the calling user (or root) itself, for a while.
        case sessionToken
    }

    public var kind: Kind
    /// ASIA...: the access key ID the token is bound to.
    public var accessKeyId: String
    public var secretAccessKey: String
    public var account: String
    /// The session's principal ARN (assumed-role ARN, or the user/root ARN for GetSessionToken).
    public var arn: String
    /// aws:userid: "AROA...:session" for a role session, the user ID (or account) otherwise.
    public var userId: String
    /// For a role session: the role's ARN (with path), name and unique ID. A role deleted and
    /// created again has a new ID, and the old sessions no longer get its policies.
    public var roleArn: String?
    public var roleId: String?
    public var sessionName: String?
    public var sourceIdentity: String?
    public var tags: [String: String]
    /// Session policies (Policy, PolicyArns): nil when the session had none.
    public var policy: String?
    public var policyArns: [String]?
    /// Who asked for the session (the caller of AssumeRole, or the OIDC provider), for audit.
    public var issuedFor: String
    /// Seconds since the epoch.
    public var issued: Double
    public var expires: Double

    /// One-letter names inside the seal: the token is signed into every request's canonical
    /// request (X-Amz-Security-Token), so every byte saved is hashed less on the hot path.
    enum CodingKeys: String, CodingKey {
        case kind = "k", accessKeyId = "a", secretAccessKey = "s", account = "c", arn = "n", userId = "u"
        case roleArn = "r", roleId = "i", sessionName = "m", sourceIdentity = "o", tags = "t", policy = "p"
        case policyArns = "q", issuedFor = "f", issued = "b", expires = "e"
    }

    public init(kind: Kind, accessKeyId: String, secretAccessKey: String, account: String, arn: String, userId: String,
                roleArn: String? = nil, roleId: String? = nil, sessionName: String? = nil, sourceIdentity: String? = nil,
                tags: [String: String] = [:], policy: String? = nil, policyArns: [String]? = nil,
                issuedFor: String, issued: Double, expires: Double) {
        self.kind = kind
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.account = account
        self.arn = arn
        self.userId = userId
        self.roleArn = roleArn
        self.roleId = roleId
        self.sessionName = sessionName
        self.sourceIdentity = sourceIdentity
        self.tags = tags
        self.policy = policy
        self.policyArns = policyArns
        self.issuedFor = issuedFor
        self.issued = issued
        self.expires = expires
    }

    /// The principal as the policy engine sees it.
    public var principal: RequestPrincipal {
        switch kind {
        case .assumedRole:
            return RequestPrincipal(arn: arn, account: account, kind: .assumedRole, roleArn: roleArn,
                                    userId: userId, tags: tags)
        case .sessionToken:
            if arn == "arn:aws:iam::\(account):root" { return .root(account) }
            return .user(arn, userId: userId, tags: tags)
        }
    }

    /// The temporary credentials as the STS responses return them.
    public func credentials(token: String) -> STSCredentials {
        STSCredentials(accessKeyId: accessKeyId, secretAccessKey: secretAccessKey, sessionToken: token, expiration: expires)
    }
}

/// Credentials, as STS's `Credentials` element.
public struct STSCredentials: Sendable, Equatable {
    public let accessKeyId: String
    public let secretAccessKey: String
    public let sessionToken: String
    /// Seconds since the epoch.
    public let expiration: Double
}
