import KMSCore

/// IAM's entities as stored (each one row of IdentityStore; `document` is this JSON).
/// Secrets are not here: an access key's secret is kept apart (`AccountIdentities.secrets`)
/// and sealed by the store.
struct IAMTag: Codable, Equatable, Sendable {
    var key: String
    var value: String
}

struct IAMUser: Codable, Equatable, Sendable {
    var name: String
    var path: String
    var userId: String
    var arn: String
    var createDate: Double
    var tags: [IAMTag] = []
    /// Inline policies: name → document, in insertion order of names (`inlineOrder`).
    var inlinePolicies: [String: String] = [:]
    var attachedPolicies: [String] = []
    var groups: [String] = []
}

struct IAMGroup: Codable, Equatable, Sendable {
    var name: String
    var path: String
    var groupId: String
    var arn: String
    var createDate: Double
    var inlinePolicies: [String: String] = [:]
    var attachedPolicies: [String] = []
}

struct IAMRole: Codable, Equatable, Sendable {
    var name: String
    var path: String
    var roleId: String
    var arn: String
    var createDate: Double
    var assumeRolePolicyDocument: String
    var description: String?
    var maxSessionDuration: Int
    var tags: [IAMTag] = []
    var inlinePolicies: [String: String] = [:]
    var attachedPolicies: [String] = []
}

struct IAMPolicyVersion: Codable, Equatable, Sendable {
    var versionId: String
    var document: String
    var createDate: Double
}

struct IAMManagedPolicy: Codable, Equatable, Sendable {
    var name: String
    var path: String
    var policyId: String
    var arn: String
    var createDate: Double
    var updateDate: Double
    var description: String?
    var defaultVersionId: String
    var versions: [IAMPolicyVersion]
    /// The next version number (v1, v2, ...): numbers are never reused, as in AWS.
    var nextVersion: Int
    var tags: [IAMTag] = []

    var defaultDocument: String? { versions.first { $0.versionId == defaultVersionId }?.document }
}

struct IAMAccessKey: Codable, Equatable, Sendable {
    var accessKeyId: String
    var userName: String
    /// "Active" or "Inactive".
    var status: String
    var createDate: Double
}

/// An OIDC identity provider. Server extension: `jwksFile`, a path on the server to the
/// provider's JSON Web Key Set, so web identity tokens can be verified offline. It is set
/// with the provider tag `kms:jwks-file` at creation (docs/IAM.md).
struct IAMOIDCProvider: Codable, Equatable, Sendable {
    var arn: String
    var url: String
    var clientIds: [String]
    var thumbprints: [String]
    var createDate: Double
    var tags: [IAMTag] = []
    var jwksFile: String?
}

/// One account's identities, the unit a write transforms; the registry diffs the before
/// and after states into store changes.
struct AccountIdentities: Sendable, Equatable {
    var users: [String: IAMUser] = [:]
    var groups: [String: IAMGroup] = [:]
    var roles: [String: IAMRole] = [:]
    /// By policy name (unique in an account whatever the path).
    var policies: [String: IAMManagedPolicy] = [:]
    var accessKeys: [String: IAMAccessKey] = [:]
    /// By ARN.
    var oidcProviders: [String: IAMOIDCProvider] = [:]
    /// Access key secrets by key ID; written once at creation, sealed by the store.
    var secrets: [String: String] = [:]
    /// Stored versions by "kind|name" (0 or absent: not stored).
    var versions: [String: Int64] = [:]

    static func versionKey(_ kind: IdentityKind, _ name: String) -> String { kind.rawValue + "|" + name }

    func policy(arn: String) -> IAMManagedPolicy? {
        guard let name = arn.split(separator: "/").last.map(String.init), let p = policies[name], p.arn == arn else { return nil }
        return p
    }

    func keys(of user: String) -> [IAMAccessKey] {
        accessKeys.values.filter { $0.userName == user }.sorted { $0.createDate < $1.createDate || $0.createDate == $1.createDate && $0.accessKeyId < $1.accessKeyId }
    }
}
