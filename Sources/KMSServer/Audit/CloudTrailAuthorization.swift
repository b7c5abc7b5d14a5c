import IAMPolicy
import KMSCore

/// Who may call LookupEvents: the account's root, and IAM users and role sessions whose
/// identity policies (and session policies) allow `cloudtrail:LookupEvents`. CloudTrail has
/// no resource policy for it, so the account delegates to the identity policies, the same
/// rule IAM's own actions use (IAMService.authorizeIAM). What is found is account-scoped.
enum CloudTrailAuthorization {
    static let action = "cloudtrail:LookupEvents"

    static func authorizeLookup(_ caller: Caller) throws(KMSError) {
        let principal = caller.principal
        switch principal.kind {
        case .root:
            return
        case .user, .assumedRole, .federatedUser:
            let delegate = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::"#
                + caller.account + #":root"},"Action":"*","Resource":"*"}]}"#
            guard let delegation = try? CompiledPolicy(delegate, kind: .resourceBased, name: "cloudtrail") else {
                throw KMSError.internalError
            }
            let evaluator = PolicyEvaluator(resourcePolicy: delegation, identityPolicies: caller.identityPolicies,
                                            sessionPolicies: caller.sessionPolicies)
            let result = evaluator.evaluate(AuthorizationContext(principal: principal, action: action, resource: "*",
                                                                 resourceAccount: caller.account))
            if result.isAllowed { return }
            let why = result.decision == .explicitDeny ? "with an explicit deny in an identity-based policy"
                : "because no identity-based policy allows the \(action) action"
            throw KMSError(.accessDenied, "User: \(caller.principalArn) is not authorized to perform: \(action) \(why)")
        default:
            throw KMSError(.accessDenied, "User: \(caller.principalArn) is not authorized to perform: \(action)")
        }
    }
}
