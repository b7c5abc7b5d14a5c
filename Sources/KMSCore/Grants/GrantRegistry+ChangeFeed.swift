/// Grants other nodes create, retire or revoke reach this node through the cluster's change
/// feed: each change names its key, whose grants are re-read (not the whole table).
extension GrantRegistry: StoreChangeFollower {
    public func storeChanged(_ objects: [StoreObject]) {
        var byKey: [String: (account: String, region: String, keyId: String, grantIds: [String])] = [:]
        for case .grant(let account, let region, let keyId, let grantId) in objects {
            byKey[account + "|" + region + "|" + keyId, default: (account, region, keyId, [])].grantIds.append(grantId)
        }
        for (_, k) in byKey {
            // A failed read leaves the memory as it was; the periodic reload repairs it.
            try? refresh(account: k.account, region: k.region, keyId: k.keyId, changedGrantIds: k.grantIds)
        }
    }

    public func storeChangedUnknown() { try? reload() }
}
