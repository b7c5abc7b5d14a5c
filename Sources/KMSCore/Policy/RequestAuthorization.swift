/// The one funnel every operation authorizes through: the action must be one its dispatch
/// entry declares (`OperationActions`), the evaluator decides, the context records it.
extension KMSService {
    /// Authorizes `action` (default: the operation's first declared action) on `resource`
    /// for the request's caller, or throws AccessDeniedException as AWS words it.
    func authorize(_ request: KMSRequest, _ action: String? = nil, on resource: AuthorizationResource) throws(KMSError) {
        // A request that did not come through `handle` has no context: refuse (fail closed).
        guard let context = request.context else { throw KMSError.internalError }
        let action = action ?? context.actions.first ?? ""
        guard context.actions.contains(action) || OperationActions.conditional[context.operation]?.contains(action) == true else {
            throw KMSError.internalError
        }
        let decision: RequestContext.Decision
        if case .key(let key) = resource, key.account != context.caller.account,
           !OperationActions.crossAccount.contains(context.operation) {
            // AWS allows only some operations across accounts; a key policy cannot open the others.
            decision = RequestContext.Decision(
                action: action, resource: key.arn, allowed: false,
                message: "User: \(context.caller.principalArn) is not authorized to perform: \(action) on resource: \(key.arn) because no resource-based policy allows the \(action) action")
        } else {
            decision = try authorizer.decide(context, action: action, resource: resource, service: self)
        }
        context.record(decision)
        guard decision.allowed else {
            throw KMSError(.accessDenied, decision.message ?? "User: \(context.caller.principalArn) is not authorized to perform: \(action) on resource: \(resource.arn)")
        }
    }
}
