/// Where a matched statement came from.
public enum PolicySource: Sendable, Equatable {
    case resourcePolicy
    case identityPolicy(Int)
    case sessionPolicy(Int)
}

/// A statement that applied to the request, for SimulatePrincipalPolicy's MatchedStatements.
public struct MatchedStatement: Sendable, Equatable {
    public let source: PolicySource
    public let policyName: String
    public let sid: String?
    public let statementIndex: Int
    public let effect: PolicyEffect
}

/// The decision and why, in the terms AWS's AccessDeniedException messages and IAM's
/// EvalDecision use.
public struct AuthorizationResult: Sendable, Equatable {
    public enum Decision: String, Sendable, Equatable { case allowed, explicitDeny, implicitDeny }

    public enum Reason: String, Sendable, Equatable {
        case allowedByResourcePolicy, allowedByResourceAndIdentityPolicy, allowedByGrant
        case explicitDenyInResourcePolicy, explicitDenyInIdentityPolicy, explicitDenyInSessionPolicy
        case noResourcePolicyAllows, noIdentityPolicyAllows, noSessionPolicyAllows
    }

    public let decision: Decision
    public let reason: Reason
    public let matchedStatements: [MatchedStatement]
    /// The grant that allowed the request, if one did.
    public let grantId: String?

    public var isAllowed: Bool { decision == .allowed }

    /// AccessDeniedException's message, worded as AWS words it; nil when allowed.
    public func accessDeniedMessage(for context: AuthorizationContext) -> String? {
        let head = "User: \(context.principal.arn) is not authorized to perform: \(context.action) on resource: \(context.resource)"
        switch reason {
        case .allowedByResourcePolicy, .allowedByResourceAndIdentityPolicy, .allowedByGrant: return nil
        case .explicitDenyInResourcePolicy: return head + " with an explicit deny in a resource-based policy"
        case .explicitDenyInIdentityPolicy: return head + " with an explicit deny in an identity-based policy"
        case .explicitDenyInSessionPolicy: return head + " with an explicit deny in a session policy"
        case .noResourcePolicyAllows: return head + " because no resource-based policy allows the \(context.action) action"
        case .noIdentityPolicyAllows: return head + " because no identity-based policy allows the \(context.action) action"
        case .noSessionPolicyAllows: return head + " because no session policy allows the \(context.action) action"
        }
    }
}

/// The KMS authorization decision as a pure function of compiled policies, grants and one
/// request's facts (KMS Developer Guide "Key policies"; IAM "Policy evaluation logic"):
///  1. an explicit Deny in the key policy, an identity policy or a session policy wins;
///  2. a grant for the caller, operation and encryption context allows;
///  3. the key policy naming the caller (or "*", or the session's role) allows, narrowed by a
///     session policy unless it names the session itself;
///  4. the key policy naming the caller's account allows when an identity policy (and the
///     session policy, if any) allows too;
///  5. across accounts, both the key policy and the caller's identity policy must allow.
public struct PolicyEvaluator: Sendable {
    public var resourcePolicy: CompiledPolicy?
    public var identityPolicies: [CompiledPolicy]
    /// nil when the session was created without a session policy (nothing to narrow).
    public var sessionPolicies: [CompiledPolicy]?
    public var grants: [GrantRule]

    public init(resourcePolicy: CompiledPolicy?, identityPolicies: [CompiledPolicy] = [],
                sessionPolicies: [CompiledPolicy]? = nil, grants: [GrantRule] = []) {
        self.resourcePolicy = resourcePolicy
        self.identityPolicies = identityPolicies
        self.sessionPolicies = sessionPolicies
        self.grants = grants
    }

    /// `reportMatches: false` (the request path) skips building MatchedStatements, which only
    /// the simulator reports; the decision and reason are the same either way.
    public func evaluate(_ c: AuthorizationContext, reportMatches: Bool = true) -> AuthorizationResult {
        var matched: [MatchedStatement] = []
        var resourceDeny = false, identityDeny = false, sessionDeny = false
        var resourceAllow = PrincipalMatch.none
        var identityAllow = false, sessionAllow = false

        // Only the statement lists are taken out of the policies: binding a whole policy
        // (`if let p = ...`, `for p in ...`) copies it, a reference count per field.
        // Without a report, an Allow that cannot raise what is already allowed is not weighed
        // (its conditions are skipped): only Denies can still change the decision. Statements
        // are walked through buffer pointers, so none is retained and released per request.
        if resourcePolicy != nil {
            resourcePolicy.unsafelyUnwrapped.statements.withUnsafeBufferPointer { statements in
                for s in statements {
                    let who = s.principalMatch(c.principal)
                    guard who != .none else { continue }
                    if !reportMatches, s.effect == .allow, who <= resourceAllow { continue }
                    guard s.appliesIgnoringPrincipal(c) else { continue }
                    if reportMatches { matched.append(MatchedStatement(source: .resourcePolicy, policyName: resourcePolicy.unsafelyUnwrapped.name, sid: s.sid, statementIndex: s.index, effect: s.effect)) }
                    if s.effect == .deny { resourceDeny = true } else if who > resourceAllow { resourceAllow = who }
                }
            }
        }
        // Identity policies belong to IAM principals; a service or anonymous caller has none.
        let hasIdentity = c.principal.kind != .service && c.principal.kind != .anonymous
        if hasIdentity {
            for i in identityPolicies.indices {
                identityPolicies[i].statements.withUnsafeBufferPointer { statements in
                    for s in statements {
                        if !reportMatches, s.effect == .allow, identityAllow { continue }
                        guard s.appliesIgnoringPrincipal(c) else { continue }
                        if reportMatches { matched.append(MatchedStatement(source: .identityPolicy(i), policyName: identityPolicies[i].name, sid: s.sid, statementIndex: s.index, effect: s.effect)) }
                        if s.effect == .deny { identityDeny = true } else { identityAllow = true }
                    }
                }
            }
        }
        let sessionApplies = sessionPolicies != nil && (c.principal.kind == .assumedRole || c.principal.kind == .federatedUser)
        if sessionApplies, sessionPolicies != nil {
            let sessions = sessionPolicies.unsafelyUnwrapped
            for i in sessions.indices {
                sessions[i].statements.withUnsafeBufferPointer { statements in
                    for s in statements {
                        if !reportMatches, s.effect == .allow, sessionAllow { continue }
                        guard s.appliesIgnoringPrincipal(c) else { continue }
                        if reportMatches { matched.append(MatchedStatement(source: .sessionPolicy(i), policyName: sessions[i].name, sid: s.sid, statementIndex: s.index, effect: s.effect)) }
                        if s.effect == .deny { sessionDeny = true } else { sessionAllow = true }
                    }
                }
            }
        }

        func result(_ d: AuthorizationResult.Decision, _ r: AuthorizationResult.Reason, grant: String? = nil) -> AuthorizationResult {
            // Report only the statements that decided: the denies for a deny, the allows for an allow.
            let relevant: [MatchedStatement]
            switch d {
            case .explicitDeny: relevant = matched.filter { $0.effect == .deny }
            case .allowed: relevant = matched.filter { $0.effect == .allow }
            case .implicitDeny: relevant = []
            }
            return AuthorizationResult(decision: d, reason: r, matchedStatements: relevant, grantId: grant)
        }

        if resourceDeny { return result(.explicitDeny, .explicitDenyInResourcePolicy) }
        if identityDeny { return result(.explicitDeny, .explicitDenyInIdentityPolicy) }
        if sessionDeny { return result(.explicitDeny, .explicitDenyInSessionPolicy) }

        if let g = grants.first(where: { $0.allows(c) }) {
            return result(.allowed, .allowedByGrant, grant: g.grantId)
        }

        // The root user of an account is not subject to that account's identity policies.
        let identityOK = c.principal.kind == .root || identityAllow
        let sessionOK = !sessionApplies || sessionAllow
        let sameAccount = c.principal.kind == .service || c.principal.account == c.resourceAccount

        switch resourceAllow {
        case .none:
            return result(.implicitDeny, .noResourcePolicyAllows)
        case .exact where sameAccount:
            return result(.allowed, .allowedByResourcePolicy)
        case .broad where sameAccount:
            return sessionOK ? result(.allowed, .allowedByResourcePolicy) : result(.implicitDeny, .noSessionPolicyAllows)
        default:
            // The account is named (delegation to IAM), or the key is in another account:
            // the caller's identity policy must allow too, and the session policy if any.
            guard identityOK else { return result(.implicitDeny, .noIdentityPolicyAllows) }
            guard sessionOK || resourceAllow == .exact && sameAccount else { return result(.implicitDeny, .noSessionPolicyAllows) }
            return result(.allowed, .allowedByResourceAndIdentityPolicy)
        }
    }
}
