/// GetKeyPolicy, PutKeyPolicy, ListKeyPolicies. Every key has exactly one policy, "default".
extension KMSService {
    func checkPolicyName(_ request: KMSRequest) throws(KMSError) {
        if let name = request.string("PolicyName"), name != "default" {
            throw KMSError(.notFound, "No such policy exists")
        }
    }

    func getKeyPolicy(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let key = try authorizedKey(request, caller: caller)
        try checkPolicyName(request)
        return JSONObject([("Policy", .string(key.policy)), ("PolicyName", .string("default"))])
    }

    func putKeyPolicy(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let policy = try request.required("Policy")
        try registry.write { () throws(KMSError) in
            var key = try authorizedKey(request, caller: caller)
            try checkPolicyName(request)
            let compiled = try validateKeyPolicy(policy, request: request, key: key)
            keyPolicies.store(compiled, text: policy, keyArn: key.arn)
            key.policy = policy
            return ((), [.putKey(key)])
        }
        return JSONObject()
    }

    func listKeyPolicies(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        _ = try authorizedKey(request, caller: caller)
        let page = try Page.of(["default"], key: { $0 }, request: request)
        var out = JSONObject([("PolicyNames", .array(page.items.map { .string($0) }))])
        page.add(to: &out)
        return out
    }
}
