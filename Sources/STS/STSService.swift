import IAMPolicy

/// AssumeRole's request, as the query layer parsed it.
public struct AssumeRoleRequest: Sendable {
    public var roleArn: String
    public var roleSessionName: String
    public var durationSeconds: Int?
    public var externalId: String?
    public var policy: String?
    public var policyArns: [String]?
    public var sourceIdentity: String?
    public var tags: [(key: String, value: String)]

    public init(roleArn: String, roleSessionName: String, durationSeconds: Int? = nil, externalId: String? = nil,
                policy: String? = nil, policyArns: [String]? = nil, sourceIdentity: String? = nil,
                tags: [(key: String, value: String)] = []) {
        self.roleArn = roleArn
        self.roleSessionName = roleSessionName
        self.durationSeconds = durationSeconds
        self.externalId = externalId
        self.policy = policy
        self.policyArns = policyArns
        self.sourceIdentity = sourceIdentity
        self.tags = tags
    }
}

public struct AssumeRoleWithWebIdentityRequest: Sendable {
    public var roleArn: String
    public var roleSessionName: String
    public var webIdentityToken: String
    public var durationSeconds: Int?
    public var policy: String?
    public var policyArns: [String]?

    public init(roleArn: String, roleSessionName: String, webIdentityToken: String, durationSeconds: Int? = nil,
                policy: String? = nil, policyArns: [String]? = nil) {
        self.roleArn = roleArn
        self.roleSessionName = roleSessionName
        self.webIdentityToken = webIdentityToken
        self.durationSeconds = durationSeconds
        self.policy = policy
        self.policyArns = policyArns
    }
}

/// What AssumeRole and AssumeRoleWithWebIdentity return.
public struct AssumedRoleResult: Sendable {
    public let credentials: STSCredentials
    /// AROA...:SESSION
    public let assumedRoleId: String
    public let arn: String
    /// Percent of the allowed size the session policies and tags take; nil without them.
    public let packedPolicySize: Int?
    public let sourceIdentity: String?
    /// Web identity only.
    public let subjectFromWebIdentityToken: String?
    public let provider: String?
    public let audience: String?
    /// The session as sealed (for audit: never its secret or token).
    public let session: STSSession
}

/// The STS operations over a directory of roles and providers, a token sealer and a clock
/// value passed in (`now`, seconds since the epoch), so tests move time freely.
public struct STSService: Sendable {
    public let sealer: SessionTokenSealer
    public let directory: any STSDirectory
    public let webIdentity: WebIdentityVerifier

    /// AWS's limits: 900 s minimum; chained role sessions last at most an hour.
    public static let minDuration = 900
    public static let chainedRoleMaxDuration = 3600
    /// Packed size of session policy plus tags (AWS's PackedPolicySize 100% mark).
    static let packedLimit = 2048

    public init(sealer: SessionTokenSealer, directory: any STSDirectory, webIdentity: WebIdentityVerifier = WebIdentityVerifier()) {
        self.sealer = sealer
        self.directory = directory
        self.webIdentity = webIdentity
    }

    // MARK: GetCallerIdentity, GetAccessKeyInfo

    /// (UserId, Account, Arn) as GetCallerIdentity returns them.
    public func getCallerIdentity(_ caller: STSCaller) -> (userId: String, account: String, arn: String) {
        let p = caller.principal
        return (p.userId ?? p.account, p.account, p.arn)
    }

    public func getAccessKeyInfo(_ accessKeyId: String) -> String? {
        directory.account(ofAccessKey: accessKeyId) ?? AccessKeyID.account(of: accessKeyId)
    }

    // MARK: GetSessionToken

    /// Temporary credentials for the calling user or root (not for a session: AWS refuses that).
    public func getSessionToken(_ caller: STSCaller, durationSeconds: Int?, now: Double) throws(STSError) -> STSCredentials {
        if caller.session != nil || caller.principal.kind == .assumedRole {
            throw .accessDenied("Cannot call GetSessionToken with session credentials")
        }
        let isRoot = caller.principal.kind == .root
        // Root: 900 s to 1 hour (default 1 hour); users: 900 s to 36 hours (default 12 hours).
        let maxDuration = isRoot ? 3600 : 129_600
        let duration = durationSeconds ?? (isRoot ? 3600 : 43_200)
        guard duration >= Self.minDuration, duration <= maxDuration else {
            throw .validation("The requested DurationSeconds exceeds the \(isRoot ? "1 hour" : "36 hour") session limit "
                              + "for this account's \(isRoot ? "root user" : "users")")
        }
        let p = caller.principal
        let session = STSSession(kind: .sessionToken, accessKeyId: AccessKeyID.make(prefix: "ASIA", account: p.account),
                                 secretAccessKey: AccessKeyID.newSecret(), account: p.account, arn: p.arn,
                                 userId: p.userId ?? p.account, tags: p.tags, issuedFor: p.arn,
                                 issued: now, expires: now + Double(duration))
        return try seal(session)
    }

    // MARK: AssumeRole

    public func assumeRole(_ caller: STSCaller, _ r: AssumeRoleRequest, now: Double) throws(STSError) -> AssumedRoleResult {
        try Self.checkSessionName(r.roleSessionName)
        if let e = r.externalId { try Self.checkExternalId(e) }
        if let s = r.sourceIdentity { try Self.checkSourceIdentity(s) }
        let tags = try Self.checkTags(r.tags)
        _ = try compileSessionPolicies(policy: r.policy, arns: r.policyArns)
        let chained = caller.principal.kind == .assumedRole
        // A missing role is refused as a role that does not trust the caller: nothing is revealed.
        guard let role = directory.role(arn: r.roleArn) else {
            throw .notAuthorized(caller.principal.arn, "sts:AssumeRole", r.roleArn)
        }
        let duration = try Self.duration(r.durationSeconds, role: role, chained: chained)
        var conditions: [String: [String]] = ["sts:RoleSessionName": [r.roleSessionName]]
        if let e = r.externalId { conditions["sts:ExternalId"] = [e] }
        if let s = r.sourceIdentity ?? caller.session?.sourceIdentity { conditions["sts:SourceIdentity"] = [s] }
        if !caller.sourceIP.isEmpty { conditions["aws:SourceIp"] = [caller.sourceIP] }
        if !r.tags.isEmpty {
            for (k, v) in tags { conditions["aws:RequestTag/" + k] = [v] }
            conditions["aws:TagKeys"] = r.tags.map(\.key)
        }
        let evaluator = PolicyEvaluator(resourcePolicy: role.trustPolicy, identityPolicies: caller.identityPolicies,
                                        sessionPolicies: caller.sessionPolicies)
        // AssumeRole itself, then what the request adds: session tags (sts:TagSession) and a
        // source identity (sts:SetSourceIdentity), each allowed by the trust policy.
        var actions = ["sts:AssumeRole"]
        if !r.tags.isEmpty { actions.append("sts:TagSession") }
        if r.sourceIdentity != nil { actions.append("sts:SetSourceIdentity") }
        for action in actions {
            let context = AuthorizationContext(principal: caller.principal, action: action, resource: role.arn,
                                               resourceAccount: role.account, conditions: conditions)
            guard evaluator.evaluate(context).isAllowed else {
                throw .notAuthorized(caller.principal.arn, action, role.arn)
            }
        }
        // A source identity, once set, stays with every chained session.
        let sourceIdentity = caller.session?.sourceIdentity ?? r.sourceIdentity
        if let inherited = caller.session?.sourceIdentity, let asked = r.sourceIdentity, asked != inherited {
            throw .accessDenied("Cannot change the source identity of a role session (\(inherited))")
        }
        var principalTags = role.tags
        for (k, v) in tags { principalTags[k] = v }
        let packed = (r.policy != nil || r.policyArns != nil || !tags.isEmpty)
            ? try Self.packedSize(policy: r.policy, arns: r.policyArns, tags: r.tags) : nil
        let session = STSSession(kind: .assumedRole, accessKeyId: AccessKeyID.make(prefix: "ASIA", account: role.account),
                                 secretAccessKey: AccessKeyID.newSecret(), account: role.account,
                                 arn: "arn:aws:sts::\(role.account):assumed-role/\(role.name)/\(r.roleSessionName)",
                                 userId: "\(role.roleId):\(r.roleSessionName)", roleArn: role.arn, roleId: role.roleId,
                                 sessionName: r.roleSessionName, sourceIdentity: sourceIdentity, tags: principalTags,
                                 policy: r.policy, policyArns: r.policyArns, issuedFor: caller.principal.arn,
                                 issued: now, expires: now + Double(duration))
        return AssumedRoleResult(credentials: try seal(session), assumedRoleId: session.userId, arn: session.arn,
                                 packedPolicySize: packed, sourceIdentity: sourceIdentity, subjectFromWebIdentityToken: nil,
                                 provider: nil, audience: nil, session: session)
    }

    // MARK: AssumeRoleWithWebIdentity

    /// Needs no credentials: the OIDC token is the proof of identity.
    public func assumeRoleWithWebIdentity(_ r: AssumeRoleWithWebIdentityRequest, now: Double) async throws(STSError) -> AssumedRoleResult {
        try Self.checkSessionName(r.roleSessionName)
        _ = try compileSessionPolicies(policy: r.policy, arns: r.policyArns)
        guard let issuer = WebIdentityVerifier.unverifiedIssuer(r.webIdentityToken) else { throw .invalidJWT }
        let denied = STSError.accessDenied("Not authorized to perform sts:AssumeRoleWithWebIdentity")
        guard let role = directory.role(arn: r.roleArn) else { throw denied }
        let hostPath = OIDCIssuer.hostPath(issuer)
        guard let provider = directory.oidcProvider(account: role.account, issuerHostPath: hostPath) else {
            throw .invalidIdentityToken("No OpenIDConnect provider found in your account for \(issuer)")
        }
        let identity = try await webIdentity.verify(r.webIdentityToken, provider: provider, now: now)
        let duration = try Self.duration(r.durationSeconds, role: role, chained: false)
        var conditions = identity.conditions
        conditions["sts:RoleSessionName"] = [r.roleSessionName]
        conditions["aws:FederatedProvider"] = [provider.arn]
        let federated = RequestPrincipal(arn: provider.arn, account: role.account, kind: .federatedUser)
        let context = AuthorizationContext(principal: federated, action: "sts:AssumeRoleWithWebIdentity",
                                           resource: role.arn, resourceAccount: role.account, conditions: conditions)
        guard PolicyEvaluator(resourcePolicy: role.trustPolicy).evaluate(context).isAllowed else { throw denied }
        let packed = (r.policy != nil || r.policyArns != nil) ? try Self.packedSize(policy: r.policy, arns: r.policyArns, tags: []) : nil
        let session = STSSession(kind: .assumedRole, accessKeyId: AccessKeyID.make(prefix: "ASIA", account: role.account),
                                 secretAccessKey: AccessKeyID.newSecret(), account: role.account,
                                 arn: "arn:aws:sts::\(role.account):assumed-role/\(role.name)/\(r.roleSessionName)",
                                 userId: "\(role.roleId):\(r.roleSessionName)", roleArn: role.arn, roleId: role.roleId,
                                 sessionName: r.roleSessionName, tags: role.tags, policy: r.policy, policyArns: r.policyArns,
                                 issuedFor: provider.arn, issued: now, expires: now + Double(duration))
        return AssumedRoleResult(credentials: try seal(session), assumedRoleId: session.userId, arn: session.arn,
                                 packedPolicySize: packed, sourceIdentity: nil, subjectFromWebIdentityToken: identity.subject,
                                 provider: identity.issuer, audience: identity.audience, session: session)
    }

    // MARK: Sessions on later requests

    /// The session policies of a session (its Policy and PolicyArns), compiled; nil when it
    /// has none. Called once per cached session.
    public func sessionPolicies(of session: STSSession) throws(STSError) -> [CompiledPolicy]? {
        try compileSessionPolicies(policy: session.policy, arns: session.policyArns)
    }

    func compileSessionPolicies(policy: String?, arns: [String]?) throws(STSError) -> [CompiledPolicy]? {
        guard policy != nil || arns != nil else { return nil }
        var out: [CompiledPolicy] = []
        if let policy {
            guard policy.utf8.count <= Self.packedLimit else {
                throw STSError("PackedPolicyTooLarge", "Packed policy consumes \(policy.utf8.count * 100 / Self.packedLimit)% of allotted space, please use smaller policy for this request.")
            }
            do { out.append(try CompiledPolicy(policy, kind: .identityBased, name: "session policy")) } catch {
                throw .malformedPolicy(error.message)
            }
        }
        if let arns {
            guard arns.count <= 10 else { throw .validation("The number of session policy ARNs cannot exceed 10.") }
            for arn in arns {
                guard let p = directory.managedPolicy(arn: arn) else {
                    throw .validation("Policy \(arn) does not exist or is not attachable.")
                }
                out.append(p)
            }
        }
        return out
    }

    func seal(_ session: STSSession) throws(STSError) -> STSCredentials {
        do { return session.credentials(token: try sealer.seal(session)) } catch {
            throw STSError("InternalFailure", "An internal error occurred.", status: 500)
        }
    }

    // MARK: Validation (AWS's limits and wording)

    static func duration(_ asked: Int?, role: STSRole, chained: Bool) throws(STSError) -> Int {
        let d = asked ?? 3600
        guard d >= minDuration else {
            throw .validation("1 validation error detected: Value '\(d)' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900")
        }
        if chained && d > chainedRoleMaxDuration {
            throw .validation("The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
        }
        guard d <= role.maxSessionDuration else {
            throw .validation("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
        }
        return d
    }

    static func isNameChar(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || "_+=,.@-".utf8.contains(c)
    }

    static func checkSessionName(_ name: String) throws(STSError) {
        let n = name.utf8.count
        guard n >= 2, n <= 64, name.utf8.allSatisfy(isNameChar) else {
            throw .validation("1 validation error detected: Value '\(name.prefix(64))' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*")
        }
    }

    static func checkExternalId(_ id: String) throws(STSError) {
        let n = id.utf8.count
        guard n >= 2, n <= 1224, id.utf8.allSatisfy({ isNameChar($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: "/") }) else {
            throw .validation("1 validation error detected: Value at 'externalId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@:\\/-]*")
        }
    }

    static func checkSourceIdentity(_ s: String) throws(STSError) {
        let n = s.utf8.count
        guard n >= 2, n <= 64, s.utf8.allSatisfy(isNameChar) else {
            throw .validation("1 validation error detected: Value '\(s.prefix(64))' at 'sourceIdentity' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*")
        }
        guard !s.lowercased().hasPrefix("aws:") else {
            throw .validation("SourceIdentity cannot start with the prefix 'aws:'")
        }
    }

    static func checkTags(_ tags: [(key: String, value: String)]) throws(STSError) -> [String: String] {
        guard tags.count <= 50 else {
            throw .validation("1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50")
        }
        var out: [String: String] = [:]
        var seen = Set<String>()
        for (k, v) in tags {
            guard !k.isEmpty, k.count <= 128, v.count <= 256 else {
                throw .validation("1 validation error detected: Value at 'tags' failed to satisfy constraint: tag keys must have 1 to 128 characters and values at most 256")
            }
            guard !k.lowercased().hasPrefix("aws:") else {
                throw .validation("Tag keys cannot start with the prefix 'aws:'")
            }
            // Session tag keys are case-insensitive: two spellings of one key are refused.
            guard seen.insert(k.lowercased()).inserted else {
                throw .validation("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
            }
            out[k] = v
        }
        return out
    }

    /// PackedPolicySize: the session policy and tags against AWS's packed limit, in percent.
    static func packedSize(policy: String?, arns: [String]?, tags: [(key: String, value: String)]) throws(STSError) -> Int {
        var bytes = policy?.utf8.count ?? 0
        bytes += (arns ?? []).reduce(0) { $0 + $1.utf8.count / 8 }
        bytes += tags.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count + 2 }
        let percent = (bytes * 100 + packedLimit - 1) / packedLimit
        guard percent <= 100 else {
            throw STSError("PackedPolicyTooLarge", "Packed policy consumes \(percent)% of allotted space, please use smaller policy for this request.")
        }
        return percent
    }
}
