import Foundation
import IAMPolicy
import KMSCore

/// Read-your-writes across cluster nodes for IAM (issue 8 §2, issue 9 §4): an access key,
/// user, role or policy created through node A is usable through node B at once. The
/// cached path stays as it was (a principal found and active costs no store read); only a
/// miss, an inactive key or a denial reads the store, off the event loop.
extension IdentityRegistry {
    /// The credential for this access key ID; on a miss (unknown, inactive, or a user
    /// that is not there) a cluster node re-reads the key's account from the store first.
    /// On an event loop that read is not made: `KMSError.storeReadNeeded` re-runs the
    /// request on the blocking pool. "Not found" is never cached.
    func credentialReadingThrough(accessKeyId: String) throws(KMSError) -> ResolvedCredential? {
        if let hit = credential(accessKeyId: accessKeyId) { return hit }
        guard let mayRead = readThrough.mayReadNow else { return nil }
        guard mayRead else { throw KMSError.storeReadNeeded }
        let account: String?
        do { account = try store.account(ofAccessKey: accessKeyId) } catch { throw KMSError.storeUnavailable }
        guard let account else { return nil }
        do { try reload(accounts: [account]) } catch { throw KMSError.storeUnavailable }
        return credential(accessKeyId: accessKeyId)
    }

    /// The account as the store holds it now on a cluster node when this thread may read
    /// the store (IAM and STS calls run off the event loop), else as held in memory.
    /// IAM calls are administrative: one indexed read each buys read-your-writes.
    func freshAccount(_ account: String) -> AccountIdentities {
        if readThrough.mayReadNow == true { try? reload(accounts: [account]) }
        return self.account(account)
    }
}

/// A denied KMS request on a cluster node is judged again on the caller's identity
/// policies as the store holds them now (a PutUserPolicy or AttachRolePolicy through
/// another node may not have arrived yet).
extension IdentityRegistry: IdentityReadThrough {
    func freshIdentityPolicies(of caller: Caller) throws(KMSError) -> [CompiledPolicy]? {
        let principal = caller.principal
        guard principal.kind == .user || principal.kind == .assumedRole else { return nil }
        guard let mayRead = readThrough.mayReadNow else { return nil }
        guard mayRead else { throw KMSError.storeReadNeeded }
        do { try reload(accounts: [principal.account]) } catch { throw KMSError.storeUnavailable }
        let a = account(principal.account)
        switch principal.kind {
        case .user:
            guard let name = principal.username, let user = a.users[name], user.arn == principal.arn else { return [] }
            return (try? IdentityRegistry.identityPolicies(of: user, in: a)) ?? []
        default:
            // arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION; the role ID must still match.
            guard let roleArn = principal.roleArn, let name = roleArn.split(separator: "/").last.map(String.init),
                  let role = a.roles[name], role.arn == roleArn,
                  principal.userId?.hasPrefix(role.roleId + ":") ?? false else { return [] }
            return (try? IdentityRegistry.rolePolicies(role, in: a)) ?? []
        }
    }
}
