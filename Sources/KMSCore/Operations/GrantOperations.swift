/// CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant.
extension KMSService {
    /// The grant registry this service was built with; a service without one (a test or
    /// benchmark built with `NoGrants`) does not offer the grant operations.
    func grantRegistry() throws(KMSError) -> GrantRegistry {
        guard let registry = grants as? GrantRegistry else {
            throw KMSError(.unsupportedOperation, "Grants are not supported by this server configuration.")
        }
        return registry
    }

    func createGrant(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let grants = try grantRegistry()
        let grantee = try request.required("GranteePrincipal")
        let retiring = request.string("RetiringPrincipal")
        let operations = request.stringList("Operations") ?? []
        let name = request.string("Name")
        let (grant, created) = try registry.write { () throws(KMSError) -> ((KMSGrant, Bool), [StoreChange]) in
            bindGrantConditions(request)
            let key = try authorizedKey(request, action: "kms:CreateGrant", caller: caller)
            // Key states table: CreateGrant needs an enabled key (DisabledException when
            // disabled, KMSInvalidStateException when pending import or deletion).
            try requireUsable(key)
            try GrantValidation.checkPrincipal(grantee, member: "GranteePrincipal")
            if let retiring { try GrantValidation.checkPrincipal(retiring, member: "RetiringPrincipal") }
            let constraints = try GrantValidation.constraints(request)
            try GrantValidation.checkOperations(operations, constraints: constraints, key: key)
            // Allowed by a grant rather than a policy: pass on no more than that grant holds.
            if let parent = request.context?.decisions.last(where: { $0.action == "kms:CreateGrant" && $0.allowed })?.grant {
                try GrantDelegation.check(operations: operations, constraints: constraints, parent: parent,
                                          callerArn: caller.principalArn, keyArn: key.arn)
            }
            try dryRunCheck(request)
            let candidate = KMSGrant(grantId: KMSGrant.newGrantId(), account: key.account, region: key.region, keyId: key.keyId,
                                     granteePrincipal: grantee, retiringPrincipal: retiring, operations: operations,
                                     constraints: constraints, name: name, issuingAccount: caller.account, creationDate: clock.now())
            // Read from the store, not memory: the Name match and the quotas must see other nodes' grants.
            let existing = try grants.storedGrants(on: key)
            if let same = existing.first(where: { $0.isSameRequest(as: candidate) }) {
                return ((same, false), [])
            }
            if existing.count >= grants.limits.grantsPerKey {
                throw KMSError(.limitExceeded, "The request was rejected because the KMS key \(key.arn) has reached its quota of \(grants.limits.grantsPerKey) grants.")
            }
            if existing.lazy.filter({ $0.granteePrincipal == grantee }).count >= grants.limits.grantsPerGranteePerKey {
                throw KMSError(.limitExceeded, "The request was rejected because the KMS key \(key.arn) has reached its quota of \(grants.limits.grantsPerGranteePerKey) grants for the grantee principal \(grantee).")
            }
            return ((candidate, true), [.putGrant(candidate)])
        }
        if created { grants.published(grant) }
        var out = JSONObject()
        out["GrantToken"] = .string(grants.token(for: grant))
        out["GrantId"] = .string(grant.grantId)
        return out
    }

    func listGrants(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let grants = try grantRegistry()
        bindGrantConditions(request)
        let key = try authorizedKey(request, action: "kms:ListGrants", caller: caller)
        var list = try grants.storedGrants(on: key)
        if let id = request.string("GrantId") { list = list.filter { $0.grantId == id } }
        if let grantee = request.string("GranteePrincipal") { list = list.filter { $0.granteePrincipal == grantee } }
        return try grantPage(list, request)
    }

    func listRetirableGrants(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let grants = try grantRegistry()
        let retiring = try request.required("RetiringPrincipal")
        try authorize(request, "kms:ListRetirableGrants", on: .account)
        // AWS: the principal must be in the caller's own account (grants on other accounts' keys are listed).
        let account = GrantValidation.principalAccount(retiring)
        guard account == caller.account else {
            throw KMSError(.accessDenied, "User: \(caller.principalArn) is not authorized to perform: kms:ListRetirableGrants for retiring principal \(retiring): specify a principal in your own AWS account")
        }
        // AWS lists them for the caller's Region.
        let list = try grants.storedGrants(retiringPrincipal: retiring).filter { $0.region == caller.region }
        return try grantPage(list, request)
    }

    /// One page of GrantListEntry, in grant-ID order (stable markers); AWS's Limit is 1-100, default 50.
    func grantPage(_ list: [KMSGrant], _ request: KMSRequest) throws(KMSError) -> JSONObject {
        let sorted = list.sorted { $0.grantId < $1.grantId }
        let page = try Page.of(sorted, key: \.grantId, request: request, defaultLimit: 50, maxLimit: 100)
        var out = JSONObject()
        out["Grants"] = .array(page.items.map(\.listEntry))
        page.add(to: &out)
        return out
    }

    func retireGrant(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let grants = try grantRegistry()
        // By token, or by KeyId plus GrantId (AWS: "specify the grant token or both the key ID and grant ID").
        let keyArn: String, keyParam: String?, grantId: String
        if let text = request.string("GrantToken") {
            let token = try grants.openToken(text)
            keyArn = token.keyArn
            keyParam = nil
            grantId = token.grantId
        } else if let key = request.string("KeyId"), let id = request.string("GrantId") {
            keyArn = ""
            keyParam = key
            grantId = id
        } else {
            throw KMSError(.validation, "Either GrantToken, or both KeyId and GrantId, must be specified.")
        }
        let grant = try registry.write { () throws(KMSError) -> (KMSGrant, [StoreChange]) in
            let key: KMSKey
            if let keyParam {
                key = try resolveKey(keyParam, caller: caller, allowAlias: false)
            } else {
                guard let arn = ARN.parse(keyArn), let k = try registry.key(account: arn.account, region: arn.region, keyId: String(arn.resource.dropFirst(4))) else {
                    throw KMSError(.notFound, "Key '\(keyArn)' does not exist")
                }
                key = k
            }
            guard let grant = try grants.storedGrants(on: key).first(where: { $0.grantId == grantId }) else {
                // Named by ID, no grant names the caller, so only the key's policy may let it
                // learn that. A token's holder was named by the grant the token carries.
                if request.string("GrantToken") == nil { try authorize(request, "kms:RetireGrant", on: .key(key)) }
                throw KMSError(.notFound, "Grant ID \(grantId) not found for key \(key.arn)")
            }
            // Permission to retire is determined primarily by the grant (retiring principal,
            // grantee when it includes RetireGrant, the account it was created in); anyone else
            // needs kms:RetireGrant delegated by policy, which the authorizer decides.
            if !GrantRetirement.mayRetire(grant, caller: caller.principal) {
                try authorize(request, "kms:RetireGrant", on: .key(key))
            } else {
                // The grant itself names the caller: that is the decision, recorded as one.
                request.context?.record(RequestContext.Decision(action: "kms:RetireGrant", resource: key.arn,
                                                                allowed: true, message: nil))
            }
            try dryRunCheck(request)
            return (grant, [.removeGrant(grant)])
        }
        grants.unpublished(grant)
        return JSONObject()
    }

    func revokeGrant(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let grants = try grantRegistry()
        let grantId = try request.required("GrantId")
        let grant = try registry.write { () throws(KMSError) -> (KMSGrant, [StoreChange]) in
            bindGrantConditions(request)
            let key = try authorizedKey(request, action: "kms:RevokeGrant", caller: caller)
            guard let grant = try grants.storedGrants(on: key).first(where: { $0.grantId == grantId }) else {
                throw KMSError(.notFound, "Grant ID \(grantId) not found for key \(key.arn)")
            }
            try dryRunCheck(request)
            return (grant, [.removeGrant(grant)])
        }
        grants.unpublished(grant)
        return JSONObject()
    }

    /// The kms:Grant* condition keys come from the request itself; the funnel reads them
    /// from the context when a policy references them.
    func bindGrantConditions(_ request: KMSRequest) {
        guard let context = request.context else { return }
        for (key, values) in GrantConditionKeys.conditions(operation: context.operation, request: request) {
            context.setConditionValues(key, values)
        }
    }
}
