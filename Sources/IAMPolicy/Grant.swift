/// A KMS grant as the evaluator needs it: who, which operations, within which encryption
/// context. Storage and the grant API (CreateGrant, RetireGrant...) live elsewhere.
public struct GrantRule: Sendable, Equatable {
    public enum Constraint: Sendable, Equatable {
        /// The request's encryption context must be exactly this.
        case encryptionContextEquals([String: String])
        /// The request's encryption context must contain every one of these pairs.
        case encryptionContextSubset([String: String])
    }

    public let grantId: String
    /// A user, role, assumed-role session or service principal; a role also covers its sessions.
    public let granteePrincipal: String
    /// Operation names as CreateGrant takes them ("Decrypt", "GenerateDataKey").
    public let operations: Set<String>
    public let constraint: Constraint?

    public init(grantId: String, granteePrincipal: String, operations: Set<String>, constraint: Constraint? = nil) {
        self.grantId = grantId
        self.granteePrincipal = granteePrincipal
        self.operations = operations
        self.constraint = constraint
    }

    /// Operations that take an encryption context, the only ones a constraint restricts
    /// (KMS: a grant's constraint does not stop DescribeKey or RetireGrant).
    static let contextOperations: Set<String> = [
        "Encrypt", "Decrypt", "ReEncryptFrom", "ReEncryptTo", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "CreateGrant",
    ]

    func allows(_ c: AuthorizationContext) -> Bool {
        guard c.principal.arn == granteePrincipal || c.principal.roleArn == granteePrincipal else { return false }
        guard c.action.lowercased().hasPrefix("kms:") else { return false }
        let operation = String(c.action.dropFirst(4))
        guard operations.contains(operation) else { return false }
        guard let constraint, GrantRule.contextOperations.contains(operation) else { return true }
        // In a grant constraint the key of each pair is not case sensitive, the value is
        // (KMS API reference, GrantConstraints).
        var request: [String: String] = [:]
        for (k, v) in c.encryptionContext { request[k.lowercased()] = v }
        switch constraint {
        case .encryptionContextEquals(let required):
            return request.count == c.encryptionContext.count && request.count == required.count
                && required.allSatisfy { request[$0.key.lowercased()] == $0.value }
        case .encryptionContextSubset(let required):
            return required.allSatisfy { request[$0.key.lowercased()] == $0.value }
        }
    }
}
