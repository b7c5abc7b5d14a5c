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

    /// Validates a policy document with the IAM policy compiler (the whole grammar, AWS's
    /// messages, the 32 KB limit); with `lockoutCheckFor`, also refuses a policy that would
    /// not let that caller change the policy again (AWS's lockout safety check).
    public static func validate(_ text: String, lockoutCheckFor caller: Caller?) throws(KMSError) {
        do {
            _ = try CompiledPolicy(text, kind: .resourceBased, name: "key policy")
        } catch {
            throw error.kind == .tooLarge ? KMSError(.limitExceeded, error.message) : malformed(error.message)
        }
        guard let caller else { return }
        // The document compiled, so it is a JSON object with a Statement list or object.
        guard let doc = try? JSONParser.parse(text), case .object(let policy) = doc else { throw malformed("Syntax errors in policy.") }
        let statements: [JSONValue]
        switch policy["Statement"] {
        case .object(let single)?: statements = [.object(single)]
        case .array(let list)?: statements = list
        default: statements = []
        }
        // Until the engine is wired with the caller's identity policies (issue 10, next
        // step), the check keeps its structural rule: an unconditional Allow of
        // kms:PutKeyPolicy for the caller, its account, or everyone.
        var allowsPolicyChange = false
        for s in statements {
            guard case .object(let st) = s else { continue }
            if st["Effect"]?.stringValue == "Allow", st["Condition"] == nil,
               principalMatches(st["Principal"], caller), actionMatches(st["Action"], "kms:PutKeyPolicy") {
                allowsPolicyChange = true
            }
        }
        if !allowsPolicyChange {
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
