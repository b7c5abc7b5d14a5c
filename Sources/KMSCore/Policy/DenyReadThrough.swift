import IAMPolicy

/// The IAM side of read-your-writes on a cluster node: the caller's identity policies as
/// the store holds them now. nil when memory is the whole truth (a single node, the
/// account root); throws `KMSError.storeReadNeeded` on an event loop.
public protocol IdentityReadThrough: Sendable {
    func freshIdentityPolicies(of caller: Caller) throws(KMSError) -> [CompiledPolicy]?
}

/// The grants side: a key's grants as the store holds them now (nil when memory is the
/// whole truth). Throws `KMSError.storeReadNeeded` on an event loop.
public protocol GrantReadThrough: Sendable {
    func freshGrantRules(for key: KMSKey, grantTokens: [String]) throws(KMSError) -> [GrantRule]?
}

/// What a denied request is judged on again (issue 8 §2: a change made through another
/// node is seen at once). Grants, identity policies and key policies reach a node through
/// the change feed, within milliseconds but not at once; an allow that is briefly stale
/// is that bound (revocation), but a denial that is stale would break read-your-writes
/// (CreateGrant or PutUserPolicy through node A, then the call through node B). So only a
/// denial re-reads, off the event loop; an allowed request costs nothing more.
struct DeniedRequestRefresh {
    var identityPolicies: [CompiledPolicy]?
    var grants: [GrantRule]?
    var key: KMSKey?

    /// nil when nothing could be staler than memory (no read-through on this node).
    static func read(_ context: RequestContext, resource: AuthorizationResource,
                     service: KMSService) throws(KMSError) -> DeniedRequestRefresh? {
        let identity = service.principalDirectory as? any IdentityReadThrough
        let grants = service.grants as? any GrantReadThrough
        var out = DeniedRequestRefresh()
        out.identityPolicies = try identity?.freshIdentityPolicies(of: context.caller)
        if case .key(let key) = resource {
            out.grants = try grants?.freshGrantRules(for: key, grantTokens: context.grantTokens)
            // Its grants read through: this is a cluster node, so the key policy may be stale too.
            if out.grants != nil {
                service.registry.invalidate([.key(account: key.account, region: key.region, keyId: key.keyId)])
                out.key = try service.registry.key(account: key.account, region: key.region, keyId: key.keyId)
            }
        }
        if out.identityPolicies == nil && out.grants == nil { return nil }
        return out
    }
}
