import AWSQuery
import Foundation
import IAMPolicy
import KMSCore
import STS
import Synchronization

/// STS's view of IAM: roles, OIDC providers, managed policies and access keys from the
/// IdentityRegistry, and the identity policies of session principals for the hot path.
/// Compiled policies are cached against the registry's generation, so a request with a
/// session credential compiles nothing, and any IAM write is seen by the next request.
final class IAMSTSDirectory: STSDirectory, SessionIdentityPolicies {
    let registry: IdentityRegistry
    let credentials: CredentialRegistry
    /// Operator-configured JWKS files by issuer host/path (`--oidc-jwks`); they win over a
    /// provider's own `kms:jwks-file`.
    let jwksFiles: [String: String]
    /// A JWKS file larger than this is not read (bounded work; real JWKS are a few KiB).
    static let maxJWKSBytes = 1 << 20
    /// An issuer with no JWKS file: its discovery document and jwks_uri, over HTTPS.
    let discovery: OIDCDiscovery?

    private struct Cached: Sendable {
        let generation: UInt64
        let policies: [CompiledPolicy]
    }
    /// Compiled policies by "kind\0key": trust policies, role, user and managed policies.
    private let compiled = Mutex<[String: Cached]>([:])
    static let cacheLimit = 10_000

    init(registry: IdentityRegistry, credentials: CredentialRegistry, jwksFiles: [String: String],
         discovery: OIDCDiscovery? = nil) {
        self.discovery = discovery
        self.registry = registry
        self.credentials = credentials
        self.jwksFiles = jwksFiles
    }

    static func account(ofArn arn: String) -> String? {
        let f = arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        return f.count == 6 ? String(f[4]) : nil
    }

    /// From the cache while the registry has not changed, else built and kept.
    private func cached(_ key: String, _ build: () -> [CompiledPolicy]?) -> [CompiledPolicy]? {
        let generation = registry.currentGeneration
        if let hit = compiled.withLock({ $0[key] }), hit.generation == generation { return hit.policies }
        guard let built = build() else { return nil }
        compiled.withLock { t in
            if t.count >= Self.cacheLimit { t.removeAll() }
            t[key] = Cached(generation: generation, policies: built)
        }
        return built
    }

    // MARK: STSDirectory

    func role(arn: String) -> STSRole? {
        guard let account = Self.account(ofArn: arn), let name = arn.split(separator: "/").last.map(String.init) else { return nil }
        // AssumeRole runs off the event loop: a cluster node reads the role's account first.
        let a = registry.freshAccount(account)
        guard let r = a.roles[name], r.arn == arn else { return nil }
        // A trust policy that no longer compiles trusts nobody (fail closed).
        let document = r.assumeRolePolicyDocument
        let build: () -> [CompiledPolicy]? = {
            guard let p = try? IAMQuotas.compileTrustPolicy(document, name: "trust policy") else { return nil }
            return [p]
        }
        guard let trust = cached("trust\u{0}" + r.roleId + "\u{0}" + document, build)?.first else { return nil }
        var tags: [String: String] = [:]
        for t in r.tags { tags[t.key] = t.value }
        return STSRole(arn: r.arn, name: r.name, roleId: r.roleId, account: account, trustPolicy: trust,
                       maxSessionDuration: r.maxSessionDuration, tags: tags)
    }

    func oidcProvider(account: String, issuerHostPath: String) -> OIDCProviderConfig? {
        let a = registry.freshAccount(account)
        guard let p = a.oidcProviders.values.first(where: { OIDCIssuer.hostPath($0.url) == issuerHostPath }) else { return nil }
        let path = jwksFiles[issuerHostPath] ?? p.jwksFile
        // No file configured: the issuer's own discovery URL (AssumeRoleWithWebIdentity runs off the event loop).
        let jwks = path.map(Self.readJWKS) ?? discovery?.jwks(issuerURL: p.url)
        return OIDCProviderConfig(arn: p.arn, url: p.url, clientIds: p.clientIds, jwks: jwks)
    }

    /// Read on each use, so a rotated JWKS file applies at once; nil when absent or too large.
    static func readJWKS(_ path: String) -> String? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let size = attributes[.size] as? Int, size <= maxJWKSBytes,
              let data = FileManager.default.contents(atPath: path) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    func managedPolicy(arn: String) -> CompiledPolicy? {
        guard let account = Self.account(ofArn: arn) else { return nil }
        let registry = self.registry
        let build: () -> [CompiledPolicy]? = {
            guard let p = registry.account(account).policy(arn: arn), let text = p.defaultDocument,
                  let policy = try? CompiledPolicy(text, kind: .identityBased, name: arn, limits: IAMQuotas.parseLimits) else { return nil }
            return [policy]
        }
        return cached("policy\u{0}" + arn, build)?.first
    }

    func account(ofAccessKey accessKeyId: String) -> String? {
        credentials.byAccessKey[accessKeyId]?.account ?? registry.credential(accessKeyId: accessKeyId)?.account
    }

    // MARK: SessionIdentityPolicies

    /// The registry's generation: every IAM write and every reload from the change feed moves it.
    var generation: UInt64? { registry.currentGeneration }

    func rolePolicies(roleArn: String, roleId: String) -> [CompiledPolicy] {
        let registry = self.registry
        let build: () -> [CompiledPolicy]? = {
            guard let account = Self.account(ofArn: roleArn), let name = roleArn.split(separator: "/").last.map(String.init) else { return nil }
            let a = registry.account(account)
            // Deleted, or deleted and created again under the same name (a new role ID): nothing.
            guard let r = a.roles[name], r.arn == roleArn, r.roleId == roleId else { return [] }
            let policies: [CompiledPolicy]? = try? IdentityRegistry.rolePolicies(r, in: a)
            return policies ?? []
        }
        return cached("role\u{0}" + roleArn + "\u{0}" + roleId, build) ?? []
    }

    func userPolicies(userArn: String) -> [CompiledPolicy] {
        let registry = self.registry
        let build: () -> [CompiledPolicy]? = {
            guard let account = Self.account(ofArn: userArn), let name = userArn.split(separator: "/").last.map(String.init) else { return nil }
            let a = registry.account(account)
            guard let u = a.users[name], u.arn == userArn else { return [] }
            let policies: [CompiledPolicy]? = try? IdentityRegistry.identityPolicies(of: u, in: a)
            return policies ?? []
        }
        return cached("user\u{0}" + userArn, build) ?? []
    }
}
