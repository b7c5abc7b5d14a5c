import IAMPolicy

/// A grant on one KMS key, as stored: who may call which operations, within which
/// encryption context, and who may retire it. It lives with its key (same account and
/// region) and is deleted with it.
public struct KMSGrant: Sendable, Equatable, Codable {
    /// EncryptionContextEquals / EncryptionContextSubset; at most one is set.
    public struct Constraints: Sendable, Equatable, Codable {
        public var encryptionContextEquals: [String: String]?
        public var encryptionContextSubset: [String: String]?

        public init(encryptionContextEquals: [String: String]? = nil, encryptionContextSubset: [String: String]? = nil) {
            self.encryptionContextEquals = encryptionContextEquals
            self.encryptionContextSubset = encryptionContextSubset
        }
    }

    public let grantId: String
    public let account: String
    public let region: String
    public let keyId: String
    public let granteePrincipal: String
    public let retiringPrincipal: String?
    /// Sorted, without duplicates: the form idempotent CreateGrant compares.
    public let operations: [String]
    public let constraints: Constraints?
    public let name: String?
    /// The account of the principal that created the grant (ListGrants' IssuingAccount).
    public let issuingAccount: String
    public let creationDate: Double
    /// The version of this grant's row in the store (0: not stored yet); see `StoreChange`.
    public var storeVersion: Int64

    public init(grantId: String, account: String, region: String, keyId: String, granteePrincipal: String,
                retiringPrincipal: String?, operations: [String], constraints: Constraints?, name: String?,
                issuingAccount: String, creationDate: Double, storeVersion: Int64 = 0) {
        self.grantId = grantId
        self.account = account
        self.region = region
        self.keyId = keyId
        self.granteePrincipal = granteePrincipal
        self.retiringPrincipal = retiringPrincipal
        self.operations = Array(Set(operations)).sorted()
        self.constraints = constraints
        self.name = name
        self.issuingAccount = issuingAccount
        self.creationDate = creationDate
        self.storeVersion = storeVersion
    }

    public var keyArn: String { ARN.key(keyId, region: region, account: account) }

    /// What the policy evaluator needs of this grant.
    public var rule: GrantRule {
        var constraint: GrantRule.Constraint?
        if let equals = constraints?.encryptionContextEquals {
            constraint = .encryptionContextEquals(equals)
        } else if let subset = constraints?.encryptionContextSubset {
            constraint = .encryptionContextSubset(subset)
        }
        return GrantRule(grantId: grantId, granteePrincipal: granteePrincipal, operations: Set(operations), constraint: constraint)
    }

    /// Whether a CreateGrant with `Name` repeats this grant (same name and same parameters):
    /// then AWS answers with this grant's ID instead of creating another.
    func isSameRequest(as other: KMSGrant) -> Bool {
        name != nil && name == other.name && granteePrincipal == other.granteePrincipal
            && retiringPrincipal == other.retiringPrincipal && operations == other.operations
            && constraints == other.constraints
    }

    /// A GrantListEntry as ListGrants and ListRetirableGrants answer it.
    var listEntry: JSONValue {
        var o = JSONObject()
        o["KeyId"] = .string(keyArn)
        o["GrantId"] = .string(grantId)
        if let name { o["Name"] = .string(name) }
        o["CreationDate"] = JSONValue(creationDate)
        o["GranteePrincipal"] = .string(granteePrincipal)
        if let retiringPrincipal { o["RetiringPrincipal"] = .string(retiringPrincipal) }
        o["IssuingAccount"] = .string("arn:aws:iam::\(issuingAccount):root")
        o["Operations"] = .array(operations.map { .string($0) })
        if let constraints {
            var c = JSONObject()
            if let e = constraints.encryptionContextEquals { c["EncryptionContextEquals"] = .object(Self.object(e)) }
            if let s = constraints.encryptionContextSubset { c["EncryptionContextSubset"] = .object(Self.object(s)) }
            o["Constraints"] = .object(c)
        }
        return .object(o)
    }

    static func object(_ map: [String: String]) -> JSONObject {
        JSONObject(map.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.string($0.value)) })
    }

    /// A new grant ID in AWS's form: 64 lower-case hex digits.
    static func newGrantId() -> String {
        Hex.lower(SystemRandom.bytes(32))
    }
}
