import IAMPolicy

/// Key policy documents: the default policy AWS writes, and the structural checks
/// PutKeyPolicy and CreateKey make before storing one.
public enum KeyPolicy {
    /// The default key policy, formatted as AWS's GetKeyPolicy returns it.
    public static func defaultPolicy(account: String) -> String {
        """
        {
          "Version" : "2012-10-17",
          "Id" : "key-default-1",
          "Statement" : [ {
            "Sid" : "Enable IAM User Permissions",
            "Effect" : "Allow",
            "Principal" : {
              "AWS" : "arn:aws:iam::\(account):root"
            },
            "Action" : "kms:*",
            "Resource" : "*"
          } ]
        }
        """
    }

    static func malformed(_ message: String) -> KMSError { KMSError(.malformedPolicyDocument, message) }

    /// AWS's message when the lockout safety check refuses a policy.
    static let lockoutMessage = "The new key policy will not allow you to update the key policy in the future."

    /// Compiles a key policy with the IAM policy compiler (the whole grammar, AWS's
    /// messages), or throws MalformedPolicyDocumentException / LimitExceededException (32 KB).
    public static func compile(_ text: String) throws(KMSError) -> CompiledPolicy {
        do {
            return try CompiledPolicy(text, kind: .resourceBased, name: "key policy")
        } catch {
            throw error.kind == .tooLarge ? KMSError(.limitExceeded, error.message) : malformed(error.message)
        }
    }

    /// Validates a policy document; with `lockoutCheckFor`, also refuses a policy under which
    /// that caller could not call PutKeyPolicy on the key (AWS's lockout safety check), as
    /// the policy engine decides it with the caller's identity and session policies.
    public static func validate(_ text: String, lockoutCheckFor caller: Caller?, keyArn: String? = nil,
                                conditions: [String: [String]] = [:]) throws(KMSError) {
        let compiled = try compile(text)
        guard let caller else { return }
        try lockoutCheck(compiled, caller: caller,
                         keyArn: keyArn ?? ARN.key("00000000-0000-0000-0000-000000000000", region: caller.region, account: caller.account),
                         conditions: conditions)
    }

    static func lockoutCheck(_ policy: CompiledPolicy, caller: Caller, keyArn: String,
                             conditions: [String: [String]]) throws(KMSError) {
        let facts = AuthorizationContext(principal: caller.principal, action: "kms:PutKeyPolicy", resource: keyArn,
                                         conditions: conditions)
        let result = PolicyEvaluator(resourcePolicy: policy, identityPolicies: caller.identityPolicies,
                                     sessionPolicies: caller.sessionPolicies).evaluate(facts)
        guard result.isAllowed else { throw malformed(lockoutMessage) }
    }
}

extension KMSService {
    /// CreateKey's and PutKeyPolicy's checks on a new key policy: it compiles, every principal
    /// it names exists (`principalDirectory`), and unless BypassPolicyLockoutSafetyCheck the
    /// caller could still change the policy under it. Returns the compiled policy for the cache.
    func validateKeyPolicy(_ text: String, request: KMSRequest, key: KMSKey) throws(KMSError) -> CompiledPolicy {
        let compiled = try KeyPolicy.compile(text)
        for principal in compiled.namedAWSPrincipals where !principalDirectory.exists(principal) {
            throw KeyPolicy.malformed("Policy contains a statement with one or more invalid principals.")
        }
        if request.bool("BypassPolicyLockoutSafetyCheck") != true {
            guard let context = request.context else { throw KMSError.internalError }
            let caller = context.caller
            let conditions = try KMSConditionKeys.values(resourcePolicy: compiled, caller: caller, context: context,
                                                     action: "kms:PutKeyPolicy", resource: .key(key), service: self)
            try KeyPolicy.lockoutCheck(compiled, caller: caller, keyArn: key.arn, conditions: conditions)
        }
        return compiled
    }
}
