/// Which IAM principals exist, for key policies: AWS refuses a key policy naming a user or
/// role that does not exist (MalformedPolicyDocumentException, "Policy contains a statement
/// with one or more invalid principals."). The server's IdentityRegistry answers it.
public protocol PrincipalDirectory: Sendable {
    /// Whether `arn` (an IAM user or role ARN, or an assumed-role session ARN, whose role is
    /// what must exist) names an existing principal.
    func principalExists(arn: String) -> Bool
}

/// Without IAM (unit tests): every principal is taken to exist.
public struct AnyPrincipalExists: PrincipalDirectory {
    public init() {}
    public func principalExists(arn: String) -> Bool { true }
}

extension KeyPolicy {
    /// Refuses a (compiled, so well-formed) policy whose Principal or NotPrincipal names an
    /// IAM user, role or role session that does not exist. Account IDs, roots, services
    /// and "*" are not looked up.
    public static func checkPrincipalsExist(_ text: String, in directory: any PrincipalDirectory) throws(KMSError) {
        guard let doc = try? JSONParser.parse(text), case .object(let policy) = doc else { return }
        let statements: [JSONValue]
        switch policy["Statement"] {
        case .object(let single)?: statements = [.object(single)]
        case .array(let list)?: statements = list
        default: statements = []
        }
        for s in statements {
            guard case .object(let st) = s else { continue }
            for element in ["Principal", "NotPrincipal"] {
                guard case .object(let principal)? = st[element] else { continue }
                for arn in strings(principal["AWS"]) where names(arn) && !directory.principalExists(arn: arn) {
                    throw malformed("Policy contains a statement with one or more invalid principals.")
                }
            }
        }
    }

    /// IAM users and roles, and role sessions: the principals that must exist.
    static func names(_ arn: String) -> Bool {
        (arn.hasPrefix("arn:aws:iam::") && (arn.contains(":user/") || arn.contains(":role/")))
            || (arn.hasPrefix("arn:aws:sts::") && arn.contains(":assumed-role/"))
    }
}
