/// The KMS grant condition keys a request carries, for the policy engine's context
/// (Developer Guide, "AWS KMS condition keys"), each bound to the operations AWS binds it to:
/// - kms:GrantOperations (multi-valued), kms:GranteePrincipal, kms:RetiringPrincipal and
///   kms:GrantConstraintType (multi-valued): CreateGrant;
/// - kms:GrantIsForAWSResource: CreateGrant, ListGrants, RevokeGrant. It is true only when an
///   AWS service integrated with KMS calls on a user's behalf; this server has none, so false.
/// The authorization funnel merges these into the AuthorizationContext's conditions.
public enum GrantConditionKeys {
    public static func conditions(operation: String, request: KMSRequest) -> [String: [String]] {
        var c: [String: [String]] = [:]
        switch operation {
        case "CreateGrant":
            c["kms:GrantOperations"] = request.stringList("Operations") ?? []
            if let grantee = request.string("GranteePrincipal") { c["kms:GranteePrincipal"] = [grantee] }
            if let retiring = request.string("RetiringPrincipal") { c["kms:RetiringPrincipal"] = [retiring] }
            if let constraints = request.object["Constraints"]?.objectValue {
                let types = ["EncryptionContextEquals", "EncryptionContextSubset"].filter { constraints[$0]?.objectValue != nil }
                if !types.isEmpty { c["kms:GrantConstraintType"] = types }
            }
            c["kms:GrantIsForAWSResource"] = ["false"]
        case "ListGrants", "RevokeGrant":
            c["kms:GrantIsForAWSResource"] = ["false"]
        default:
            break
        }
        return c
    }
}
