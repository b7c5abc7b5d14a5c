import IAMPolicy
import KMSCore
import STS
import Synchronization

/// A session token that opened, with what the hot path needs from it, computed once.
/// A class: a cache hit hands out one reference instead of copying a dozen strings.
final class VerifiedSession: Sendable {
    let session: STSSession
    let principal: RequestPrincipal
    /// Compiled once per cached session; nil when the session has no session policy.
    let sessionPolicies: [CompiledPolicy]?
    /// The principal's identity policies as last read, with the IAM generation they were
    /// read at: while IAM is unchanged a request reuses them (no key to build, no shared
    /// table to search); any IAM write, local or from the change feed, moves the generation.
    let identityPolicies = Mutex<IdentityPoliciesMemo?>(nil)

    struct IdentityPoliciesMemo: Sendable {
        let generation: UInt64
        let policies: [CompiledPolicy]
    }

    init(session: STSSession, principal: RequestPrincipal, sessionPolicies: [CompiledPolicy]?) {
        self.session = session
        self.principal = principal
        self.sessionPolicies = sessionPolicies
    }
}

/// Where the identity policies of a session's principal come from (the IAM store): a role's
/// inline and attached policies, or a user's for GetSessionToken credentials. Read on every
/// request, so a policy changed in IAM applies to sessions already issued, as in AWS.
protocol SessionIdentityPolicies: Sendable {
    /// Empty when the role no longer exists, or was deleted and created again (another ID).
    func rolePolicies(roleArn: String, roleId: String) -> [CompiledPolicy]
    func userPolicies(userArn: String) -> [CompiledPolicy]
    /// Moves on every change to the identities the answers above are read from; nil when
    /// there is no such counter, and then they are asked on every request.
    var generation: UInt64? { get }
}

extension SessionIdentityPolicies {
    var generation: UInt64? { nil }
}

/// No IAM store: sessions get no identity policies (deny by default).
struct NoSessionIdentityPolicies: SessionIdentityPolicies {
    func rolePolicies(roleArn: String, roleId: String) -> [CompiledPolicy] { [] }
    func userPolicies(userArn: String) -> [CompiledPolicy] { [] }
}

/// Authenticates requests signed with temporary credentials (X-Amz-Security-Token): opens
/// the sealed token (or finds it in the cache), checks that it belongs to the request's
/// access key ID and has not expired, and hands back the secret to verify the signature with.
final class SessionCredentialVerifier: Sendable {
    let sealer: SessionTokenSealer
    let clock: any KMSClock
    let service: STSService
    let identity: any SessionIdentityPolicies
    /// Verified sessions by access key ID (20 bytes to hash, not the ~400-byte token); a hit
    /// counts only when the request's token equals the one that was verified (constant time).
    let cache: SessionTokenCache<VerifiedToken>

    /// A cache entry: the token exactly as it opened, and what it opened to.
    struct VerifiedToken: Sendable {
        let token: String
        let verified: VerifiedSession
    }

    /// The label of the token key derived from the root key (see RootKey.derivedKey).
    static let keyLabel = "swift-kms sts session token key v1"

    init(sealer: SessionTokenSealer, clock: any KMSClock, service: STSService,
         identity: any SessionIdentityPolicies = NoSessionIdentityPolicies(), cacheCapacity: Int = 10_000) {
        self.sealer = sealer
        self.clock = clock
        self.service = service
        self.identity = identity
        self.cache = SessionTokenCache(capacity: cacheCapacity)
    }

    func verify(token: String, accessKeyId: String) throws(SessionTokenError) -> VerifiedSession {
        let key = SessionTokenCache<VerifiedToken>.Key(token: accessKeyId)
        let now = clock.now()
        if let hit = cache.value(for: key), Self.constantTimeEquals(hit.token, token) {
            try SessionTokenSealer.check(hit.verified.session, accessKeyId: accessKeyId, now: now)
            return hit.verified
        }
        let session = try sealer.verify(token, accessKeyId: accessKeyId, now: now)
        // A session policy ARN whose policy was deleted since narrows the session to nothing
        // (fail closed), rather than to the policies that remain.
        let policies: [CompiledPolicy]?
        do { policies = try service.sessionPolicies(of: session) } catch { policies = [] }
        let verified = VerifiedSession(session: session, principal: session.principal, sessionPolicies: policies)
        cache.insert(VerifiedToken(token: token, verified: verified), for: key)
        return verified
    }

    /// Token equality that takes the same time wherever the first difference is (the lengths
    /// are not secret: a token's length says nothing about its contents).
    static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        var a = a, b = b
        return a.withUTF8 { x in
            b.withUTF8 { y in
                guard x.count == y.count else { return false }
                // Eight bytes at a time (a ~400-byte token per request), then the tail.
                var wide: UInt64 = 0
                var i = 0
                let a = UnsafeRawBufferPointer(x), b = UnsafeRawBufferPointer(y)
                while i + 8 <= x.count {
                    wide |= a.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ b.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                    i += 8
                }
                var diff: UInt8 = 0
                while i < x.count { diff |= x[i] ^ y[i]; i += 1 }
                return wide == 0 && diff == 0
            }
        }
    }

    /// Sessions that recently called STS, by access key ID: an STS operation needs the
    /// calling session itself (its source identity carries over to a chained session;
    /// GetSessionToken refuses session credentials), which the Caller does not hold.
    let stsCallers = SessionTokenCache<STSSession>(capacity: 1024)

    func remember(_ session: STSSession) {
        stsCallers.insert(session, for: .init(token: session.accessKeyId))
    }

    func session(of caller: Caller) -> STSSession? {
        guard caller.accessKeyId.hasPrefix("ASIA"), let s = stsCallers.value(for: .init(token: caller.accessKeyId)),
              s.accessKeyId == caller.accessKeyId else { return nil }
        return s
    }

    /// The caller of a request made with a verified session.
    func caller(_ v: VerifiedSession, region: String, accessKeyId: String, sourceIP: String, userAgent: String) -> Caller {
        // Fields read in place: a `let s = v.session` copy retained every string of the session.
        return Caller(account: v.session.account, region: region, accessKeyId: accessKeyId, principalArn: v.session.arn,
                      sourceIP: sourceIP, userAgent: userAgent, principal: v.principal,
                      identityPolicies: identityPolicies(of: v), sessionPolicies: v.sessionPolicies)
    }

    /// The session principal's identity policies: the session's memo while the IAM
    /// generation it was read at is current, else read again (and remembered). The generation
    /// is read before the policies, so a change racing the read only makes the memo stale
    /// for one request, never current with old policies.
    func identityPolicies(of v: VerifiedSession) -> [CompiledPolicy] {
        let generation = identity.generation
        if let generation, let memo = v.identityPolicies.withLock({ $0 }), memo.generation == generation {
            return memo.policies
        }
        let s = v.session
        let policies: [CompiledPolicy]
        switch s.kind {
        case .assumedRole: policies = identity.rolePolicies(roleArn: s.roleArn ?? "", roleId: s.roleId ?? "")
        case .sessionToken: policies = v.principal.kind == .root ? [] : identity.userPolicies(userArn: s.arn)
        }
        if let generation { v.identityPolicies.withLock { $0 = VerifiedSession.IdentityPoliciesMemo(generation: generation, policies: policies) } }
        return policies
    }
}
