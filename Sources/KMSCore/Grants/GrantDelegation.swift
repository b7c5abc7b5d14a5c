import IAMPolicy

/// A grantee whose CreateGrant permission comes from a grant may only pass on what that grant
/// holds. KMS API reference, CreateGrant (Constraints): "If a grant with a grant constraint
/// includes the CreateGrant operation, the constraint requires that any grants created with
/// the CreateGrant permission have an equally strict or stricter encryption context
/// constraint." The new grant's operations must also be among the parent's (no escalation
/// through a delegated grant; fail closed).
///
/// For the authorization funnel: when the evaluator allows kms:CreateGrant *by a grant*
/// (AuthorizationResult.grant), call `check` with that grant's rule before the grant is made.
public enum GrantDelegation {
    public static func check(operations: [String], constraints: KMSGrant.Constraints?, parent: GrantRule,
                             callerArn: String, keyArn: String) throws(KMSError) {
        let extra = operations.filter { !parent.operations.contains($0) }
        guard extra.isEmpty else {
            throw KMSError(.accessDenied, "User: \(callerArn) is not authorized to perform: kms:CreateGrant on resource: \(keyArn) "
                + "for operations \(extra.joined(separator: ", ")) that the grant \(parent.grantId) does not allow")
        }
        guard isAtLeastAsStrict(constraints, as: parent.constraint) else {
            throw KMSError(.accessDenied, "User: \(callerArn) is not authorized to perform: kms:CreateGrant on resource: \(keyArn) "
                + "with a grant constraint less strict than that of the grant \(parent.grantId)")
        }
    }

    /// Whether a grant constrained by `child` allows no encryption context that `parent` refuses.
    /// Keys compare case-insensitively and values exactly, as grant constraints do.
    public static func isAtLeastAsStrict(_ child: KMSGrant.Constraints?, as parent: GrantRule.Constraint?) -> Bool {
        guard let parent else { return true }
        func lowered(_ m: [String: String]) -> [String: String] {
            var out: [String: String] = [:]
            for (k, v) in m { out[k.lowercased()] = v }
            return out
        }
        func contains(_ big: [String: String], _ small: [String: String]) -> Bool {
            let b = lowered(big)
            return small.allSatisfy { b[$0.key.lowercased()] == $0.value }
        }
        switch parent {
        case .encryptionContextEquals(let required):
            guard let equals = child?.encryptionContextEquals else { return false }
            return lowered(equals) == lowered(required) && equals.count == required.count
        case .encryptionContextSubset(let required):
            if let equals = child?.encryptionContextEquals { return contains(equals, required) }
            if let subset = child?.encryptionContextSubset { return contains(subset, required) }
            return false
        }
    }
}
