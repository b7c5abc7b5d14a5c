/// Grants other nodes create, retire or revoke reach this node through the cluster's change
/// feed: each change names its key, whose grants are re-read (not the whole table).
extension GrantRegistry: FallibleStoreChangeFollower {
    public func storeChanged(_ objects: [StoreObject]) { _ = reread(objects) }

    public func storeChangedUnknown() { _ = rereadAll() }

    /// False when a key's grants could not be read (ChangeFollowers retries; the node fails closed meanwhile).
    public func reread(_ objects: [StoreObject]) -> Bool {
        var ok = true
        var byKey: [String: (account: String, region: String, keyId: String, grantIds: [String])] = [:]
        for case .grant(let account, let region, let keyId, let grantId) in objects {
            byKey[account + "|" + region + "|" + keyId, default: (account, region, keyId, [])].grantIds.append(grantId)
        }
        for (_, k) in byKey {
            if (try? refresh(account: k.account, region: k.region, keyId: k.keyId, changedGrantIds: k.grantIds)) == nil {
                ok = false
            }
        }
        return ok
    }

    public func rereadAll() -> Bool { (try? reload()) != nil }
}
