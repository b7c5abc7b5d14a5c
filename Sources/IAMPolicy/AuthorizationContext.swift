/// Who is asking, as the policy engine sees it: the authenticated principal's ARN, account and
/// kind, and for an assumed-role session the role it came from.
public struct RequestPrincipal: Sendable, Equatable {
    /// The aws:PrincipalType values AWS documents.
    public enum Kind: String, Sendable, Equatable {
        case root = "Account", user = "User", assumedRole = "AssumedRole"
        case federatedUser = "FederatedUser", service = "Service", anonymous = "Anonymous"
    }

    /// For a service principal, the service name ("dynamodb.amazonaws.com").
    public let arn: String
    public let account: String
    public let kind: Kind
    /// For an assumed-role session: the role's ARN (with its path), which a policy's
    /// Principal may name instead of the session.
    public let roleArn: String?
    public let userId: String?
    public let username: String?
    public let tags: [String: String]

    public init(arn: String, account: String, kind: Kind, roleArn: String? = nil,
                userId: String? = nil, username: String? = nil, tags: [String: String] = [:]) {
        self.arn = arn
        self.account = account
        self.kind = kind
        self.roleArn = roleArn
        self.userId = userId
        self.username = username
        self.tags = tags
    }

    public static func root(_ account: String) -> RequestPrincipal {
        RequestPrincipal(arn: "arn:aws:iam::\(account):root", account: account, kind: .root, userId: account)
    }

    /// arn:aws:iam::<account>:user/<path><name>
    public static func user(_ arn: String, userId: String? = nil, tags: [String: String] = [:]) -> RequestPrincipal {
        let account = ARNParts(arn)?.account ?? ""
        let name = arn.split(separator: "/").last.map(String.init)
        return RequestPrincipal(arn: arn, account: account, kind: .user, userId: userId, username: name, tags: tags)
    }

    /// An STS session of `roleArn` named `session`:
    /// arn:aws:sts::<account>:assumed-role/<role name>/<session>.
    public static func assumedRole(roleArn: String, session: String, roleId: String? = nil,
                                   tags: [String: String] = [:]) -> RequestPrincipal {
        let account = ARNParts(roleArn)?.account ?? ""
        let roleName = roleArn.split(separator: "/").last.map(String.init) ?? ""
        return RequestPrincipal(arn: "arn:aws:sts::\(account):assumed-role/\(roleName)/\(session)", account: account,
                                kind: .assumedRole, roleArn: roleArn,
                                userId: "\(roleId ?? "AROA" + account):\(session)", tags: tags)
    }

    public static func service(_ name: String) -> RequestPrincipal {
        RequestPrincipal(arn: name, account: "", kind: .service)
    }

    /// The ARN AWS reports as aws:PrincipalArn: the role's, for a session.
    public var principalArnForConditions: String { roleArn ?? arn }
}

/// The facts of one request that a decision is a function of: principal, action, resource,
/// the encryption context (for grant constraints), and every condition key's values.
/// Keys are case-insensitive; a key is single- or multi-valued by how many values it holds.
public struct AuthorizationContext: Sendable {
    public let principal: RequestPrincipal
    public let action: String
    /// Lowercased once: actions are matched case-insensitively.
    let actionLowercased: String
    public let resource: String
    /// The account that owns the resource; a different caller account is cross-account use.
    public let resourceAccount: String
    public let encryptionContext: [String: String]
    private let values: [String: [String]]
    /// The request path's form of the same values (`init(...conditionList:)`): a few keys,
    /// searched in order. The names are the very strings the compiled conditions hold
    /// (CompiledPolicy.conditionKeys), so a comparison is usually one pointer check, and
    /// building it hashes nothing.
    private let list: [ConditionEntry]
    /// When set, the request's time (seconds since 1970) is aws:CurrentTime and aws:EpochTime,
    /// winning over `conditions`: Date and Numeric operators then compare it as a number, and
    /// the text form is made only for an operator that reads text (rare).
    public var requestTime: Double? = nil

    /// `conditions` holds request-specific keys (kms:EncryptionAlgorithm, aws:SourceIp, ...);
    /// the principal's global keys (aws:PrincipalArn, aws:PrincipalAccount, aws:PrincipalType,
    /// aws:userid, aws:username, aws:PrincipalTag/*) are derived here and win over them.
    public init(principal: RequestPrincipal, action: String, resource: String, resourceAccount: String? = nil,
                encryptionContext: [String: String] = [:], conditions: [String: [String]] = [:],
                conditionKeysAreLowercased: Bool = false) {
        self.principal = principal
        self.action = action
        self.actionLowercased = action.lowercased()
        self.resource = resource
        self.resourceAccount = resourceAccount ?? ARNParts(resource)?.account ?? principal.account
        self.encryptionContext = encryptionContext
        // Request keys are stored as given (lowercased once); the principal's keys are derived
        // on lookup, so a request whose policies read no condition builds no map at all.
        if conditionKeysAreLowercased {
            self.values = conditions  // the request path builds them from CompiledPolicy.conditionKeys
        } else {
            var v: [String: [String]] = [:]
            for (k, vals) in conditions { v[k.lowercased()] = vals }
            self.values = v
        }
        self.list = []
    }

    /// Past this many keys a list is searched through a dictionary instead (bounded work
    /// for a policy that reads hundreds of keys).
    static let listLimit = 16

    /// The request path's form: `conditionList` holds lowercased keys, each at most once, as
    /// `CompiledPolicy.conditionKeys` names them. Decides exactly as the dictionary form does.
    public init(principal: RequestPrincipal, action: String, resource: String, resourceAccount: String,
                encryptionContext: [String: String] = [:], conditionList: [ConditionEntry]) {
        self.principal = principal
        self.action = action
        self.actionLowercased = action.lowercased()
        self.resource = resource
        self.resourceAccount = resourceAccount
        self.encryptionContext = encryptionContext
        if conditionList.count > Self.listLimit {
            var v: [String: [String]] = [:]
            v.reserveCapacity(conditionList.count)
            for e in conditionList where v[e.key] == nil { v[e.key] = e.values }
            self.values = v
            self.list = []
        } else {
            self.values = [:]
            self.list = conditionList
        }
    }

    /// The request-supplied values of one key (not the principal's or the time's).
    @inline(__always)
    private func stored(_ lowercasedKey: String) -> [String]? {
        // Lengths first: a different key is then usually told apart without a string comparison.
        let n = lowercasedKey.utf8.count
        for e in list where e.key.utf8.count == n && e.key == lowercasedKey { return e.values }
        return values.isEmpty ? nil : values[lowercasedKey]
    }

    /// The principal's global keys, which win over request-supplied values of the same name.
    private func principalValues(_ key: String) -> [String]? {
        guard principal.kind != .anonymous else { return nil }
        switch key {
        case "aws:principalarn": return principal.kind == .service ? nil : [principal.principalArnForConditions]
        case "aws:principalaccount": return principal.kind == .service ? nil : [principal.account]
        case "aws:principalservicename": return principal.kind == .service ? [principal.arn] : nil
        case "aws:principalisawsservice": return principal.kind == .service ? ["true"] : nil
        case "aws:principaltype": return [principal.kind.rawValue]
        case "aws:userid": return principal.userId.map { [$0] }
        case "aws:username": return principal.username.map { [$0] }
        default:
            guard key.hasPrefix("aws:principaltag/") else { return nil }
            let tag = key.dropFirst("aws:principaltag/".count)
            for (tk, tv) in principal.tags where tk.lowercased() == tag { return [tv] }
            return nil
        }
    }

    /// The key's values, or nil when the request does not carry it.
    public func values(forKey lowercasedKey: String) -> [String]? {
        values(forKey: lowercasedKey, source: ConditionKeySource(lowercasedKey))
    }

    /// The same, with where the key's values come from worked out once (at compile time for
    /// a condition), so a lookup does no prefix test.
    func values(forKey lowercasedKey: String, source: ConditionKeySource) -> [String]? {
        switch source {
        case .principal:
            if let derived = principalValues(lowercasedKey) { return derived }
        case .currentTime:
            if let requestTime { return [PolicyDate.iso8601(requestTime)] }
        case .epochTime:
            if let requestTime { return [String(Int64(requestTime))] }
        case .request:
            break
        }
        return stored(lowercasedKey)
    }

    /// The request time as the named time key's text would parse: aws:CurrentTime's text has
    /// whole seconds, aws:EpochTime's is the integer part. nil when `requestTime` is not set.
    func timeNumber(_ key: RequestTimeKey) -> Double? {
        guard let requestTime else { return nil }
        switch key {
        case .none: return nil
        case .currentTime: return Double(Int64(requestTime.rounded(.down)))
        case .epochTime: return Double(Int64(requestTime))
        }
    }
}

/// One condition key's request values, for `AuthorizationContext.init(...conditionList:)`.
public struct ConditionEntry: Sendable {
    /// Lowercased.
    public let key: String
    public let values: [String]

    public init(key: String, values: [String]) {
        self.key = key
        self.values = values
    }
}

/// Where a condition key's values come from, decided once from its (lowercased) name: the
/// principal's global keys and the request time win over request-supplied values.
enum ConditionKeySource: Sendable, Equatable {
    case principal, currentTime, epochTime, request

    init(_ lowercasedKey: String) {
        if lowercasedKey.hasPrefix("aws:principal") || lowercasedKey == "aws:userid" || lowercasedKey == "aws:username" {
            self = .principal
        } else if lowercasedKey == "aws:currenttime" {
            self = .currentTime
        } else if lowercasedKey == "aws:epochtime" {
            self = .epochTime
        } else {
            self = .request
        }
    }
}

/// The six colon-separated fields of an ARN; the last keeps any further colons.
struct ARNParts {
    let fields: [Substring]
    var account: String { String(fields[4]) }

    init?(_ arn: String) {
        let f = arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard f.count == 6, f[0] == "arn" else { return nil }
        fields = f
    }
}
