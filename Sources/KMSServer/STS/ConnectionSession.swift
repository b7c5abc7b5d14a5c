import IAMPolicy
import KMSCore
import STS

/// The temporary credential a keep-alive connection last authenticated with, kept by that
/// connection's handler (one event loop, so no lock). A client signs every request on a
/// connection with the same ASIA key and token, so a hit replaces the shared cache's Mutex,
/// dictionary lookup and the reference counts that both event loops would otherwise write
/// (cache lines bouncing between cores) with a constant-time token comparison and an
/// expiry check. Every string and array the Caller is built from is this connection's own
/// copy, so building it writes no shared reference count either.
///
/// It holds only what the shared cache verified (the same VerifiedSession), and each hit
/// checks what each shared hit checks: the request's access key ID and token equal the
/// verified ones (the token in constant time), the session is unexpired, and the principal's
/// identity policies are re-read once IAM's generation moves. Anything else is a miss,
/// answered by the shared path, which refuses or re-verifies exactly as before.
/// Not Sendable: it never leaves its connection's event loop.
final class ConnectionSession {
    // Stored one by one rather than as an optional struct: a hit reads the fields it needs in
    // place, without copying (and retaining) the whole entry, least of all `verified`.
    private var remembered = false
    private var accessKeyId = ""
    private var token = ""
    /// The session's secret, to check the request's signature with.
    private(set) var secretAccessKey = ""
    private var expires: Double = 0
    /// What the shared cache handed out; read only on the slow paths (IAM changed, STS calls).
    private(set) var verified: VerifiedSession?
    private var account = ""
    private var principalArn = ""
    private var principal = RequestPrincipal.root("")
    private var sessionPolicies: [CompiledPolicy]?
    /// Whether the identity policies come from IAM (role and user sessions); an account
    /// root's GetSessionToken session has none, whatever IAM holds.
    private var readsIAM = false
    private var identityPolicies: [CompiledPolicy] = []
    /// The IAM generation `identityPolicies` were read at; nil when IAM has no counter
    /// (then they are read on every request, as the shared path does).
    private var generation: UInt64?
    /// Requests answered from this connection's entry (tests read it).
    private(set) var hits = 0

    init() {}

    /// Whether the request's access key ID and token are this connection's last verified
    /// ones (the token compared in constant time) and the session is unexpired. False sends
    /// the request down the shared path, which refuses it or verifies it as before; the
    /// signature is checked in both cases by the caller, with `secretAccessKey`.
    func matches(token: String, accessKeyId: String, now: Double) -> Bool {
        guard remembered, self.accessKeyId == accessKeyId,
              SessionCredentialVerifier.constantTimeEquals(self.token, token) else { return false }
        // Expired: forgotten; the shared path answers ExpiredTokenException as it always has.
        guard now < expires else { forget(); return false }
        return true
    }

    /// The Caller of a request that `matches`, with the identity policies current for IAM's
    /// generation (re-read through the shared path when it moved).
    func caller(sessions: SessionCredentialVerifier, region: String, sourceIP: String, userAgent: String) -> Caller {
        hits &+= 1
        if readsIAM {
            let now = sessions.identity.generation
            if now == nil || now != generation, let verified {
                let policies = sessions.identityPolicies(of: verified)
                identityPolicies = now == nil ? policies : Self.own(policies)
                generation = now
            }
        }
        return build(region: region, sourceIP: sourceIP, userAgent: userAgent)
    }

    private func build(region: String, sourceIP: String, userAgent: String) -> Caller {
        Caller(account: account, region: region, accessKeyId: accessKeyId, principalArn: principalArn,
               sourceIP: sourceIP, userAgent: userAgent, principal: principal,
               identityPolicies: identityPolicies, sessionPolicies: sessionPolicies)
    }

    /// Remembers a session the shared path just verified (token and signature) for this
    /// request, replacing the last one, and returns the request's Caller.
    func remember(_ v: VerifiedSession, token: String, accessKeyId: String, sessions: SessionCredentialVerifier,
                  region: String, sourceIP: String, userAgent: String) -> Caller {
        let s = v.session
        readsIAM = !(s.kind == .sessionToken && v.principal.kind == .root)
        // The generation before the policies, as the shared path reads them.
        generation = readsIAM ? sessions.identity.generation : nil
        identityPolicies = readsIAM ? Self.own(sessions.identityPolicies(of: v)) : []
        let p = v.principal
        principal = RequestPrincipal(arn: Self.own(p.arn), account: Self.own(p.account), kind: p.kind,
                                     roleArn: p.roleArn.map(Self.own), userId: p.userId.map(Self.own),
                                     username: p.username.map(Self.own),
                                     tags: p.tags.isEmpty ? [:] : Dictionary(uniqueKeysWithValues: p.tags.map { (Self.own($0.key), Self.own($0.value)) }))
        self.accessKeyId = Self.own(accessKeyId)
        self.token = Self.own(token)
        secretAccessKey = Self.own(s.secretAccessKey)
        expires = s.expires
        verified = v
        account = Self.own(s.account)
        principalArn = Self.own(s.arn)
        sessionPolicies = v.sessionPolicies.map(Self.own)
        remembered = true
        return build(region: region, sourceIP: sourceIP, userAgent: userAgent)
    }

    func forget() {
        remembered = false
        verified = nil
        token = ""
        secretAccessKey = ""
    }

    /// A copy in storage of its own (a String copied by value shares the original's buffer
    /// and reference count; the original lives in the cache both event loops read).
    static func own(_ s: String) -> String {
        let count = s.utf8.count
        guard count > 15 else { return s }  // small strings live inline: nothing shared
        var s = s
        return s.withUTF8 { bytes in
            String(unsafeUninitializedCapacity: count) { out in
                _ = out.initialize(fromContentsOf: bytes)
                return count
            }
        }
    }

    static func own(_ policies: [CompiledPolicy]) -> [CompiledPolicy] {
        guard !policies.isEmpty else { return [] }
        var copy = [CompiledPolicy]()
        copy.reserveCapacity(policies.count)  // a fresh buffer: appending fills it, not a shared one
        copy.append(contentsOf: policies)
        return copy
    }
}
