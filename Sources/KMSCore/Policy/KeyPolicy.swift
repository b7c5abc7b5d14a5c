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

    /// Validates a policy document; with `lockoutCheckFor`, also refuses a policy that would
    /// not let that caller change the policy again (AWS's lockout safety check).
    public static func validate(_ text: String, lockoutCheckFor caller: Caller?) throws(KMSError) {
        let doc: JSONValue
        do { doc = try JSONParser.parse(text) } catch { throw malformed("The policy document is not valid JSON.") }
        guard case .object(let policy) = doc else { throw malformed("The policy document must be a JSON object.") }
        if let version = policy["Version"] {
            guard let v = version.stringValue, v == "2012-10-17" || v == "2008-10-17" else {
                throw malformed("The policy document contains an invalid Version.")
            }
        }
        let statements: [JSONValue]
        switch policy["Statement"] {
        case .object(let single)?: statements = [.object(single)]
        case .array(let list)? where !list.isEmpty: statements = list
        default: throw malformed("The policy document must contain at least one Statement.")
        }
        var allowsPolicyChange = false
        for s in statements {
            guard case .object(let st) = s else { throw malformed("Each policy statement must be a JSON object.") }
            guard let effect = st["Effect"]?.stringValue, effect == "Allow" || effect == "Deny" else {
                throw malformed("Policy contains a statement with an invalid or missing Effect.")
            }
            guard st["Principal"] != nil || st["NotPrincipal"] != nil else {
                throw malformed("Policy contains a statement with no principal.")
            }
            guard st["Action"] != nil || st["NotAction"] != nil else {
                throw malformed("Policy contains a statement with no Action.")
            }
            guard st["Resource"] != nil || st["NotResource"] != nil else {
                throw malformed("Policy contains a statement with no Resource.")
            }
            if let principal = st["Principal"], !principalsAreValid(principal) {
                throw malformed("Policy contains a statement with one or more invalid principals.")
            }
            if let caller, effect == "Allow", st["Condition"] == nil,
               principalMatches(st["Principal"], caller), actionMatches(st["Action"], "kms:PutKeyPolicy") {
                allowsPolicyChange = true
            }
        }
        if caller != nil, !allowsPolicyChange {
            throw malformed("The new key policy will not allow you to update the key policy in the future.")
        }
    }

    static func strings(_ v: JSONValue?) -> [String] {
        switch v {
        case .string(let s)?: return [s]
        case .array(let a)?: return a.compactMap(\.stringValue)
        default: return []
        }
    }

    static func principalsAreValid(_ principal: JSONValue) -> Bool {
        if principal.stringValue == "*" { return true }
        guard case .object(let o) = principal, !o.isEmpty else { return false }
        for e in o.entries {
            guard ["AWS", "Service", "Federated", "CanonicalUser"].contains(e.key) else { return false }
            let values = strings(e.value)
            guard !values.isEmpty else { return false }
            if e.key == "AWS" {
                for v in values where !(v == "*" || v.hasPrefix("arn:aws:iam::") || v.hasPrefix("arn:aws:sts::") || (v.count == 12 && v.allSatisfy(\.isASCIIDigit))) {
                    return false
                }
            }
        }
        return true
    }

    static func principalMatches(_ principal: JSONValue?, _ caller: Caller) -> Bool {
        guard let principal else { return false }
        if principal.stringValue == "*" { return true }
        for p in strings(principal.objectValue?["AWS"]) {
            if p == "*" || p == caller.principalArn || p == "arn:aws:iam::\(caller.account):root" || p == caller.account { return true }
        }
        return false
    }

    static func actionMatches(_ action: JSONValue?, _ wanted: String) -> Bool {
        for a in strings(action) {
            if a == "*" || a.lowercased() == wanted.lowercased() { return true }
            if a.hasSuffix("*"), wanted.lowercased().hasPrefix(a.dropLast().lowercased()) { return true }
        }
        return false
    }
}
