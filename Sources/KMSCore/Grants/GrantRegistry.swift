import Crypto
import Foundation
import IAMPolicy

/// The grants on every key, in memory per key ARN, written through to the `KeyStore`:
/// authorization reads them on every request without touching the store. Local writes
/// update the memory at once; grants written by other nodes arrive with `reload()` (the
/// server runs it periodically) or when a grant operation re-reads a key's grants — and
/// until then a grant token proves its grant (`grantRules(forKeyArn:grantTokens:)`).
public final class GrantRegistry: GrantLookup, @unchecked Sendable {
    /// AWS's grant quotas (Developer Guide, "Resource quotas"); smaller in tests.
    public struct Limits: Sendable {
        public var grantsPerKey: Int
        public var grantsPerGranteePerKey: Int
        public init(grantsPerKey: Int = 50_000, grantsPerGranteePerKey: Int = 500) {
            self.grantsPerKey = grantsPerKey
            self.grantsPerGranteePerKey = grantsPerGranteePerKey
        }
    }

    /// How long a grant token stands in for its grant: AWS's eventual-consistency window for
    /// grants is "up to five minutes". Past it only the stored grant counts, so the token of
    /// a retired or revoked grant does not keep working.
    public static let tokenLifetime: Double = 300

    /// How often a server re-reads every grant from the store (well within the token lifetime).
    public static let refreshInterval: Double = 30

    let store: any KeyStore
    let tokenKey: SymmetricKey
    let clock: any KMSClock
    public let limits: Limits
    private let lock = NSLock()
    private var byKey: [String: [KMSGrant]] = [:]
    /// The same grants as the policy engine takes them, built once per change, not per request.
    private var rulesByKey: [String: [GrantRule]] = [:]
    /// Grants removed on this node within the token lifetime: their tokens no longer count here.
    private var removed: [String: Double] = [:]
    /// Bumped by every local publish: a store read that raced with one is not installed over
    /// it (it may predate the write); the next read installs.
    private var generation: UInt64 = 0
    /// Tokens already verified, by SHA-256 of their text (a client sends the same token with
    /// every call of the consistency window: one MAC check and parse, then a lookup). Keyed by
    /// digest so no lookup compares a caller's bytes with a valid token's. Bounded: emptied when full.
    private var verified: [SHA256.Digest: GrantToken] = [:]
    static let verifiedCapacity = 4096
    /// On for a cluster node: a denied request re-reads its key's grants (GrantRegistry+ReadThrough).
    public let readThrough = ReadThroughMode()

    /// `tokenKey`: 32 bytes derived from the root key (every node derives the same), never stored.
    public init(store: any KeyStore, tokenKey: [UInt8], clock: any KMSClock = SystemClock(), limits: Limits = Limits()) throws {
        guard tokenKey.count >= 32 else { throw KMSError(.kmsInternal, "The grant token key must be at least 32 bytes.") }
        self.store = store
        self.tokenKey = SymmetricKey(data: tokenKey)
        self.clock = clock
        self.limits = limits
        try reload()
    }

    /// Replaces the memory with every grant the store holds (start-up, and periodically so
    /// grants created or removed on other nodes take effect here).
    public func reload() throws {
        let before = lock.withLock { generation }
        var fresh: [String: [KMSGrant]] = [:]
        for g in try store.loadGrants() { fresh[g.keyArn, default: []].append(g) }
        let rules = fresh.mapValues { $0.map(\.rule) }
        lock.withLock {
            if generation == before {
                byKey = fresh
                rulesByKey = rules
            }
        }
    }

    // MARK: GrantLookup

    public func grantRules(forKeyArn keyArn: String, grantTokens: [String]) throws(KMSError) -> [GrantRule] {
        guard !grantTokens.isEmpty else { return lock.withLock { rulesByKey[keyArn] ?? [] } }
        let (held, removedNow) = lock.withLock { (rulesByKey[keyArn] ?? [], removed) }
        var rules = held
        let stored = Set(rules.map(\.grantId))
        let now = clock.now()
        for text in grantTokens {
            let token = try verifiedToken(text)
            // A token names one key; on another key it grants nothing.
            guard token.keyArn == keyArn, abs(now - token.issuedAt) <= Self.tokenLifetime,
                  removedNow[token.grantId] == nil, !stored.contains(token.grantId) else { continue }
            rules.append(token.rule)
        }
        return rules
    }

    // MARK: For the grant operations

    /// The grants on `key` as held in memory.
    func grants(on keyArn: String) -> [KMSGrant] {
        lock.withLock { byKey[keyArn] ?? [] }
    }

    /// The grants on `key` as the store holds them now, and the memory refreshed with them.
    func storedGrants(on key: KMSKey) throws(KMSError) -> [KMSGrant] {
        let before = lock.withLock { generation }
        let fresh: [KMSGrant]
        do {
            fresh = try store.grants(account: key.account, region: key.region, keyId: key.keyId)
        } catch {
            throw KMSError.internalError
        }
        lock.withLock { if generation == before { install(fresh, for: key.arn) } }
        return fresh
    }

    func storedGrants(retiringPrincipal: String) throws(KMSError) -> [KMSGrant] {
        do {
            return try store.grants(retiringPrincipal: retiringPrincipal)
        } catch {
            throw KMSError.internalError
        }
    }

    /// Publishes a grant the store has accepted (with the version it gave it).
    func published(_ grant: KMSGrant) {
        var g = grant
        g.storeVersion += 1
        lock.withLock {
            // Already retired or revoked by a write that overtook this publish: stay removed.
            guard removed[g.grantId] == nil else { return }
            var list = byKey[g.keyArn] ?? []
            list.removeAll { $0.grantId == g.grantId }
            list.append(g)
            install(list, for: g.keyArn)
            generation &+= 1
        }
    }

    /// Forgets a grant the store has deleted; its tokens stop counting on this node.
    func unpublished(_ grant: KMSGrant) {
        let now = clock.now()
        lock.withLock {
            var list = byKey[grant.keyArn] ?? []
            list.removeAll { $0.grantId == grant.grantId }
            install(list, for: grant.keyArn)
            removed = removed.filter { now - $0.value <= Self.tokenLifetime }
            removed[grant.grantId] = now
            generation &+= 1
        }
    }

    /// Re-reads one key's grants after another node changed them (the cluster's change
    /// feed). Grant IDs named by the change that the store no longer holds were retired or
    /// revoked: their tokens stop counting here too. A read that raced with a local publish
    /// is read again (it may predate that write).
    func refresh(account: String, region: String, keyId: String, changedGrantIds: [String]) throws {
        let keyArn = ARN.key(keyId, region: region, account: account)
        for _ in 0..<4 {
            let before = lock.withLock { generation }
            let fresh = try store.grants(account: account, region: region, keyId: keyId)
            let held = Set(fresh.map(\.grantId))
            let now = clock.now()
            let installed = lock.withLock { () -> Bool in
                guard generation == before else { return false }
                install(fresh, for: keyArn)
                for id in changedGrantIds where !held.contains(id) { removed[id] = now }
                return true
            }
            if installed { return }
        }
    }

    /// Replaces one key's grants (and rules) in memory; call with `lock` held.
    private func install(_ list: [KMSGrant], for keyArn: String) {
        byKey[keyArn] = list.isEmpty ? nil : list
        rulesByKey[keyArn] = list.isEmpty ? nil : list.map(\.rule)
    }

    /// A new token for `grant`, issued now.
    func token(for grant: KMSGrant) -> String {
        GrantToken(grant: grant, issuedAt: clock.now()).seal(with: tokenKey)
    }

    func openToken(_ text: String) throws(KMSError) -> GrantToken {
        try verifiedToken(text)
    }

    private func verifiedToken(_ text: String) throws(KMSError) -> GrantToken {
        let digest = SHA256.hash(data: Array(text.utf8))
        if let known = lock.withLock({ verified[digest] }) { return known }
        let token = try GrantToken.open(text, with: tokenKey)
        lock.withLock {
            if verified.count >= Self.verifiedCapacity { verified.removeAll(keepingCapacity: true) }
            verified[digest] = token
        }
        return token
    }
}
