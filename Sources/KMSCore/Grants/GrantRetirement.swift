import IAMPolicy

/// Who may retire a grant by the grant itself (Developer Guide, "Retiring and revoking
/// grants"): the retiring principal, the grantee principal when the grant includes
/// RetireGrant, and the account (root user) in which the grant was created — the key's
/// account, or the issuing account of a cross-account CreateGrant. A role names its
/// sessions too, as in grants. Others need kms:RetireGrant delegated by a policy.
enum GrantRetirement {
    static func mayRetire(_ grant: KMSGrant, caller: RequestPrincipal) -> Bool {
        func names(_ principal: String?) -> Bool {
            guard let principal else { return false }
            return caller.arn == principal || caller.roleArn == principal
        }
        if names(grant.retiringPrincipal) { return true }
        if grant.operations.contains("RetireGrant"), names(grant.granteePrincipal) { return true }
        return caller.kind == .root && (caller.account == grant.account || caller.account == grant.issuingAccount)
    }
}
