import AWSQuery
import Foundation
import IAMPolicy
import KMSCore
import Synchronization

/// An IAM user's access key as authentication needs it: the secret to verify the
/// signature with, and the principal and compiled identity policies the Caller carries.
struct ResolvedCredential: Sendable {
    let account: String
    let secretAccessKey: String
    let principal: RequestPrincipal
    let identityPolicies: [CompiledPolicy]
}

/// What GetAccessKeyLastUsed reports; kept in memory only (a store write per request would
/// cost more than the request), so it starts empty on each node after a restart.
struct AccessKeyUse: Sendable {
    let date: Double
    let service: String
    let region: String
}

/// Every account's IAM identities in memory, loaded from the store at start. Writes run
/// one at a time: the change is computed on a copy of the account, persisted with
/// optimistic versions, and only then published. Authentication reads a per-access-key
/// cache of resolved principals (compiled policies included), emptied on every write on
/// this node. Another node's writes reach this one through the cluster's change feed,
/// which re-reads the accounts they touched (`reload(accounts:)`, IdentityRegistry+ChangeFeed).
final class IdentityRegistry: PrincipalDirectory, @unchecked Sendable {
    let store: any IdentityStore
    private let stateLock = NSLock()
    private var accounts: [String: AccountIdentities] = [:]
    /// Access key ID → account, for every stored key.
    private var keyAccounts: [String: String] = [:]
    private var credentialCache: [String: ResolvedCredential] = [:]
    private var uses: [String: AccessKeyUse] = [:]
    /// Bumped on every change this node publishes (and on reload): a cheap staleness check.
    /// An atomic, bumped (releasing) under the state lock after the change is in place, so a
    /// reader that loads (acquiring) the new value sees the new state, and the per-request
    /// read of a session's principal takes no lock.
    private let generationCounter = Atomic<UInt64>(0)
    var generation: UInt64 { generationCounter.load(ordering: .acquiring) }
    private let writeLock = NSLock()
    /// Set on a cluster node (IdentityRegistry+ReadThrough): other nodes write the same
    /// store, so a miss here is read from the store before it is answered.
    let readThrough = ReadThroughMode()

    init(store: any IdentityStore) throws {
        self.store = store
        try reload()
    }

    /// Re-reads every identity from the store and drops the caches.
    func reload() throws {
        let fresh = try Self.accounts(from: store.loadIdentities())
        var keys: [String: String] = [:]
        for (account, a) in fresh { for id in a.accessKeys.keys { keys[id] = account } }
        stateLock.lock()
        accounts = fresh
        keyAccounts = keys
        credentialCache = [:]
        generationCounter.wrappingAdd(1, ordering: .releasing)
        stateLock.unlock()
    }

    /// Re-reads the named accounts after another node changed them (the cluster's change
    /// feed): a deactivated or deleted access key, a changed policy or group takes effect
    /// here at once. Serialized with local writes, so a read that predates one of them is
    /// never published over it.
    func reload(accounts ids: Set<String>) throws {
        writeLock.lock(); defer { writeLock.unlock() }
        for id in ids.sorted() {
            let fresh = try Self.accounts(from: store.loadIdentities(account: id))[id] ?? AccountIdentities()
            stateLock.lock()
            let before = accounts[id] ?? AccountIdentities()
            // Unchanged (a read-through that found nothing new): the caches stay valid.
            if fresh == before { stateLock.unlock(); continue }
            accounts[id] = fresh == AccountIdentities() ? nil : fresh
            for key in before.accessKeys.keys where fresh.accessKeys[key] == nil { keyAccounts[key] = nil }
            for key in fresh.accessKeys.keys { keyAccounts[key] = id }
            credentialCache = [:]
            generationCounter.wrappingAdd(1, ordering: .releasing)
            stateLock.unlock()
        }
    }

    /// Stored records as accounts of entities.
    static func accounts(from records: [IdentityRecord]) throws -> [String: AccountIdentities] {
        var fresh: [String: AccountIdentities] = [:]
        let decoder = JSONDecoder()
        for r in records {
            var a = fresh[r.account] ?? AccountIdentities()
            let data = Data(r.document.utf8)
            switch r.kind {
            case .user: let e = try decoder.decode(IAMUser.self, from: data); a.users[e.name] = e
            case .group: let e = try decoder.decode(IAMGroup.self, from: data); a.groups[e.name] = e
            case .role: let e = try decoder.decode(IAMRole.self, from: data); a.roles[e.name] = e
            case .policy: let e = try decoder.decode(IAMManagedPolicy.self, from: data); a.policies[e.name] = e
            case .oidcProvider: let e = try decoder.decode(IAMOIDCProvider.self, from: data); a.oidcProviders[e.arn] = e
            case .accessKey:
                let e = try decoder.decode(IAMAccessKey.self, from: data)
                a.accessKeys[e.accessKeyId] = e
                if let secret = r.secret { a.secrets[e.accessKeyId] = String(decoding: secret, as: UTF8.self) }
            }
            a.versions[AccountIdentities.versionKey(r.kind, r.name)] = r.storeVersion
            fresh[r.account] = a
        }
        return fresh
    }

    /// `generation`, read without the lock (see `generationCounter`): caches built from
    /// identities (STS's role policies) compare it to know they are stale.
    var currentGeneration: UInt64 { generation }

    /// One account's identities as they are now.
    func account(_ account: String) -> AccountIdentities {
        stateLock.lock(); defer { stateLock.unlock() }
        return accounts[account] ?? AccountIdentities()
    }

    var accountIDs: [String] {
        stateLock.lock(); defer { stateLock.unlock() }
        return accounts.keys.sorted()
    }

    // MARK: Principals named by key policies

    /// An IAM user or role ARN (with its path) that exists; for an assumed-role session
    /// ARN (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`), the role.
    /// PrincipalDirectory: account IDs, roots, services and "*" are not looked up.
    func exists(_ principal: String) -> Bool { !KeyPolicy.names(principal) || principalExists(arn: principal) }

    func principalExists(arn: String) -> Bool {
        let fields = arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard fields.count == 6 else { return false }
        let a = account(String(fields[4]))
        let resource = fields[5]
        if fields[2] == "sts" {
            let parts = resource.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count >= 3, parts[0] == "assumed-role" else { return false }
            return a.roles[String(parts[1])] != nil
        }
        if resource.hasPrefix("user/"), let name = resource.split(separator: "/").last {
            return a.users[String(name)]?.arn == arn
        }
        if resource.hasPrefix("role/"), let name = resource.split(separator: "/").last {
            return a.roles[String(name)]?.arn == arn
        }
        return false
    }

    // MARK: Authentication

    /// The active access key's principal, or nil (unknown, Inactive, deleted, or a policy
    /// that no longer compiles: fail closed). One dictionary lookup once cached.
    func credential(accessKeyId: String) -> ResolvedCredential? {
        stateLock.lock()
        if let hit = credentialCache[accessKeyId] { stateLock.unlock(); return hit }
        guard let accountID = keyAccounts[accessKeyId], let a = accounts[accountID] else { stateLock.unlock(); return nil }
        let generationSeen = generation
        stateLock.unlock()
        guard let resolved = Self.resolve(accessKeyId: accessKeyId, account: accountID, in: a) else { return nil }
        stateLock.lock()
        if generation == generationSeen { credentialCache[accessKeyId] = resolved }
        stateLock.unlock()
        return resolved
    }

    static func resolve(accessKeyId: String, account: String, in a: AccountIdentities) -> ResolvedCredential? {
        guard let key = a.accessKeys[accessKeyId], key.status == "Active", let secret = a.secrets[accessKeyId],
              let user = a.users[key.userName] else { return nil }
        guard let policies = try? identityPolicies(of: user, in: a) else { return nil }
        var tags: [String: String] = [:]
        for t in user.tags { tags[t.key] = t.value }
        let principal = RequestPrincipal(arn: user.arn, account: account, kind: .user, userId: user.userId,
                                         username: user.name, tags: tags)
        return ResolvedCredential(account: account, secretAccessKey: secret, principal: principal, identityPolicies: policies)
    }

    /// A user's identity-based policies: its inline and attached managed policies, and
    /// those of its groups, each compiled once.
    static func identityPolicies(of user: IAMUser, in a: AccountIdentities) throws(PolicyError) -> [CompiledPolicy] {
        var out = try compile(inline: user.inlinePolicies, attached: user.attachedPolicies, in: a)
        for g in user.groups {
            guard let group = a.groups[g] else { continue }
            out += try compile(inline: group.inlinePolicies, attached: group.attachedPolicies, in: a)
        }
        return out
    }

    /// A role's identity-based policies (its inline and attached managed policies), what
    /// an assumed-role session's Caller carries as `identityPolicies` (STS builds on it).
    static func rolePolicies(_ role: IAMRole, in a: AccountIdentities) throws(PolicyError) -> [CompiledPolicy] {
        try compile(inline: role.inlinePolicies, attached: role.attachedPolicies, in: a)
    }

    static func compile(inline: [String: String], attached: [String], in a: AccountIdentities) throws(PolicyError) -> [CompiledPolicy] {
        var out: [CompiledPolicy] = []
        for name in inline.keys.sorted() {
            guard let text = inline[name] else { continue }
            out.append(try CompiledPolicy(text, kind: .identityBased, name: name, limits: IAMQuotas.parseLimits))
        }
        for arn in attached {
            guard let p = a.policy(arn: arn), let text = p.defaultDocument else { continue }
            out.append(try CompiledPolicy(text, kind: .identityBased, name: arn, limits: IAMQuotas.parseLimits))
        }
        return out
    }

    func recordUse(accessKeyId: String, service: String, region: String) {
        let use = AccessKeyUse(date: Date().timeIntervalSince1970.rounded(.down), service: service, region: region)
        stateLock.lock()
        // Minute resolution is enough for "last used" and keeps the lock's work tiny.
        if let last = uses[accessKeyId], use.date - last.date < 60, last.service == service { stateLock.unlock(); return }
        uses[accessKeyId] = use
        stateLock.unlock()
    }

    func lastUse(accessKeyId: String) -> AccessKeyUse? {
        stateLock.lock(); defer { stateLock.unlock() }
        return uses[accessKeyId]
    }

    // MARK: Writes

    /// Runs `change` on a copy of the account, persists the difference conditionally on
    /// the stored versions, then publishes it. A concurrent writer on another node moving a
    /// version makes the store refuse; the account is re-read and `change` re-run on it.
    func write<T>(account: String, _ change: (inout AccountIdentities) throws(QueryError) -> T) throws(QueryError) -> T {
        writeLock.lock(); defer { writeLock.unlock() }
        for attempt in 0..<4 {
            let before = self.account(account)
            var after = before
            let result = try change(&after)
            let changes: [IdentityChange]
            do { changes = try Self.diff(account: account, before: before, after: after) } catch {
                throw QueryError.internalFailure
            }
            if changes.isEmpty { return result }
            do {
                try store.applyIdentities(changes)
            } catch is StoreConflict {
                if attempt < 3, (try? reload()) != nil { continue }
                throw QueryError("ConcurrentModification", "The request was rejected because multiple requests to change this object were submitted simultaneously. Wait a few minutes and submit your request again.", status: 409)
            } catch {
                throw QueryError("ServiceFailure", "The request processing has failed because of an unknown error, exception or failure.", status: 500)
            }
            for c in changes {
                let r = c.record
                let k = AccountIdentities.versionKey(r.kind, r.name)
                if case .put = c { after.versions[k] = r.storeVersion + 1 } else { after.versions[k] = nil }
            }
            stateLock.lock()
            accounts[account] = after
            for id in before.accessKeys.keys where after.accessKeys[id] == nil { keyAccounts[id] = nil }
            for id in after.accessKeys.keys { keyAccounts[id] = account }
            credentialCache = [:]
            generationCounter.wrappingAdd(1, ordering: .releasing)
            stateLock.unlock()
            return result
        }
        throw QueryError.internalFailure
    }

    /// The store changes that turn `before` into `after`.
    static func diff(account: String, before: AccountIdentities, after: AccountIdentities) throws -> [IdentityChange] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var out: [IdentityChange] = []
        var removes: [IdentityChange] = []
        func compare<E: Codable & Equatable>(_ kind: IdentityKind, _ old: [String: E], _ new: [String: E], id: (E) -> String,
                                              name: (E) -> String, secret: (String) -> String? = { _ in nil }) throws {
            for key in Set(old.keys).union(new.keys).sorted() {
                let o = old[key], n = new[key]
                if o == n { continue }
                let version = before.versions[AccountIdentities.versionKey(kind, key)] ?? 0
                if let n {
                    let doc = String(decoding: try encoder.encode(n), as: UTF8.self)
                    out.append(.put(IdentityRecord(account: account, kind: kind, name: key, uniqueId: id(n), document: doc,
                                                   secret: version == 0 ? secret(key).map { Array($0.utf8) } : nil,
                                                   storeVersion: version)))
                } else if let o {
                    removes.append(.remove(IdentityRecord(account: account, kind: kind, name: key, uniqueId: id(o), document: "",
                                                      storeVersion: version)))
                }
            }
        }
        try compare(.user, before.users, after.users, id: \.userId, name: \.name)
        try compare(.group, before.groups, after.groups, id: \.groupId, name: \.name)
        try compare(.role, before.roles, after.roles, id: \.roleId, name: \.name)
        try compare(.policy, before.policies, after.policies, id: \.policyId, name: \.name)
        try compare(.oidcProvider, before.oidcProviders, after.oidcProviders, id: \.arn, name: \.arn)
        try compare(.accessKey, before.accessKeys, after.accessKeys, id: \.accessKeyId, name: \.accessKeyId,
                    secret: { after.secrets[$0] })
        // Removes first: a rename re-inserts the same unique ID under the new name.
        return removes + out
    }
}
