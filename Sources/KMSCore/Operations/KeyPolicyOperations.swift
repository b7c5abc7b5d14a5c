/// GetKeyPolicy, PutKeyPolicy, ListKeyPolicies. Every key has exactly one policy, "default".
extension KMSService {
    func checkPolicyName(_ request: KMSRequest) throws(KMSError) {
        if let name = request.string("PolicyName"), name != "default" {
            throw KMSError(.notFound, "No such policy exists")
        }
    }

    func getKeyPolicy(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let key = try authorizedKey(request, action: "kms:GetKeyPolicy", caller: caller)
        try checkPolicyName(request)
        return JSONObject([("Policy", .string(key.policy)), ("PolicyName", .string("default"))])
    }

    func putKeyPolicy(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let policy = try request.required("Policy")
        try registry.write { () throws(KMSError) in
            var key = try authorizedKey(request, action: "kms:PutKeyPolicy", caller: caller)
            try checkPolicyName(request)
            try KeyPolicy.validate(policy, lockoutCheckFor: request.bool("BypassPolicyLockoutSafetyCheck") == true ? nil : caller)
            try KeyPolicy.checkPrincipalsExist(policy, in: principals)
            key.policy = policy
            return ((), [.putKey(key)])
        }
        return JSONObject()
    }

    func listKeyPolicies(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        _ = try authorizedKey(request, action: "kms:ListKeyPolicies", caller: caller)
        let page = try Page.of(["default"], key: { $0 }, request: request)
        var out = JSONObject([("PolicyNames", .array(page.items.map { .string($0) }))])
        page.add(to: &out)
        return out
    }
}
