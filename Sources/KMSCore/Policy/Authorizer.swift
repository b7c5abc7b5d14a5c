import IAMPolicy

/// What an action is authorized on: a KMS key (its key policy, the caller's identity
/// policies and the key's grants decide), an alias, or the account itself (CreateKey,
/// ListKeys, ListAliases, GenerateRandom). AWS lets only IAM policies govern the last two,
/// so they are judged on identity policies alone, with the account root allowed in its
/// own account.
public enum AuthorizationResource: Sendable {
    case key(KMSKey)
    /// An alias ARN in the caller's account.
    case alias(String)
    case account

    public var arn: String {
        switch self {
        case .key(let k): return k.arn
        case .alias(let a): return a
        case .account: return "*"
        }
    }
}

/// The authorization stage: may the request's caller perform `action` on `resource`?
/// `KMSService.authorize` is the only caller; it records each decision in the context.
public protocol Authorizer: Sendable {
    func decide(_ context: RequestContext, action: String, resource: AuthorizationResource,
                service: KMSService) throws(KMSError) -> RequestContext.Decision
}

/// The policy engine: the key's compiled key policy, the caller's identity and session
/// policies, and the key's grants, evaluated by `PolicyEvaluator` (IAM "Policy evaluation
/// logic" and the KMS Developer Guide's key policy rules; docs/POLICY.md).
public struct PolicyAuthorizer: Authorizer {
    public init() {}

    public func decide(_ context: RequestContext, action: String, resource: AuthorizationResource,
                       service: KMSService) throws(KMSError) -> RequestContext.Decision {
        let caller = context.caller
        var resourcePolicy: CompiledPolicy?
        var plan: ConditionPlan? = nil
        var memo: DecisionMemo? = nil
        let resourceAccount: String
        var grants: [GrantRule] = []
        switch resource {
        case .key(let key):
            // A stored policy that no longer compiles allows nothing (fail closed).
            let entry = service.keyPolicies.entry(for: key)
            resourcePolicy = entry.policy
            plan = entry.plan
            memo = entry.memo
            resourceAccount = key.account
            grants = try service.grants.grantRules(forKeyArn: key.arn, grantTokens: context.grantTokens)
        case .alias(let arn):
            resourceAccount = ARN.parse(arn)?.account ?? caller.account
            resourcePolicy = service.keyPolicies.accountPolicy(resourceAccount)
        case .account:
            resourceAccount = caller.account
            resourcePolicy = service.keyPolicies.accountPolicy(caller.account)
        }
        var conditions = try KMSConditionKeys.valueList(resourcePolicy: resourcePolicy, plan: plan, caller: caller, context: context,
                                                        action: action, resource: resource, service: service)
        // Under conditional policies and without grants, an allowed evaluation of exactly the
        // same inputs (every condition value included) is answered from the memo.
        let second = memo != nil && grants.isEmpty && !conditions.isEmpty ? DecisionMemo.second(context.time) : nil
        if let memo, let second,
           memo.allows(resourcePolicy: resourcePolicy, identityPolicies: caller.identityPolicies,
                       sessionPolicies: caller.sessionPolicies, principal: caller.principal, action: action,
                       resource: resource.arn, resourceAccount: resourceAccount, conditions: conditions, second: second) {
            return RequestContext.Decision(action: action, resource: resource.arn, allowed: true, message: nil)
        }
        // Only grant constraints read the context's encryption context (conditions have their own).
        var facts = AuthorizationContext(principal: caller.principal, action: action, resource: resource.arn,
                                         resourceAccount: resourceAccount,
                                         encryptionContext: grants.isEmpty ? [:] : context.encryptionContext(for: action),
                                         conditionList: conditions)
        // aws:CurrentTime and aws:EpochTime, compared as numbers (both are global keys).
        facts.requestTime = context.time
        var result = PolicyEvaluator(resourcePolicy: resourcePolicy, identityPolicies: caller.identityPolicies,
                                     sessionPolicies: caller.sessionPolicies, grants: grants).evaluate(facts, reportMatches: false)
        if result.isAllowed, let memo, let second {
            memo.remember(resourcePolicy: resourcePolicy, identityPolicies: caller.identityPolicies,
                          sessionPolicies: caller.sessionPolicies, principal: caller.principal, action: action,
                          resource: resource.arn, resourceAccount: resourceAccount, conditions: conditions, second: second)
        }
        // A cluster node judges a denial again on what the store holds now (DenyReadThrough.swift).
        if !result.isAllowed, let fresh = try DeniedRequestRefresh.read(context, resource: resource, service: service) {
            if let key = fresh.key {
                let entry = service.keyPolicies.entry(for: key)
                resourcePolicy = entry.policy
                plan = entry.plan
            }
            grants = fresh.grants ?? grants
            conditions = try KMSConditionKeys.valueList(resourcePolicy: resourcePolicy, plan: plan, caller: caller, context: context,
                                                        action: action, resource: resource, service: service,
                                                        identityPolicies: fresh.identityPolicies)
            facts = AuthorizationContext(principal: caller.principal, action: action, resource: resource.arn,
                                         resourceAccount: resourceAccount,
                                         encryptionContext: grants.isEmpty ? [:] : context.encryptionContext(for: action),
                                         conditionList: conditions)
            facts.requestTime = context.time
            result = PolicyEvaluator(resourcePolicy: resourcePolicy, identityPolicies: fresh.identityPolicies ?? caller.identityPolicies,
                                     sessionPolicies: caller.sessionPolicies, grants: grants).evaluate(facts, reportMatches: false)
        }
        var message = result.isAllowed ? nil : result.accessDeniedMessage(for: facts)
        if case .account = resource, action != context.actions.first {
            // AWS names no resource for an extra account-level action (CreateKey's kms:TagResource).
            message = message?.replacing(" on resource: *", with: "")
        }
        var decision = RequestContext.Decision(action: action, resource: resource.arn, allowed: result.isAllowed, message: message)
        if let id = result.grantId { decision.grant = grants.first { $0.grantId == id } }
        return decision
    }
}
